"""End-to-end tests: a real tiny model pair on the real engine, with a private DFLASH_TUI_HOME."""

import pytest

from dflash_tui.synthetic import build_draft, build_target


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory):
    """A random-weight qwen3 target and its DFlash draft: (target_dir, draft_dir)."""
    folder = tmp_path_factory.mktemp("tiny-pair")
    build_target(folder / "target", "qwen3")
    build_draft(folder / "draft", folder / "target")
    return folder / "target", folder / "draft"


@pytest.fixture(autouse=True)
def home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DFLASH_TUI_HOME", str(home))
    return home
