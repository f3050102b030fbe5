"""The CLI flags for sampling and the drafting policy reach the engine, and their effect is visible."""

from __future__ import annotations

import json

import pytest

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


def test_generate_with_a_seed_prints_the_same_text_in_every_mode(small_vocab_pair, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DFLASH_TUI_HOME", str(tmp_path))
    target, draft = small_vocab_pair
    common = ["generate", "hello fox", "--target", str(target), "--draft", str(draft), "--max-tokens", "24",
              "--temperature", "0.7", "--top-p", "0.9", "--seed", "5"]
    texts = []
    for extra in (["--mode", "plain"], ["--mode", "auto"], ["--mode", "dflash", "--block-size", "4"],
                  ["--mode", "dflash", "--block-size", "4", "--rule", "coupled"]):
        assert main(common + extra) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0].strip() and texts.count(texts[0]) == len(texts)
    assert main(common + ["--mode", "dflash", "--block-size", "4", "--rule", "rejection"]) == 0
    assert capsys.readouterr().out.strip()


def test_generate_rejects_an_unknown_rule(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "hi", "--rule", "gumbel"])
    assert exc.value.code == 2 and "--rule" in capsys.readouterr().err
