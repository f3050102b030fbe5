"""`bench --policy`: the auto policy, plain decoding and each fixed block size on the same prompts."""

from __future__ import annotations

import dataclasses
import json

from dflash_tui.bench import format_policy_table, policy_to_json, run_policy_bench


def test_policy_bench_reports_auto_plain_and_each_fixed_size(engine):
    results = run_policy_bench(engine, ["hello fox"], runs=2, max_tokens=12, block_sizes=[4, 8],
                               progress=lambda m: None)
    [r] = results
    assert set(r.fixed) == {4, 8}
    assert r.plain.generation_tps > 0 and r.auto.generation_tps > 0 and r.control.generation_tps > 0
    assert r.auto_vs_plain == r.auto.generation_tps / r.plain.generation_tps
    assert r.auto_vs_best_fixed == r.auto.generation_tps / max(m.generation_tps for m in r.fixed.values())
    assert sum(r.auto_blocks.values()) > 0 and set(r.auto_blocks) <= {1, 4, 8, 16}
    table = format_policy_table(results)
    assert "auto/plain" in table and "b4" in table and "b8" in table and "noise floor" in table
    best = dataclasses.replace(r, stat="best")
    assert best.auto_vs_plain == r.auto.best_generation_tps / r.plain.best_generation_tps
    assert "fastest run" in format_policy_table([best])
    assert set(r.paired) == {"auto", "b4", "b8", "control"} and all(v > 0 for v in r.paired.values())
    assert "paired: worst auto/plain" in table
    data = json.loads(policy_to_json(results, {"runs": 2}))
    assert data["results"][0]["fixed"].keys() == {"4", "8"}
    assert data["worst_auto_vs_plain"] == r.auto_vs_plain
    # the prompt set as one job: answer tokens over tok/s, per variant
    seconds = data["workload_seconds"]
    assert seconds.keys() == {"plain", "auto", "b4", "b8"}
    assert abs(seconds["plain"] - r.plain.generated_tokens / r.plain.generation_tps) < 1e-9
    assert "workload (all 1 prompts, total time): auto/plain" in table
