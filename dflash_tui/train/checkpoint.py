"""Draft checkpoints in the z-lab layout, plus what a resumed run needs.

A checkpoint folder holds config.json (architectures DFlashDraftModel,
dflash_config with target_layer_ids and mask_token_id, block_size) and
model.safetensors in bf16: the engine loads it like any published draft. The
target's tokenizer files are copied beside them, as published drafts do.
trainer/ (step, seconds trained, optimizer moments and the fp32 weights) is
only for `--resume`; it sits in a subfolder so the engine's `*.safetensors`
glob never sees it. The fp32 copy matters: resuming from the bf16 weights
would round away the small updates of a long run's last steps.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..mlx_setup import import_mlx

mx = import_mlx()
from mlx.utils import tree_flatten, tree_unflatten  # noqa: E402

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
STATE_FILE = "trainer/state.json"
OPTIMIZER_FILE = "trainer/optimizer.safetensors"
WEIGHTS_FILE = "trainer/weights.safetensors"


def save_model_bf16(out: Path, model, config: dict) -> None:
    """config.json + model.safetensors in bf16 (how published checkpoints ship)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.astype(mx.bfloat16) for k, v in tree_flatten(model.parameters())}
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "mlx"})
    (out / "config.json").write_text(json.dumps({**config, "torch_dtype": "bfloat16"}, indent=2))


def save_draft(out: Path, draft, config: dict, target_path: Path | None = None) -> None:
    """The draft checkpoint (+ the target's tokenizer files)."""
    save_model_bf16(out, draft, config)
    if target_path is not None:
        copy_tokenizer_files(target_path, out)


def copy_tokenizer_files(src: Path, dst: Path) -> None:
    """The tokenizer files a draft folder carries beside its weights, as published drafts do."""
    for name in TOKENIZER_FILES:
        if (Path(src) / name).is_file():
            shutil.copyfile(Path(src) / name, Path(dst) / name)


def save_training_state(out: Path, step: int, optimizer, extra: dict, model=None) -> None:
    state = {k: v for k, v in tree_flatten(optimizer.state) if isinstance(v, mx.array)}
    (Path(out) / STATE_FILE).parent.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(Path(out) / OPTIMIZER_FILE), state)
    if model is not None:
        mx.save_safetensors(str(Path(out) / WEIGHTS_FILE), dict(tree_flatten(model.parameters())))
    (Path(out) / STATE_FILE).write_text(json.dumps({"step": step, **extra}, indent=2))


def load_training_state(folder: Path, draft, optimizer) -> dict:
    """Load draft weights and optimizer state from a checkpoint; return its trainer state."""
    folder = Path(folder)
    full = folder / WEIGHTS_FILE
    weights = mx.load(str(full if full.is_file() else folder / "model.safetensors"))
    draft.load_weights([(k, v.astype(mx.float32)) for k, v in weights.items()])
    optimizer.init(draft.trainable_parameters())
    if (folder / OPTIMIZER_FILE).is_file():
        optimizer.state = tree_unflatten(list(mx.load(str(folder / OPTIMIZER_FILE)).items()))
    return json.loads((folder / STATE_FILE).read_text()) if (folder / STATE_FILE).is_file() else {"step": 0}
