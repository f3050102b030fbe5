"""Every app test runs with its own DFLASH_TUI_HOME and an empty Hugging Face cache,
so nothing touches (or depends on) the user's files."""

import huggingface_hub.constants
import huggingface_hub.utils._cache_manager
import pytest


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DFLASH_TUI_HOME", str(tmp_path / "home"))
    for module in (huggingface_hub.constants, huggingface_hub.utils._cache_manager):
        monkeypatch.setattr(module, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path / "home"
