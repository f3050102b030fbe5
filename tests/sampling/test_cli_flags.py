"""The CLI flags for sampling and the drafting policy reach the engine, and their effect is visible."""

from __future__ import annotations

import json

from dflash_tui.cli import main


def test_generate_in_auto_mode_with_sampling_prints_the_policy_reason(small_vocab_pair, capsys, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("DFLASH_TUI_HOME", str(tmp_path))
    target, draft = small_vocab_pair
    args = ["generate", "hello fox", "--target", str(target), "--draft", str(draft), "--max-tokens", "24",
            "--mode", "auto", "--temperature", "0.7", "--top-p", "0.9", "--top-k", "50", "--min-p", "0.01",
            "--repetition-penalty", "1.1", "--seed", "3"]
    assert main(args) == 0
    res = capsys.readouterr()
    assert res.out.strip()
    assert "auto:" in res.err  # the policy's reason is on the stats line


def test_bench_policy_writes_fixed_sizes_auto_and_control(small_vocab_pair, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DFLASH_TUI_HOME", str(tmp_path))
    target, draft = small_vocab_pair
    out = tmp_path / "policy.json"
    assert main(["bench", "--policy", "--target", str(target), "--draft", str(draft), "--runs", "1",
                 "--max-tokens", "8", "--limit", "1", "--block-sizes", "4,16", "--stat", "best",
                 "--json", str(out)]) == 0
    assert "auto/plain" in capsys.readouterr().out
    row = json.loads(out.read_text())["results"][0]
    assert set(row["fixed"]) == {"4", "16"} and row["stat"] == "best"
    assert row["control"]["generation_tps"] > 0
