"""What a model folder holds, read from config.json and the safetensors headers only.

Never loads weights: the parameter count comes from the JSON header at the start of
each .safetensors file (8-byte length, then tensor names, dtypes and shapes), so
describing a 60 GB model costs a few kilobytes of reading.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from ..compat import is_draft_config


@dataclass(frozen=True)
class Quantization:
    bits: int | None
    group_size: int | None
    mode: str | None = None  # "affine" (mlx default), "mxfp4", ...

    def __str__(self) -> str:
        text = f"{self.bits}-bit" if self.bits else "quantized"
        if self.group_size:
            text += f" g{self.group_size}"
        if self.mode and self.mode != "affine":
            text += f" {self.mode}"
        return text


@dataclass(frozen=True)
class ModelDescription:
    kind: str  # "target", "draft" or "unknown"
    family: str | None  # model_type, e.g. "qwen3", "qwen3_5"
    parameters: int | None
    parameters_estimated: bool  # True when unpacked from quantized weights
    quantization: Quantization | None
    size_bytes: int
    problem: str | None = None  # why the folder could not be read fully


def read_config(folder: Path) -> dict:
    return json.loads((Path(folder) / "config.json").read_text())


def describe_model(folder: Path, size_bytes: int | None = None) -> ModelDescription:
    """Describe the model in folder; size_bytes overrides the measured size (the HF cache knows it)."""
    folder = Path(folder)
    size = folder_size(folder) if size_bytes is None else size_bytes
    try:
        config = read_config(folder)
    except FileNotFoundError:
        return ModelDescription("unknown", None, None, False, None, size, f"no config.json in {folder}")
    except (OSError, ValueError) as error:
        return ModelDescription("unknown", None, None, False, None, size, f"unreadable config.json: {error}")
    quantization = config_quantization(config)
    try:
        parameters, estimated = count_parameters(folder, quantization)
        problem = None
    except (OSError, ValueError, struct.error) as error:
        parameters, estimated, problem = None, False, f"unreadable safetensors header: {error}"
    kind = "draft" if is_draft_config(config) else "target" if config.get("model_type") else "unknown"
    return ModelDescription(kind, config.get("model_type"), parameters, estimated, quantization, size, problem)


def config_quantization(config: dict) -> Quantization | None:
    for holder in (config, config.get("text_config") or {}):
        quant = holder.get("quantization") or holder.get("quantization_config")
        if isinstance(quant, dict):
            return Quantization(quant.get("bits"), quant.get("group_size"), quant.get("mode"))
    return None


def safetensors_header(path: Path) -> dict:
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))


def count_parameters(folder: Path, quantization: Quantization | None) -> tuple[int | None, bool]:
    """Sum of tensor elements over the folder's safetensors; packed quantized weights are unpacked.

    An MLX quantized weight is a uint32 matrix with `<name>.scales` beside it; each
    uint32 holds 32 / bits values. Scales and biases are bookkeeping, not parameters.
    """
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None, False
    total, estimated = 0, False
    for path in files:
        tensors = {k: v for k, v in safetensors_header(path).items() if k != "__metadata__"}
        for name, info in tensors.items():
            stem = name.rsplit(".", 1)[0]
            if name.endswith((".scales", ".biases")) and f"{stem}.weight" in tensors:
                continue
            count = math.prod(info["shape"])
            if f"{stem}.scales" in tensors and info["dtype"] == "U32":
                count = count * 32 // (quantization.bits if quantization and quantization.bits else 4)
                estimated = True
            total += count
    return total, estimated


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
