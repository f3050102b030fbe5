"""Two drafts for the demo target, timed side by side on this CPU: DFlash at a fixed block size and auto.

    python scripts/cpu/ab_drafts.py DRAFT_A DRAFT_B PROMPTS RUNS [BLOCK]     (e.g. .work/d3/draft-q8 dflash_tui/demo/draft 12 5)

One target, two engines sharing it, and plain decoding, interleaved run by run (rotating order), greedy,
128 tokens. Prints each prompt's median over runs of tok/s / plain's (paired by round) for b16 and auto
with each draft, their tau, and the geometric means: which draft makes the app faster here, not only
which accepts more.
"""
import statistics, sys
from dflash_tui.engine.session import Engine
from dflash_tui.bench import run_once
from dflash_tui.train.evaluate import load_prompts
a_path, b_path, limit, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
block = int(sys.argv[5]) if len(sys.argv) > 5 else 16
base = Engine.load('dflash_tui/demo/target', a_path)
other = Engine.load('dflash_tui/demo/target', b_path)
eng = {"A": base, "B": Engine(base.target, base.tokenizer, other.draft)}
variants = [("plain", None, "plain"), ("A", "A", "dflash"), ("B", "B", "dflash"), ("A-auto", "A", "auto"),
            ("B-auto", "B", "auto")]
ps = load_prompts('dflash_tui/demo/heldout_prompts.jsonl', limit)
geo = {v[0]: [] for v in variants[1:]}
taus = {"A": [], "B": []}
for p in ps:
    ids = base.encode_chat(p['messages'])
    for name, e, mode in variants:  # warm up every path
        run_once(eng[e or "A"], ids, mode, 8, block if mode == "dflash" else None)
    r = {v[0]: [] for v in variants}
    for i in range(runs):
        order = variants[i % len(variants):] + variants[:i % len(variants)]
        for name, e, mode in order:
            s = run_once(eng[e or "A"], ids, mode, 128, block if mode == "dflash" else None)
            r[name].append(s.generation_tps)
            if mode == "dflash" and i == 0:
                taus[e].append(s.tau)
    line = []
    for name in geo:
        ratio = statistics.median(x / y for x, y in zip(r[name], r["plain"]))
        geo[name].append(ratio)
        line.append(f"{name} {ratio:.3f}")
    print(p['messages'][0]['content'][:32].ljust(32), *line, f"tau A {taus['A'][-1]:.2f} B {taus['B'][-1]:.2f}",
          flush=True)
print(f"A = {a_path}, B = {b_path}, block {block}, {runs} runs per prompt, ratios to plain paired by round")
for name in geo:
    print(f"{name:7s} geometric mean {statistics.geometric_mean(geo[name]):.3f}x plain, worst {min(geo[name]):.3f}x")
print(f"mean tau A {statistics.mean(taus['A']):.2f}, B {statistics.mean(taus['B']):.2f}")
