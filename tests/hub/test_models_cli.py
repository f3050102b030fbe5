"""`dflash-tui models ...` against the loopback hub.

The parser is built here from add_models_parser, exactly as cli.py builds it, so these
tests depend on this package only.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

from repo_names import DRAFT_REPO, GATED_REPO, QUANTIZED_REPO, TARGET_REPO

from dflash_tui.hub.cli_commands import add_models_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_CLI = Path(__file__).with_name("run_models_cli.py")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dflash-tui")
    add_models_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_pull_then_list_shows_the_model_in_a_table(hub_env, capsys):
    assert main(["models", "pull", QUANTIZED_REPO]) == 0
    pulled = capsys.readouterr()
    assert "models--mlx-community--Tiny-Qwen3-4bit/snapshots/" in pulled.out

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "KIND", "FAMILY", "PARAMS", "QUANT", "SIZE", "REVISION"]
    row = out[1].split()
    assert row[:3] == [QUANTIZED_REPO, "target", "qwen3"]
    assert row[3].endswith("~") and row[4:6] == ["4-bit", "g32"] and row[-1] == "main"


def test_pull_with_draft_fetches_the_paired_draft_and_checks_the_pair(hub_env, capsys):
    assert main(["models", "pair", TARGET_REPO, "--set", DRAFT_REPO]) == 0
    capsys.readouterr()

    assert main(["models", "pull", TARGET_REPO, "--with-draft"]) == 0

    out = capsys.readouterr().out
    assert "models--test-org--Tiny-Qwen3/snapshots/" in out and "models--z-lab--Tiny-Qwen3-DFlash/snapshots/" in out
    assert "compatible" in out


def test_pull_of_a_gated_repo_prints_one_line_and_fails(hub_env, capsys):
    assert main(["models", "pull", GATED_REPO]) == 1

    err = capsys.readouterr().err
    assert "error: meta-llama/Tiny-Llama is gated" in err and "Traceback" not in err


def test_rm_asks_first_and_keeps_the_model_on_no(hub_env, capsys, monkeypatch):
    main(["models", "pull", TARGET_REPO])
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))

    assert main(["models", "rm", TARGET_REPO]) == 1
    assert "nothing removed" in capsys.readouterr().out
    assert (hub_env / "models--test-org--Tiny-Qwen3").exists()

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert main(["models", "rm", TARGET_REPO]) == 0
    assert "removed test-org/Tiny-Qwen3 (1 revision(s)), freed 1.0 MB" in capsys.readouterr().out
    assert not (hub_env / "models--test-org--Tiny-Qwen3").exists()


def test_search_prints_downloads_size_date_and_dflash_status(hub_env, capsys):
    assert main(["models", "search", "qwen3", "--author", "mlx-community"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["REPO", "DOWNLOADS", "SIZE", "PARAMS", "UPDATED", "DFLASH"]
    assert out[1].split()[:2] == [QUANTIZED_REPO, "9000"] and out[1].split()[-3:] == ["4.2M", "2026-05-20", "-"]


def test_pair_checks_a_pulled_pair_and_reports_a_mismatch(hub_env, capsys):
    main(["models", "pull", TARGET_REPO])
    main(["models", "pull", DRAFT_REPO])
    capsys.readouterr()

    assert main(["models", "pair", TARGET_REPO, "--set", DRAFT_REPO]) == 0
    out = capsys.readouterr().out
    assert f"{TARGET_REPO} -> {DRAFT_REPO} (your choice)" in out and "compatible" in out

    assert main(["models", "pair", "mlx-community/Qwen3-8B-4bit"]) == 0
    assert "z-lab/Qwen3-8B-DFlash-b16 (registry)" in capsys.readouterr().out

    assert main(["models", "pair", DRAFT_REPO, "--set", TARGET_REPO]) == 1
    assert "mismatch: not a DFlash draft" in capsys.readouterr().err


def test_cli_follows_hf_endpoint_and_hf_home_from_the_environment(hub, tmp_path):
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"),
           "DFLASH_TUI_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HF_TOKEN", None)

    def run(*args):
        return subprocess.run([sys.executable, str(MODELS_CLI), "models", *args], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=120)

    pulled = run("pull", DRAFT_REPO)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.startswith(str(tmp_path / "hf" / "hub"))
    listed = run("list")
    assert listed.stdout.splitlines()[1].split()[:2] == [DRAFT_REPO, "draft"]
