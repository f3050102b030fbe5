"""The drafting policy's constants swept on the recorded traces (no clock: policy_replay's cost model).

    python scripts/cpu/policy_constant_sweep.py '{"SHADOW_BUDGET": [0.05, 0.03], "SHADOW_FALLOFF": [1.0, 2.0]}'

For each combination (constants of dflash_tui/engine/policy.py patched in), on the 128- and 512-token traces:
(prompts within both bounds of 80, (workload all: auto/plain, auto/best fixed), (geometric means),
worst prompt auto/plain, worst workload auto/plain, worst workload auto/best fixed). About 1 s a replay.
"""
import itertools
import json
import sys
from pathlib import Path

from dflash_tui import policy_replay as pr
from dflash_tui.engine import policy as pol

TRACES = ("tests/data/demo_policy_traces.json", "tests/data/demo_policy_traces_512.json")


def replay(path: str) -> tuple:
    traces, costs = pr.load_traces(Path(path))
    sizes = sorted(k for k in costs if k > 1)
    res = pr.replay_bench(traces, costs, runs=pr.BENCH_RUNS, policy=pol.BlockPolicy(max(sizes), shadow=True))
    within = sum(1 for r in res if r.auto_vs_plain >= 0.97 and r.auto_vs_best_fixed >= 0.95)
    loads = {w.name: (round(w.auto_vs_plain, 3), round(w.auto_vs_best_fixed, 3)) for w in pr.workloads(res)}
    means = tuple(round(pr.geometric_mean(xs), 3) for xs in ([r.auto_vs_plain for r in res],
                                                            [r.auto_vs_best_fixed for r in res]))
    return (within, loads["all"], means, round(min(r.auto_vs_plain for r in res), 3),
            min(v[0] for v in loads.values()), min(v[1] for v in loads.values()))


def main() -> None:
    grid = json.loads(sys.argv[1])
    for values in itertools.product(*grid.values()):
        for name, value in zip(grid, values):
            setattr(pol, name, value)
        print(dict(zip(grid, values)), *(f"{Path(p).stem}: {replay(p)}" for p in TRACES), flush=True)


if __name__ == "__main__":
    main()
