"""A/B on this CPU: the auto policy with and without shadow probes, sampled with a seed (the coupled rule).

    python scripts/cpu/ab_shadow_probes.py TEMPERATURE PROMPTS RUNS [RULE]     (e.g. 0.7 8 5, or 0.7 12 7 block)

RULE block or rejection: the estimated shadow probes of unseeded sampling (the seed then only repeats runs).

Two engines over the same demo models, one with shadow probes switched off, and plain decoding, interleaved
run by run (rotating order, seed = run index); prints each prompt's median over runs of auto tok/s / plain's.
`dflash-tui bench --replay` covers greedy decoding without a clock; this is the timed check for sampling.
"""
import statistics, sys
from dflash_tui.engine.session import Engine
from dflash_tui.bench import run_once
from dflash_tui.train.evaluate import load_prompts
base = Engine.load('dflash_tui/demo/target', 'dflash_tui/demo/draft')
temp = float(sys.argv[1]); limit = int(sys.argv[2]); runs = int(sys.argv[3])
rule = sys.argv[4] if len(sys.argv) > 4 else None
from dflash_tui.engine.sampling import SamplingParams
eng = {"shadow": Engine(base.target, base.tokenizer, base.draft), "noshadow": Engine(base.target, base.tokenizer, base.draft)}
eng["noshadow"].policy(sampling=SamplingParams(temperature=temp, seed=0, rule=rule)).shadow = False
ps = load_prompts('dflash_tui/demo/heldout_prompts.jsonl', limit)
geo = {"shadow": [], "noshadow": []}
for p in ps:
    ids = base.encode_chat(p['messages'])
    for e in eng.values():
        run_once(e, ids, 'auto', 8, None, temp, 0, rule)
    run_once(base, ids, 'plain', 8, None, temp, 0, rule)
    r = {"plain": [], "shadow": [], "noshadow": []}
    for i in range(runs):
        order = ["plain", "shadow", "noshadow"][i % 3:] + ["plain", "shadow", "noshadow"][:i % 3]
        for v in order:
            e = base if v == "plain" else eng[v]
            s = run_once(e, ids, 'plain' if v == 'plain' else 'auto', 128, None, temp, i, rule)
            r[v].append(s.generation_tps)
    line = []
    for v in ("shadow", "noshadow"):
        ratio = statistics.median(a / b for a, b in zip(r[v], r["plain"]))
        geo[v].append(ratio); line.append(f"{v} {ratio:.3f}")
    print(p['messages'][0]['content'][:32], *line, flush=True)
for v in geo:
    print(v, "geo auto/plain (paired)", round(statistics.geometric_mean(geo[v]), 3), "worst", round(min(geo[v]), 3))
