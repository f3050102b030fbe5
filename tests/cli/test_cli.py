"""The command line a user runs: generate streams text and stats, bench prints a table and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dflash_tui.synthetic import build_draft, build_target


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli_models")
    target = build_target(root / "target", "qwen3")
    draft = build_draft(root / "draft", target, num_layers=2, target_layer_ids=[1, 2])
    return target, draft


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DFLASH_TUI_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "dflash_tui.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_generate_streams_text_and_prints_stats_line(pair, tmp_path):
    target, draft = pair
    res = run_cli("generate", "hello fox", "--target", str(target), "--draft", str(draft),
                  "--max-tokens", "24", "--mode", "dflash", home=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip(), "no text streamed"
    assert "[dflash] 24 tokens" in res.stderr
    assert "tau" in res.stderr and "tok/s" in res.stderr


def test_generate_plain_mode_matches_dflash_text(pair, tmp_path):
    target, draft = pair
    args = ("generate", "the lazy dog", "--target", str(target), "--draft", str(draft), "--max-tokens", "32")
    dflash = run_cli(*args, "--mode", "dflash", home=tmp_path)
    plain = run_cli(*args, "--mode", "plain", home=tmp_path)
    auto = run_cli(*args, home=tmp_path)
    assert dflash.returncode == plain.returncode == auto.returncode == 0
    assert dflash.stdout == plain.stdout == auto.stdout
    assert "[plain]" in plain.stderr


def test_generate_by_default_runs_the_drafting_policy_and_says_what_it_chose(pair, tmp_path):
    target, draft = pair
    res = run_cli("generate", "hello fox", "--target", str(target), "--draft", str(draft), "--max-tokens", "48",
                  home=tmp_path)
    assert res.returncode == 0, res.stderr
    stats = res.stderr.strip().splitlines()[-1]
    assert stats.startswith(("[dflash]", "[plain]")) and "(" in stats  # the policy's reason is on the line


def test_bench_prints_table_and_json_with_speedup(pair, tmp_path):
    target, draft = pair
    out = tmp_path / "bench.json"
    res = run_cli("bench", "--target", str(target), "--draft", str(draft), "--runs", "1", "--max-tokens", "16",
                  "--limit", "1", "--json", str(out), home=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "plain tok/s" in res.stdout and "speedup" in res.stdout
    data = json.loads(out.read_text())
    row = data["results"][0]
    assert row["plain"]["generation_tps"] > 0 and row["dflash"]["generation_tps"] > 0
    assert row["speedup"] == pytest.approx(row["dflash"]["generation_tps"] / row["plain"]["generation_tps"])
    assert set(row["dflash"]["phase_share"]) == {"draft", "verify", "rollback", "other"}
    # one prompt: the workload's total-time speedup is that prompt's (tokens over tok/s on both sides)
    want = (row["plain"]["generated_tokens"] / row["plain"]["generation_tps"]) / \
        (row["dflash"]["generated_tokens"] / row["dflash"]["generation_tps"])
    assert data["workload_speedup"] == pytest.approx(want) and "workload (all 1 prompts" in res.stdout


def test_generate_with_missing_model_says_what_to_do(tmp_path):
    res = run_cli("generate", "hi", "--target", str(tmp_path / "nope"), home=tmp_path)
    assert res.returncode != 0
    assert "no such folder" in res.stderr
    assert "Traceback" not in res.stderr


def test_generate_with_mismatched_draft_names_the_mismatch(pair, tmp_path):
    target, _ = pair
    other = build_target(tmp_path / "other", "qwen3", hidden_size=32, heads=2, kv_heads=1)
    wrong = build_draft(tmp_path / "wrong_draft", other, num_layers=1, target_layer_ids=[1])
    res = run_cli("generate", "hi", "--target", str(target), "--draft", str(wrong), home=tmp_path)
    assert res.returncode != 0
    assert "hidden" in res.stderr.lower()
    assert "Traceback" not in res.stderr
