"""Start a draft from the target's own last layers instead of random weights.

A DFlash draft layer has the tensor names of a Qwen3 decoder layer, and its
job (one more step of the target's computation, seen through the target's
head) is close to what the target's last layers do. Every draft tensor whose
name and shape match the corresponding target tensor is copied: draft layer i
from target layer N - n + i, the final norm from the target's. Tensors that do
not match (a narrower MLP, a llama target without q_norm) keep their random
initialisation.
"""

from __future__ import annotations

from ..engine.draft import DFlashDraftModel
from ..engine.target import TargetAdapter
from ..mlx_setup import import_mlx

mx = import_mlx()
from mlx.utils import tree_flatten  # noqa: E402


def warm_start_from_target(draft: DFlashDraftModel, target: TargetAdapter) -> list[str]:
    """Copy matching tensors into the draft; return the names copied."""
    offset = target.num_layers - len(draft.layers)
    source = {f"layers.{i - offset}.{k}": v for i in range(max(0, offset), target.num_layers)
              for k, v in tree_flatten(target.layers[i].parameters())}
    source["norm.weight"] = target.inner.norm.weight
    copied = [(name, source[name].astype(value.dtype)) for name, value in tree_flatten(draft.parameters())
              if name in source and source[name].shape == value.shape]
    draft.load_weights(copied, strict=False)
    return [name for name, _ in copied]
