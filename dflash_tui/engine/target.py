"""Target adapter over mlx-lm models: an explicit layer loop returning logits and tap features.

The loop is ours (not the model's __call__) so that a forward pass can return
the hidden states of chosen layers (the draft's context) and, in verify mode,
run GatedDeltaNet layers through the tape-recording path used for rollback.
Supported: pure-attention `qwen3`, `llama` (and their quantized conversions)
and the hybrid `qwen3_5` / `qwen3_5_moe` family.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..mlx_setup import import_mlx
from . import gdn_cuda
from .errors import UnsupportedModelError
from .rollback import GDNTape, gdn_forward_with_tape, rollback_gdn
from .blas_threads import ThreadSwitch
from . import stable_shapes
from .stable_shapes import bucketed_caches

mx = import_mlx()
from mlx_lm.models.base import create_attention_mask  # noqa: E402
from mlx_lm.models.cache import KVCache, make_prompt_cache  # noqa: E402

ATTENTION_FAMILIES = ("qwen3", "llama", "mistral", "qwen2")
HYBRID_FAMILIES = ("qwen3_5", "qwen3_5_moe")
SUPPORTED_FAMILIES = ATTENTION_FAMILIES + HYBRID_FAMILIES


def family_of(config: dict) -> str:
    return config.get("model_type", "")


def check_supported(config: dict, source: str = "config.json") -> None:
    family = family_of(config)
    if family not in SUPPORTED_FAMILIES:
        raise UnsupportedModelError(
            f"{source}: model_type {family!r} is not supported as a DFlash target. "
            f"Supported families: {', '.join(SUPPORTED_FAMILIES)}. Plain decoding still works with "
            "mode 'plain' only when the model loads in mlx-lm."
        )


@dataclass
class VerifyRecord:
    """What a verify pass leaves behind so it can be rolled back."""

    length: int
    tapes: dict[int, GDNTape]  # layer index -> tape (hybrid layers only)


class TargetAdapter:
    """Wraps an mlx-lm model; all calls must come from the thread that owns MLX work."""

    def __init__(self, model, config: dict):
        check_supported(config)
        self.model = model
        self.config = config
        self.family = family_of(config)
        owner = model.language_model if hasattr(model, "language_model") else model
        self.inner = owner.model
        self.layers = self.inner.layers
        self.args = owner.args
        self.tied = bool(getattr(owner.args, "tie_word_embeddings", False))
        self._lm_head = None if self.tied else owner.lm_head
        self.hybrid = any(getattr(layer, "is_linear", False) for layer in self.layers)
        self.threads = ThreadSwitch(None)  # OpenBLAS threads per pass width (Engine.load calibrates on the CPU)
        self._attn_index = next(
            (i for i, layer in enumerate(self.layers) if not getattr(layer, "is_linear", False)), None
        )


    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def hidden_size(self) -> int:
        return self.args.hidden_size

    @property
    def vocab_size(self) -> int:
        return self.args.vocab_size

    def make_cache(self) -> list:
        """mlx-lm's prompt cache, with attention caches whose prefill key lengths move in buckets
        (stable_shapes.py: on CUDA each new length would otherwise build new cuDNN graphs)."""
        if stable_shapes.enabled():  # CUDA: verify blocks attend by matmul, not a cuDNN graph per length
            stable_shapes.route_short_blocks([layer.self_attn for layer in self.layers if hasattr(layer, "self_attn")])
        return bucketed_caches(make_prompt_cache(self.model))

    def embed(self, tokens: mx.array) -> mx.array:
        return self.inner.embed_tokens(tokens)

    def logits(self, hidden: mx.array) -> mx.array:
        """The target's head (final norm already applied by the caller)."""
        if self.tied:
            return self.inner.embed_tokens.as_linear(hidden)
        return self._lm_head(hidden)

    def head(self, hidden_pre_norm: mx.array) -> mx.array:
        return self.logits(self.inner.norm(hidden_pre_norm))

    def forward(self, tokens: mx.array, cache: list, taps: list[int], record: bool = False):
        """Run tokens [1, T] through the target.

        Returns (logits [1, T, V], tap features [1, T, len(taps) * H], VerifyRecord | None).
        With record=True hybrid layers use the tape path so `rollback` can undo the pass.
        """
        T = tokens.shape[1]
        self.threads.before_pass(T)
        h = self.embed(tokens)
        attn_mask = None
        if self._attn_index is not None:
            attn_mask = create_attention_mask(h, cache[self._attn_index])
        tap_set = set(taps)
        fused_gdn = self.hybrid and gdn_cuda.enabled()
        captured: dict[int, mx.array] = {}
        tapes: dict[int, GDNTape] = {}
        for i, (layer, c) in enumerate(zip(self.layers, cache)):
            if getattr(layer, "is_linear", False):
                normed = layer.input_layernorm(h)
                if record or fused_gdn:  # on CUDA the fused kernel also serves prefill (tape dropped)
                    r, tape = gdn_forward_with_tape(layer.linear_attn, normed, c)
                    if record:
                        tapes[i] = tape
                else:
                    r = layer.linear_attn(normed, None, c)
                h = h + r
                h = h + layer.mlp(layer.post_attention_layernorm(h))
            else:
                h = layer(h, attn_mask, c)
            if i in tap_set:
                captured[i] = h
        features = mx.concatenate([captured[i] for i in taps], axis=-1) if taps else None
        logits = self.head(h)
        return logits, features, (VerifyRecord(T, tapes) if record else None)

    def rollback(self, cache: list, record: VerifyRecord, keep: int) -> None:
        """Undo the last `record.length - keep` steps of a recorded verify pass."""
        drop = record.length - keep
        if drop <= 0:
            return
        keep_array = mx.array(keep, dtype=mx.int32) if record.tapes and gdn_cuda.enabled() else None
        layers = sorted(record.tapes)
        replayed = gdn_cuda.fused_replay_layers([record.tapes[i] for i in layers], keep, keep_array)
        if replayed is not None:  # CUDA: every recurrent layer in one launch
            for i, (conv, state) in zip(layers, replayed):
                cache[i][0], cache[i][1] = conv, state
        for i, c in enumerate(cache):
            if i not in record.tapes:
                c.trim(drop)
            elif replayed is None:
                rollback_gdn(c, record.tapes[i], keep, keep_array)

    def cache_offset(self, cache: list) -> int | None:
        """Tokens held by the attention caches (None for a model without attention layers)."""
        for c in cache:
            if isinstance(c, KVCache) or hasattr(c, "offset"):
                return c.offset
        return None

    def cache_trimmable(self) -> bool:
        return not self.hybrid
