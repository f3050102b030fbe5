"""Every app test runs with its own DFLASH_TUI_HOME, so nothing touches the user's files."""

import pytest


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DFLASH_TUI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
