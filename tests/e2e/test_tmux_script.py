"""scripts/tmux_e2e.sh in CI: the real CLI in a real terminal, typed at through tmux."""

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "tmux_e2e.sh"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_the_app_streams_stops_and_reloads_in_a_real_terminal(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    stopped = (tmp_path / "3-stopped.txt").read_text()
    assert "hello from tmux" in stopped and "■ stopped" in stopped and "tok/s" in stopped
    assert "■ stopped" in (tmp_path / "4-restarted.txt").read_text()
