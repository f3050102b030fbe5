"""The DFlash v1 block-diffusion draft (z-lab `DFlashDraftModel` checkpoints).

A stack of Qwen3-style layers with no embedding or lm_head of its own: the
block is embedded with the target's embeddings and read out through the
target's head. Target tap features are fused (fc + hidden_norm) into a context
whose K/V are injected into every layer; queries come from the block only and
attention is non-causal. Context K/V are cached (absolute RoPE positions);
block K/V never are, so the draft never needs rollback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..mlx_setup import import_mlx
from ..compat import draft_value as _lookup
from .errors import ModelLoadError, UnsupportedModelError
from .draft_quant import dequantize_stored, quantization_of
from .stable_shapes import draft_block_attention

mx = import_mlx()
import mlx.nn as nn  # noqa: E402
from mlx_lm.models.activations import swiglu  # noqa: E402
from mlx_lm.models.rope_utils import initialize_rope  # noqa: E402

DRAFT_ARCHITECTURE = "DFlashDraftModel"


@dataclass
class DraftConfig:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    rms_norm_eps: float
    rope_theta: float
    block_size: int
    mask_token_id: int
    target_layer_ids: list[int]
    num_target_layers: int | None = None
    rope_scaling: dict | None = None
    max_position_embeddings: int = 32768
    layer_types: list[str] = field(default_factory=list)
    sliding_window: int | None = None

    @classmethod
    def from_dict(cls, cfg: dict, source: str = "config.json") -> "DraftConfig":
        archs = cfg.get("architectures") or []
        if DRAFT_ARCHITECTURE not in archs:
            if any("DFlash2" in a for a in archs):
                raise UnsupportedModelError(
                    f"{source}: {archs[0]} is the newer DFlash v2 architecture, which this version "
                    "does not support; use a DFlash v1 draft (architectures: DFlashDraftModel)."
                )
            raise UnsupportedModelError(
                f"{source}: architectures {archs or '(missing)'} is not a DFlash v1 draft "
                f"(expected {DRAFT_ARCHITECTURE!r})."
            )
        missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
                               "intermediate_size", "mask_token_id", "target_layer_ids")
                   if _lookup(cfg, k) is None]
        if missing:
            raise ModelLoadError(f"{source}: draft config lacks {', '.join(missing)}.")
        heads = _lookup(cfg, "num_attention_heads")
        hidden = _lookup(cfg, "hidden_size")
        n_layers = _lookup(cfg, "num_hidden_layers")
        rope_scaling = cfg.get("rope_scaling") or cfg.get("rope_parameters")
        if rope_scaling and rope_scaling.get("rope_type", rope_scaling.get("type")) in (None, "default"):
            rope_scaling = None
        return cls(
            hidden_size=hidden,
            intermediate_size=_lookup(cfg, "intermediate_size"),
            num_hidden_layers=n_layers,
            num_attention_heads=heads,
            num_key_value_heads=_lookup(cfg, "num_key_value_heads", heads),
            head_dim=_lookup(cfg, "head_dim", hidden // heads),
            vocab_size=_lookup(cfg, "vocab_size"),
            rms_norm_eps=_lookup(cfg, "rms_norm_eps", 1e-6),
            rope_theta=float(_lookup(cfg, "rope_theta", 1000000.0)),
            block_size=int(_lookup(cfg, "block_size", 16)),
            mask_token_id=int(_lookup(cfg, "mask_token_id")),
            target_layer_ids=list(_lookup(cfg, "target_layer_ids")),
            num_target_layers=_lookup(cfg, "num_target_layers"),
            rope_scaling=rope_scaling,
            max_position_embeddings=_lookup(cfg, "max_position_embeddings", 32768),
            layer_types=list(_lookup(cfg, "layer_types", []) or []),
            sliding_window=_lookup(cfg, "sliding_window"),
        )


class DraftAttention(nn.Module):
    def __init__(self, cfg: DraftConfig, sliding_window: int | None):
        super().__init__()
        self.n_heads = cfg.num_attention_heads
        self.n_kv_heads = cfg.num_key_value_heads
        self.head_dim = cfg.head_dim
        self.scale = cfg.head_dim ** -0.5
        self.sliding_window = sliding_window
        h, d = cfg.hidden_size, cfg.head_dim
        self.q_proj = nn.Linear(h, self.n_heads * d, bias=False)
        self.k_proj = nn.Linear(h, self.n_kv_heads * d, bias=False)
        self.v_proj = nn.Linear(h, self.n_kv_heads * d, bias=False)
        self.o_proj = nn.Linear(self.n_heads * d, h, bias=False)
        self.q_norm = nn.RMSNorm(d, eps=cfg.rms_norm_eps)
        self.k_norm = nn.RMSNorm(d, eps=cfg.rms_norm_eps)
        self.rope = initialize_rope(d, base=cfg.rope_theta, traditional=False,
                                    scaling_config=cfg.rope_scaling,
                                    max_position_embeddings=cfg.max_position_embeddings)

    def _heads(self, x, n):
        B, L, _ = x.shape
        return x.reshape(B, L, n, -1).transpose(0, 2, 1, 3)

    def context_kv(self, ctx: mx.array, offset: int) -> tuple[mx.array, mx.array]:
        """K/V of fused context features at absolute positions offset.."""
        k = self.rope(self.k_norm(self._heads(self.k_proj(ctx), self.n_kv_heads)), offset=offset)
        v = self._heads(self.v_proj(ctx), self.n_kv_heads)
        return k, v

    def __call__(self, x: mx.array, ctx_k: mx.array | None, ctx_v: mx.array | None, offset: int,
                 mask: mx.array | None = None) -> mx.array:
        B, L, _ = x.shape
        q = self.rope(self.q_norm(self._heads(self.q_proj(x), self.n_heads)), offset=offset)
        k, v = self.context_kv(x, offset)
        if ctx_k is not None:
            if self.sliding_window is not None and ctx_k.shape[2] > self.sliding_window:
                ctx_k, ctx_v = ctx_k[:, :, -self.sliding_window:], ctx_v[:, :, -self.sliding_window:]
            k = mx.concatenate([ctx_k, k], axis=2)
            v = mx.concatenate([ctx_v, v], axis=2)
        if mask is None:  # CUDA: matmul attention for the block, no cuDNN graph per key length
            out = draft_block_attention(q, k, v, self.scale)
        else:
            out = mx.fast.scaled_dot_product_attention(q, k, v, scale=self.scale, mask=mask)
        return self.o_proj(out.transpose(0, 2, 1, 3).reshape(B, L, -1))


class DraftMLP(nn.Module):
    def __init__(self, cfg: DraftConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def __call__(self, x):
        return self.down_proj(swiglu(self.gate_proj(x), self.up_proj(x)))


class DraftLayer(nn.Module):
    def __init__(self, cfg: DraftConfig, layer_type: str):
        super().__init__()
        window = cfg.sliding_window if layer_type == "sliding_attention" else None
        self.self_attn = DraftAttention(cfg, window)
        self.mlp = DraftMLP(cfg)
        self.input_layernorm = nn.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)
        self.post_attention_layernorm = nn.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)

    def __call__(self, x, ctx_k, ctx_v, offset, mask=None):
        h = x + self.self_attn(self.input_layernorm(x), ctx_k, ctx_v, offset, mask)
        return h + self.mlp(self.post_attention_layernorm(h))


class DFlashDraftModel(nn.Module):
    """Draft layers only; the caller supplies embeddings and reads logits with the target's head."""

    def __init__(self, cfg: DraftConfig):
        super().__init__()
        self.config = cfg
        types = cfg.layer_types or ["full_attention"] * cfg.num_hidden_layers
        self.layers = [DraftLayer(cfg, t) for t in types]
        self.fc = nn.Linear(len(cfg.target_layer_ids) * cfg.hidden_size, cfg.hidden_size, bias=False)
        self.hidden_norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)
        self.norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)

    def fuse(self, tap_features: mx.array) -> mx.array:
        """[B, T, n_taps*H] concatenated target taps -> fused context [B, T, H]."""
        return self.hidden_norm(self.fc(tap_features))

    def context_kv(self, fused: mx.array, offset: int) -> list[tuple[mx.array, mx.array]]:
        """Per-layer K/V of fused context at absolute positions starting at offset."""
        return [layer.self_attn.context_kv(fused, offset) for layer in self.layers]

    def __call__(self, block_embeddings: mx.array, ctx_kv: list[tuple[mx.array, mx.array]] | None,
                 offset: int, mask: mx.array | None = None) -> mx.array:
        """Hidden states (after the final norm) for the block placed at absolute position offset."""
        h = block_embeddings
        for i, layer in enumerate(self.layers):
            k, v = ctx_kv[i] if ctx_kv else (None, None)
            h = layer(h, k, v, offset, mask)
        return self.norm(h)


