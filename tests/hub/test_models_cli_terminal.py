"""`dflash-tui models pull` in a real terminal (tmux): a progress bar, Ctrl-C keeps the partial, rerun resumes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from repo_names import TARGET_REPO

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_CLI = Path(__file__).with_name("run_models_cli.py")


def wait_for_screen(session: str, predicate, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                text=True).stdout
        if predicate(screen) or time.monotonic() > deadline:
            return screen
        time.sleep(0.1)


@pytest.fixture
def terminal(hub, tmp_path):
    session = f"dflash-hub-{tmp_path.name}"[:60]
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "DFLASH_TUI_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(REPO_ROOT)}
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "20",
                    f"env {exports} bash --norc"], check=True)
    yield session
    subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def test_ctrl_c_during_pull_keeps_the_partial_and_the_rerun_resumes(hub, terminal, tmp_path):
    hub.trickle_seconds["model.safetensors"] = 0.25  # seconds per 16 KiB: Ctrl-C lands mid-file even on a busy machine
    pull = f"{sys.executable} {MODELS_CLI} models pull {TARGET_REPO}"
    subprocess.run(["tmux", "send-keys", "-t", terminal, pull, "Enter"], check=True)

    screen = wait_for_screen(terminal, lambda s: "1/5 files" in s and "%|" in s)
    assert f"{TARGET_REPO}:" in screen and "B/s" in screen
    deadline = time.monotonic() + 30
    while not hub.ranges_for("model.safetensors") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # a few trickled chunks reach the partial file before Ctrl-C
    subprocess.run(["tmux", "send-keys", "-t", terminal, "C-c"], check=True)
    screen = wait_for_screen(terminal, lambda s: "partial download is kept" in s)
    assert "Traceback" not in screen and "run the same pull to resume" in screen

    hub.trickle_seconds.clear()
    subprocess.run(["tmux", "send-keys", "-t", terminal, "clear; " + pull, "Enter"], check=True)
    screen = wait_for_screen(terminal, lambda s: "/snapshots/" in s)

    assert "100%" in screen and "5/5 files" in screen
    first, resumed = hub.ranges_for("model.safetensors")
    assert first is None and resumed.startswith("bytes=")
