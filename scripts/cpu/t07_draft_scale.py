"""Is the draft's own q the best proposal at T 0.7? Its logits scaled before the drafts are drawn (still exact).

    python scripts/cpu/t07_draft_scale.py PROMPTS SEEDS      (e.g. 40 0,1)

Scales (first block position, later positions) of 1 keep the draft as it is; below 1 flatten its q (the
distribution a draft trained to match the target's sampled chain would lean towards), above 1 sharpen it
(t07_block_vs_rejection.py's notes). Held-out tau under the block rule, demo pair, 128 tokens max.
"""
import json, sys
import dflash_tui  # noqa
from dflash_tui.engine import decode
from dflash_tui.engine.session import Engine
from dflash_tui.train.evaluate import heldout_tau, load_prompts
from dflash_tui.mlx_setup import import_mlx
mx = import_mlx()
limit = int(sys.argv[1]); seeds = [int(s) for s in sys.argv[2].split(",")]
orig = decode.draft_tokens
eng = Engine.load('dflash_tui/demo/target', 'dflash_tui/demo/draft')
P = load_prompts('dflash_tui/demo/heldout_prompts.jsonl', limit)
for f1, f2 in [(1.0, 1.0), (1.0, 0.85), (0.85, 0.85), (1.0, 0.7)]:
    def dt(logits, params, history, keys, f1=f1, f2=f2):
        scale = mx.concatenate([mx.array([f1]), mx.full((logits.shape[0] - 1,), f2)])[:, None]
        return orig(logits * scale, params, history, keys)
    decode.draft_tokens = dt
    taus = [heldout_tau(eng, P, 128, temperature=0.7, seed=s, rule="block")["all"]["tau"] for s in seeds]
    print(json.dumps({"first": f1, "later": f2, "taus": taus}), flush=True)
