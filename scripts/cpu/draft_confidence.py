"""Does the draft's own confidence predict how many drafts the target accepts (greedy, b16)?

    python scripts/cpu/draft_confidence.py [DRAFT] [PROMPTS]      (default: the demo draft, 40 prompts)

Every b16 cycle of greedy DFlash on the held-out prompts: the draft's top probability per block position
(its confidence) against the drafts the target accepted. Prints their correlation, accepted drafts by the
confidence-predicted count (the sum over k of the product of top probabilities up to k) and by the first
position's top probability alone. A confident draft pass could decide, before any verify, whether a cycle
is worth running (the policy's short answers are where that would count).
"""
import json, statistics, sys
import numpy as np
import dflash_tui  # noqa: OpenBLAS first
from dflash_tui.engine import decode
from dflash_tui.engine.session import Engine
from dflash_tui.bench import run_once
from dflash_tui.train.evaluate import load_prompts
from dflash_tui.mlx_setup import import_mlx
mx = import_mlx()
draft_path = sys.argv[1] if len(sys.argv) > 1 else 'dflash_tui/demo/draft'
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 40
eng = Engine.load('dflash_tui/demo/target', draft_path)
rows = []
stash = {}
orig_logits = decode.draft_logits
def draft_logits(target, draft, state):
    run = orig_logits(target, draft, state)
    def wrapped(staged, offset, b):
        out = run(staged, offset, b)
        stash['probs'] = mx.softmax(out.astype(mx.float32), axis=-1)
        return out
    return wrapped
decode.draft_logits = draft_logits
orig_accept = decode.accept_greedy
def accept_greedy(drafts, posterior):
    a = orig_accept(drafts, posterior)
    if 'probs' in stash and stash['probs'].shape[0] == len(drafts):
        pr = np.array(stash['probs'].max(axis=-1).tolist())
        rows.append((pr.tolist(), a, len(drafts)))
    return a
decode.accept_greedy = accept_greedy
for p in load_prompts('dflash_tui/demo/heldout_prompts.jsonl', limit):
    ids = eng.encode_chat(p['messages'])
    run_once(eng, ids, 'dflash', 128, 16)
pred = np.array([np.cumprod(pr).sum() for pr, a, n in rows])
act = np.array([a for pr, a, n in rows])
print("cycles", len(rows), "corr", np.corrcoef(pred, act)[0, 1], "mean pred", pred.mean(), "mean actual", act.mean())
for lo, hi in [(0, 0.5), (0.5, 1), (1, 2), (2, 4), (4, 8), (8, 16)]:
    m = (pred >= lo) & (pred < hi)
    if m.any():
        print(f"pred in [{lo},{hi}): {m.sum():4d} cycles, actual mean {act[m].mean():.2f}, pred mean {pred[m].mean():.2f}")
# first-position confidence alone
p1 = np.array([pr[0] for pr, a, n in rows])
for lo, hi in [(0, .3), (.3, .5), (.5, .7), (.7, .9), (.9, 1.01)]:
    m = (p1 >= lo) & (p1 < hi)
    if m.any():
        print(f"p1 in [{lo},{hi}): {m.sum():4d}, P(accept>=1) {(act[m] >= 1).mean():.2f}, actual mean {act[m].mean():.2f}")
