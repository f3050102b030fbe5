"""Which z-lab DFlash draft serves which target, matched by base model name.

Targets come as `Qwen/Qwen3-8B`, `mlx-community/Qwen3-8B-4bit`, `mlx-community/Qwen3.5-9B-MLX-4bit`
or a local folder; all of them reduce to one base name (`qwen3-8b`) by dropping the
organisation or parent folders, the case and quantization/format suffixes.
Pure data and string work: no huggingface_hub import.
"""

from __future__ import annotations

import re

# Base name (see base_name) -> the z-lab draft trained for that target.
DRAFTS = {
    "qwen3.5-4b": "z-lab/Qwen3.5-4B-DFlash",
    "qwen3.5-9b": "z-lab/Qwen3.5-9B-DFlash",
    "qwen3.5-27b": "z-lab/Qwen3.5-27B-DFlash",
    "qwen3.5-35b-a3b": "z-lab/Qwen3.5-35B-A3B-DFlash",
    "qwen3.5-122b-a10b": "z-lab/Qwen3.5-122B-A10B-DFlash",
    "qwen3.6-27b": "z-lab/Qwen3.6-27B-DFlash",
    "qwen3.6-35b-a3b": "z-lab/Qwen3.6-35B-A3B-DFlash",
    "qwen3-4b": "z-lab/Qwen3-4B-DFlash-b16",
    "qwen3-8b": "z-lab/Qwen3-8B-DFlash-b16",
    "qwen3-coder-30b-a3b": "z-lab/Qwen3-Coder-30B-A3B-DFlash",
    "qwen3-coder-30b-a3b-instruct": "z-lab/Qwen3-Coder-30B-A3B-DFlash",
    "qwen3-coder-next": "z-lab/Qwen3-Coder-Next-DFlash",
    "gpt-oss-20b": "z-lab/gpt-oss-20b-DFlash",
    "gpt-oss-120b": "z-lab/gpt-oss-120b-DFlash",
    "llama-3.1-8b-instruct": "z-lab/LLaMA3.1-8B-Instruct-DFlash-UltraChat",
    "meta-llama-3.1-8b-instruct": "z-lab/LLaMA3.1-8B-Instruct-DFlash-UltraChat",
    "kimi-k2.5": "z-lab/Kimi-K2.5-DFlash",
}

# One trailing "-<token>" that names a conversion rather than a model: mlx-community and
# lmstudio-community append the format and quantization (-MLX-4bit, -4bit-DWQ, -MXFP4-Q8, -bf16).
_FORMAT_SUFFIX = re.compile(
    r"-(mlx|\d+-?bits?|bf16|fp16|fp32|f16|f32|fp8|int4|int8|mxfp4|mxfp8|nvfp4|q\d(_k(_[msl])?)?"
    r"|(dwq|awq)(-\d{6})?|gptq|gguf)$",
    re.IGNORECASE,
)


def base_name(target: str) -> str:
    """`mlx-community/Qwen3.5-9B-MLX-4bit` -> `qwen3.5-9b`; also takes local paths."""
    name = target.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].lower()
    while True:
        stripped = _FORMAT_SUFFIX.sub("", name)
        if stripped == name or not stripped:
            return name
        name = stripped


def registry_draft_for(target: str) -> str | None:
    """The z-lab draft repo for a target name, or None when the registry has none."""
    return DRAFTS.get(base_name(target))
