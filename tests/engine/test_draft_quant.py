"""Drafts stored at 8 or 4 bits load like any draft, decode losslessly, and bad checkpoints say what is wrong."""

import json

import pytest

from dflash_tui.engine.draft import load_draft
from dflash_tui.engine.errors import ModelLoadError
from dflash_tui.engine.session import Engine
from dflash_tui.train.quantize_draft import quantize_draft
from engine_testkit import PROMPTS, chat_ids, mx


def weight_bytes(folder):
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


@pytest.mark.parametrize("bits", [8, 4])
def test_a_quantized_draft_is_smaller_loads_close_to_the_original_and_decodes_losslessly(model_paths, tmp_path, bits):
    src = model_paths["qwen3-draft"]
    dst = quantize_draft(src, tmp_path / f"q{bits}", bits=bits, group_size=32)
    assert json.loads((dst / "config.json").read_text())["quantization"] == {"group_size": 32, "bits": bits}
    assert weight_bytes(dst) < (0.6 if bits == 8 else 0.35) * weight_bytes(src)
    dense, stored = load_draft(src), load_draft(dst)
    a, b = dense.layers[0].self_attn.q_proj.weight, stored.layers[0].self_attn.q_proj.weight
    rel = (mx.abs(a.astype(mx.float32) - b.astype(mx.float32)).max() / mx.abs(a).max()).item()
    assert rel < (0.01 if bits == 8 else 0.15), rel  # half a quantization step of the largest weight

    engine = Engine.load(model_paths["qwen3"], dst)
    ids = chat_ids(engine, PROMPTS[0])
    texts = {}
    for mode in ("plain", "dflash"):
        engine.reset()
        texts[mode] = list(engine.generate(ids, max_tokens=24, mode=mode))[-1].token_ids
    assert texts["dflash"] == texts["plain"]  # whatever the draft's weights, the target decides


def test_a_quantized_checkpoint_missing_its_biases_is_refused_with_a_clear_message(model_paths, tmp_path):
    dst = quantize_draft(model_paths["qwen3-draft"], tmp_path / "q8", group_size=32)
    weights = mx.load(str(dst / "model.safetensors"))
    victim = next(k for k in weights if k.endswith(".biases"))
    del weights[victim]
    mx.save_safetensors(str(dst / "model.safetensors"), weights)
    with pytest.raises(ModelLoadError, match="no matching .weight and .biases"):
        load_draft(dst)


def test_quantizing_twice_is_refused(model_paths, tmp_path):
    dst = quantize_draft(model_paths["qwen3-draft"], tmp_path / "q8", group_size=32)
    with pytest.raises(ValueError, match="already stored quantized"):
        quantize_draft(dst, tmp_path / "again")
