"""Sampling and policy tests: a tiny qwen3 pair with a 300-token vocabulary, built once per session.

A small vocabulary keeps the token distributions countable, so the statistical
tests can compare empirical counts with the target's exact distribution.
"""

from pathlib import Path

import pytest

from dflash_tui.mlx_setup import load_openblas

load_openblas()  # before anything imports mlx

from dflash_tui.synthetic import build_draft, build_target  # noqa: E402


@pytest.fixture(scope="session")
def small_vocab_pair(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sampling-models")
    target = build_target(root / "target", "qwen3", vocab_size=300)
    draft = build_draft(root / "draft", target, num_layers=2, target_layer_ids=[1, 2])
    return target, draft


@pytest.fixture(scope="session")
def small_engine(small_vocab_pair):
    from dflash_tui.engine.session import Engine

    return Engine.load(*small_vocab_pair)


@pytest.fixture
def engine(small_engine):
    """A fresh Engine over the loaded models: no cached conversation, no learnt drafting policy."""
    from dflash_tui.engine.session import Engine

    return Engine(small_engine.target, small_engine.tokenizer, small_engine.draft)
