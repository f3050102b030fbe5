"""Drafts stored with quantized weights (MLX's affine group quantization), run dense.

A draft's projection matrices are most of its bytes; stored at 8 bits they take
about half of bf16 (the embedded demo pair has a 12 MB budget, and a published
draft downloads faster). The config says how (`"quantization": {"group_size",
"bits"}`, mlx-lm's convention) and each quantized matrix `X.weight` comes with
`X.scales` and `X.biases`. The loader turns them back into dense matrices before
its strict shape checks, so the model and every decode path stay as they are.
"""

from __future__ import annotations

from ..mlx_setup import import_mlx
from .errors import ModelLoadError

mx = import_mlx()

QUANTIZABLE = ("proj.weight", "fc.weight")  # attention and MLP projections, the context fc


def quantization_of(config: dict) -> tuple[int, int] | None:
    """(group_size, bits) when the config declares stored quantization, else None."""
    q = config.get("quantization")
    if not q:
        return None
    try:
        return int(q["group_size"]), int(q["bits"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelLoadError(f"config.json: quantization {q!r} needs integer group_size and bits") from e


def dequantize_stored(weights: dict[str, mx.array], group_size: int, bits: int,
                      source: str = "draft") -> dict[str, mx.array]:
    """Dense weights from quantized triples (weight, scales, biases); other tensors unchanged."""
    out = dict(weights)
    for name in [n for n in weights if n.endswith(".scales")]:
        base = name[: -len(".scales")]
        if base + ".weight" not in out or base + ".biases" not in out:
            raise ModelLoadError(f"{source}: {name} has no matching .weight and .biases: the checkpoint is "
                                 "incomplete; write it again")
        out[base + ".weight"] = mx.dequantize(out[base + ".weight"], out.pop(name), out.pop(base + ".biases"),
                                              group_size=group_size, bits=bits)
    return out


def quantize_weights(weights: dict[str, mx.array], group_size: int = 64, bits: int = 8) -> dict[str, mx.array]:
    """Quantized triples for every projection matrix whose rows split into whole groups; others unchanged."""
    out: dict[str, mx.array] = {}
    for name, w in weights.items():
        quantizable = (w.ndim == 2 and w.shape[-1] % group_size == 0
                       and name.endswith(QUANTIZABLE))
        if not quantizable:
            out[name] = w
            continue
        q, scales, biases = mx.quantize(w, group_size=group_size, bits=bits)
        base = name[: -len(".weight")]
        out.update({name: q, base + ".scales": scales, base + ".biases": biases})
    return out