def expected_tensor_shapes(cfg: DraftConfig) -> dict[str, tuple[int, ...]]:
    """The exact tensor names and shapes a z-lab v1 checkpoint must contain."""
    from mlx.utils import tree_flatten

    return {k: tuple(v.shape) for k, v in tree_flatten(DFlashDraftModel(cfg).parameters())}


def read_config(path: Path) -> dict:
    cfg_path = Path(path) / "config.json"
    if not cfg_path.is_file():
        raise ModelLoadError(f"{cfg_path}: missing. A DFlash draft folder needs config.json and *.safetensors.")
    try:
        return json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"{cfg_path}: not valid JSON ({e}). Re-download the model.") from e


def load_safetensors(files: list[Path]) -> dict[str, mx.array]:
    """Load every shard, turning a truncated or corrupt file into a message naming it."""
    weights: dict[str, mx.array] = {}
    for f in files:
        try:
            weights.update(mx.load(str(f)))
        except Exception as e:  # MLX raises RuntimeError/ValueError with terse text
            raise ModelLoadError(
                f"{f}: cannot read safetensors ({e}). The file is truncated or corrupt: delete it and "
                "download the model again."
            ) from e
    return weights


def load_draft(path: Path, dtype=None) -> DFlashDraftModel:
    """Load a z-lab DFlash v1 draft, checking tensor names and shapes strictly."""
    path = Path(path)
    raw_config = read_config(path)
    cfg = DraftConfig.from_dict(raw_config, source=str(path / "config.json"))
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ModelLoadError(f"{path}: no *.safetensors files. Download the draft's weights too.")
    weights = load_safetensors(files)
    expected = expected_tensor_shapes(cfg)
    weights = {k.removeprefix("model."): v for k, v in weights.items()}
    stored = quantization_of(raw_config)
    if stored is not None:  # stored quantized, run dense (draft_quant.py)
        weights = dequantize_stored(weights, *stored, source=str(path))
    unknown = sorted(set(weights) - set(expected))
    missing = sorted(set(expected) - set(weights))
    if unknown or missing:
        raise ModelLoadError(
            f"{path}: tensor names do not match a DFlash v1 draft with {cfg.num_hidden_layers} layers "
            f"(unexpected: {unknown[:4]}{'...' if len(unknown) > 4 else ''}; "
            f"missing: {missing[:4]}{'...' if len(missing) > 4 else ''})."
        )
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise ModelLoadError(
                f"{path}: tensor {name} has shape {tuple(weights[name].shape)}, config implies {shape}."
            )
    model = DFlashDraftModel(cfg)
    if dtype is not None:
        weights = {k: v.astype(dtype) for k, v in weights.items()}
    model.load_weights(list(weights.items()))
    mx.eval(model.parameters())
    model.eval()
    return model
