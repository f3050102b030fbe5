"""Engine tests run real tiny MLX models (hidden 64, 4 layers) built once per session.

Targets: `qwen3` (pure attention) and `qwen3_5` (hybrid: GatedDeltaNet layers 0-2, attention layer 3),
plus `llama` for the parity tests, sharing one tokenizer; each has a random 2-layer DFlash draft
tapping target layers 1 and 2.
"""

from pathlib import Path

import pytest

from dflash_tui.mlx_setup import load_openblas

load_openblas()  # before anything imports mlx

from dflash_tui.synthetic import build_draft, build_target  # noqa: E402
from engine_testkit import ALL_FAMILIES, FAMILIES, fresh_engine  # noqa: E402



@pytest.fixture(scope="session")
def model_paths(tmp_path_factory) -> dict[str, Path]:
    """'<family>' (targets) and '<family>-draft' (legacy-schema drafts) for every family."""
    root = tmp_path_factory.mktemp("models")
    paths = {"qwen3": build_target(root / "qwen3", "qwen3")}
    paths["qwen3_5"] = build_target(root / "qwen3_5", "qwen3_5", tokenizer_dir=paths["qwen3"])
    # more peaked logits: at the default scale this random llama ties (top-2 < 1e-3) on a test prompt's first token
    paths["llama"] = build_target(root / "llama", "llama", tokenizer_dir=paths["qwen3"], logit_scale=6.0)
    for family in ALL_FAMILIES:
        paths[f"{family}-draft"] = build_draft(root / f"{family}-draft", paths[family], num_layers=2,
                                               target_layer_ids=[1, 2], schema="legacy")
    return paths


@pytest.fixture(scope="session")
def engines(model_paths):
    """One loaded Engine per family; tests take fresh_engine(...) of it rather than its state."""
    from dflash_tui.engine.session import Engine

    return {family: Engine.load(model_paths[family], model_paths[f"{family}-draft"]) for family in ALL_FAMILIES}


@pytest.fixture(params=FAMILIES)
def engine(request, engines):
    """A new Engine per test over each family's loaded weights: no cached conversation, no learned policy."""
    return fresh_engine(engines[request.param])
