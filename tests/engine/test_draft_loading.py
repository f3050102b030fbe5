"""Loading a DFlash draft: both z-lab config schemas work; every broken or mismatched pair says what is wrong."""

import json
import shutil
from pathlib import Path

import pytest

from dflash_tui.engine.draft import load_draft
from dflash_tui.engine.errors import IncompatiblePairError, ModelLoadError, UnsupportedModelError
from dflash_tui.engine.session import Engine
from dflash_tui.synthetic import build_draft
from engine_testkit import chat_ids, mx, summary_of

SCHEMAS = ("legacy", "nested")


@pytest.fixture(scope="module")
def schema_drafts(model_paths, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """The same random draft (same seed) written in each schema, for each target family."""
    root = tmp_path_factory.mktemp("schema-drafts")
    return {(family, schema): build_draft(root / f"{family}-{schema}", model_paths[family], num_layers=2,
                                          target_layer_ids=[1, 2], schema=schema)
            for family in ("qwen3", "qwen3_5") for schema in SCHEMAS}


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("family", ["qwen3", "qwen3_5"])
def test_draft_in_each_z_lab_schema_loads_and_runs(model_paths, schema_drafts, family, schema):
    engine = Engine.load(model_paths[family], schema_drafts[family, schema])
    cfg = engine.draft.config
    assert (cfg.block_size, cfg.target_layer_ids, cfg.rope_theta) == (16, [1, 2], 10000.0)
    assert cfg.mask_token_id == engine.tokenizer.convert_tokens_to_ids("<|mask|>")
    summary = summary_of(list(engine.generate(chat_ids(engine, "hi"), max_tokens=20, mode="dflash")))
    assert summary.mode == "dflash" and summary.cycles > 0 and len(summary.token_ids) == 20


def test_legacy_and_nested_schemas_read_the_same_settings(schema_drafts):
    legacy, nested = (load_draft(schema_drafts["qwen3", s]) for s in SCHEMAS)
    assert legacy.config == nested.config


# ---- broken drafts: each mutation of a good draft folder, and what the error must say ----

def edit_config(folder: Path, change) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    change(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


def edit_weights(folder: Path, change) -> None:
    f = folder / "model.safetensors"
    weights = dict(mx.load(str(f)))
    change(weights)
    mx.save_safetensors(str(f), weights)


def rename_tensor(weights):
    weights["fc_in.weight"] = weights.pop("fc.weight")


def reshape_tensor(weights):
    weights["layers.1.mlp.up_proj.weight"] = weights["layers.1.mlp.up_proj.weight"][:-8]


def truncate(folder: Path) -> None:
    f = folder / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def set_dflash(key, value):
    return lambda cfg: cfg["dflash_config"].__setitem__(key, value)


BROKEN_DRAFTS = {
    # name: (mutation of the draft folder, error class, fragments the message must contain)
    "wrong tensor name": (lambda d: edit_weights(d, rename_tensor), ModelLoadError,
                          ["tensor names", "fc_in.weight", "fc.weight"]),
    "wrong tensor shape": (lambda d: edit_weights(d, reshape_tensor), ModelLoadError,
                           ["layers.1.mlp.up_proj.weight", "(184, 64)", "(192, 64)"]),
    "vocab mismatch": (lambda d: edit_config(d, lambda c: c.__setitem__("vocab_size", 1000)),
                       IncompatiblePairError, ["draft vocab 1000 != target vocab"]),
    "taps beyond the target's depth": (lambda d: edit_config(d, set_dflash("target_layer_ids", [1, 7])),
                                       IncompatiblePairError, ["[7]", "layers 0..3"]),
    "mask token outside the vocabulary": (lambda d: edit_config(d, set_dflash("mask_token_id", 100000)),
                                          IncompatiblePairError, ["mask token 100000", "outside"]),
    "truncated safetensors": (truncate, ModelLoadError, ["model.safetensors", "truncated"]),
    "missing config.json": (lambda d: (d / "config.json").unlink(), ModelLoadError, ["config.json", "missing"]),
    "DFlash2DraftModel": (lambda d: edit_config(d, lambda c: c.__setitem__("architectures", ["DFlash2DraftModel"])),
                          ModelLoadError, ["DFlash2DraftModel", "not supported"]),
}


@pytest.mark.parametrize("problem", BROKEN_DRAFTS)
def test_broken_draft_fails_with_a_message_naming_the_file_and_the_problem(model_paths, tmp_path, problem):
    mutate, error, fragments = BROKEN_DRAFTS[problem]
    draft = Path(shutil.copytree(model_paths["qwen3-draft"], tmp_path / "draft"))
    mutate(draft)
    with pytest.raises(error) as caught:
        Engine.load(model_paths["qwen3"], draft)
    message = str(caught.value)
    assert str(draft) in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_draft_for_a_different_hidden_size_is_refused(model_paths, tmp_path):
    draft = build_draft(tmp_path / "draft", model_paths["qwen3"], num_layers=2, target_layer_ids=[1, 2],
                        hidden_size=32, heads=2, kv_heads=1, head_dim=16)
    with pytest.raises(IncompatiblePairError, match="draft hidden size 32 != target hidden size 64") as caught:
        Engine.load(model_paths["qwen3"], draft)
    assert str(draft) in str(caught.value)


def test_unsupported_target_family_is_refused_by_name(model_paths, tmp_path):
    target = Path(shutil.copytree(model_paths["qwen3"], tmp_path / "target"))
    edit_config(target, lambda c: c.__setitem__("model_type", "gpt2"))
    with pytest.raises(UnsupportedModelError, match="'gpt2' is not supported") as caught:
        Engine.load(target, model_paths["qwen3-draft"])
    assert str(target / "config.json") in str(caught.value)


def test_truncated_target_weights_are_reported_with_the_target_folder(model_paths, tmp_path):
    target = Path(shutil.copytree(model_paths["qwen3"], tmp_path / "target"))
    truncate(target)
    with pytest.raises(ModelLoadError) as caught:
        Engine.load(target, model_paths["qwen3-draft"])
    assert str(target) in str(caught.value)
