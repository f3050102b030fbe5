"""The block rule against token-by-token rejection on the same cycles, without sampling noise.

    python scripts/cpu/t07_block_vs_rejection.py SEED PROMPTS      (e.g. 0 80)

Runs the demo pair's held-out prompts at T 0.7 under the block rule and, at every cycle, computes from its p, q
and drafts the expected number of kept drafts under both rules (block: from the odds h of block_verification;
rejection: the sum over i of the product of min(1, p/q) up to i), so the two rules are compared on identical
drafts, not on two sampled runs.
"""
import json, sys
import numpy as np
import dflash_tui  # noqa
from dflash_tui.engine import decode
from dflash_tui.engine.sampling import block_verification
from dflash_tui.engine.session import Engine
from dflash_tui.train.evaluate import heldout_tau, load_prompts
from dflash_tui.mlx_setup import import_mlx
mx = import_mlx()
seed, limit = int(sys.argv[1]), int(sys.argv[2])
rows = []
orig = decode.accept_block
def accept_block(p, q, drafts, keys):
    n = len(drafts)
    h, _ = block_verification(p, q, drafts)
    h = np.array(h.tolist())
    tail = np.concatenate([np.cumprod((1 - h[::-1]))[::-1][1:], [1.0]])  # prod_{j>i} (1 - h_j)
    block = sum(i * h[i] * tail[i] for i in range(n + 1))
    idx = mx.array(drafts)[:, None]
    ratio = np.array((mx.take_along_axis(p[:n], idx, axis=-1)[:, 0] / mx.take_along_axis(q, idx, axis=-1)[:, 0]).tolist())
    rej = np.cumprod(np.minimum(ratio, 1.0)).sum()
    rows.append((block, rej))
    return orig(p, q, drafts, keys)
decode.accept_block = accept_block
eng = Engine.load('dflash_tui/demo/target', 'dflash_tui/demo/draft')
r = heldout_tau(eng, load_prompts('dflash_tui/demo/heldout_prompts.jsonl', limit), 128, temperature=0.7, seed=seed,
                rule="block")
b, j = np.array(rows).T
print(json.dumps({"seed": seed, "prompts": limit, "cycles": len(rows), "expected_kept_block": round(b.mean(), 4),
                  "expected_kept_rejection": round(j.mean(), 4), "ratio": round(b.mean() / j.mean(), 4),
                  "tau_if_block": round(1 + b.mean(), 3), "tau_if_rejection": round(1 + j.mean(), 3),
                  "measured_tau": r["all"]["tau"]}))
