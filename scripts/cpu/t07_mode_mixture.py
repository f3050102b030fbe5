"""A proposal that sharpens only on the draft's own mode path, at T 0.7 (still exact).

    python scripts/cpu/t07_mode_mixture.py PROMPTS SEEDS ALPHAS      (e.g. 40 0,1 0,0.3,0.6)

The draft's q_i at a later position is a marginal over the prefixes it cannot see, so it is flatter than the
target's p_i given the draft's own likely prefix. Proposal: with probability alpha the block of the draft's
modes, else every position drawn from q_i. Its exact conditional at position i given the drafted prefix is
w_i onehot(mode_i) + (1 - w_i) q_i, with w_i = alpha [prefix = modes] / (alpha [prefix = modes] + (1 - alpha)
prod_{j<i} q_j(x_j)): sharp while the prefix follows the modes, the draft's own q once it leaves them.
alpha 0 is the engine as it is. Held-out tau under the block rule, demo pair, 128 tokens max.
"""
import json, sys
import dflash_tui  # noqa
from dflash_tui.engine import decode
from dflash_tui.engine.sampling import draw, token_distribution
from dflash_tui.engine.session import Engine
from dflash_tui.train.evaluate import heldout_tau, load_prompts
from dflash_tui.mlx_setup import import_mlx
mx = import_mlx()
limit = int(sys.argv[1]); seeds = [int(s) for s in sys.argv[2].split(",")]
alphas = [float(a) for a in sys.argv[3].split(",")]
orig = decode.draft_tokens
eng = Engine.load('dflash_tui/demo/target', 'dflash_tui/demo/draft')
P = load_prompts('dflash_tui/demo/heldout_prompts.jsonl', limit)


def mixture(logits, params, history, keys, alpha):
    assert not params.penalized
    q = token_distribution(logits, params)  # [T, V]
    modes = mx.argmax(q, axis=-1)
    on_modes = mx.random.uniform(key=keys.next()).item() < alpha
    tokens = modes if on_modes else draw(q, keys.next())
    picked = mx.take_along_axis(q, tokens[:, None], axis=-1)[:, 0]
    before = mx.concatenate([mx.ones((1,)), mx.cumprod(picked)[:-1]])  # prod_{j<i} q_j(x_j)
    same = mx.concatenate([mx.array([True]), mx.cumprod((tokens == modes).astype(mx.float32))[:-1] > 0])
    w = mx.where(same, alpha / (alpha + (1 - alpha) * before), 0.0)[:, None]
    onehot = mx.put_along_axis(mx.zeros(q.shape), modes[:, None], mx.array(1.0), axis=-1)
    q2 = w * onehot + (1 - w) * q
    mx.eval(q2, tokens)
    return q2, tokens.tolist()


for alpha in alphas:
    decode.draft_tokens = (lambda l, p, h, k, a=alpha: mixture(l, p, h, k, a)) if alpha > 0 else orig
    taus = [heldout_tau(eng, P, 128, temperature=0.7, seed=s, rule="block")["all"]["tau"] for s in seeds]
    print(json.dumps({"alpha": alpha, "taus": taus}), flush=True)
