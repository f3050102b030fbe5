"""Fixtures for the model-management tests: tiny real models behind a loopback hub.

huggingface_hub reads HF_ENDPOINT, HF_HUB_CACHE and HF_HUB_OFFLINE once, when it is
first imported (and other test modules import it first), so `hub_env` sets the
module constants it derived from them instead; subprocess tests pass the real
environment variables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from loopback_hub import LoopbackHub  # noqa: E402
from repo_names import DRAFT_REPO, GATED_REPO, QUANTIZED_REPO, TARGET_REPO  # noqa: E402

NOT_A_MODEL_FILES = {"README.md": b"# tiny\n", "pytorch_model.bin": b"\0" * 4096,
                     "original/params.json": b"{}"}


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    """A tiny qwen3 target, its 4-bit MLX conversion, and a DFlash draft for it."""
    from mlx_lm import convert

    from dflash_tui.synthetic import build_draft, build_target

    root = tmp_path_factory.mktemp("models")
    target = build_target(root / "tiny-qwen3", "qwen3", hidden_size=64, num_layers=4)
    quantized = root / "tiny-qwen3-4bit"
    convert(str(target), str(quantized), quantize=True, q_group_size=32, q_bits=4)
    draft = build_draft(root / "tiny-qwen3-dflash", target, num_layers=2)
    return {"target": target, "quantized": quantized, "draft": draft}


@pytest.fixture
def hub(model_dirs):
    with LoopbackHub() as server:
        server.add_repo(TARGET_REPO, model_dirs["target"], NOT_A_MODEL_FILES, downloads=500,
                        last_modified="2026-04-02T10:00:00.000Z")
        server.add_repo(QUANTIZED_REPO, model_dirs["quantized"], downloads=9000, parameters=4_200_000,
                        last_modified="2026-05-20T08:30:00.000Z")
        server.add_repo(DRAFT_REPO, model_dirs["draft"], downloads=120)
        server.add_repo(GATED_REPO, model_dirs["target"], gated=True)
        yield server


@pytest.fixture
def hub_env(hub, tmp_path, monkeypatch):
    """Point huggingface_hub at the loopback hub and a fresh cache; keep dflash-tui's files in tmp."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("DFLASH_TUI_HOME", str(tmp_path / "dflash-home"))
    return tmp_path / "hf" / "hub"
