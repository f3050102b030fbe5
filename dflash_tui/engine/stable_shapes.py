"""Attention with key lengths that change only every 256 positions (MLX's CUDA backend).

On CUDA, MLX runs multi-token attention through cuDNN and builds (then caches)
one cuDNN graph per exact shape. A DFlash cycle attends from 16 queries to a
key length that grows with every cycle, so each cycle would build new graphs:
about 2.4 ms per attention layer, measured on an H200, more than the verify
itself (docs/measurements). Here the keys are padded to a multiple of
`BUCKET` and the padding is masked out, so a graph is built once per 256
positions and reused in between.

Used for the target's prefill (`BucketedKVCache`, a drop-in for mlx-lm's
KVCache that buckets only multi-token updates). Short blocks of queries (a
verify, the draft's block: up to SHORT_BLOCK) skip cuDNN altogether: their
attention is two batched matmuls and a softmax (`short_block_attention`),
which cuBLAS runs at any key length without building anything. On an H200,
36 Qwen3-8B-shaped attention blocks at 16 queries and 2048 keys took 7.3 ms
that way against 11.7 ms through cuDNN with bucketed keys and an additive
mask (docs/measurements/h200-attention-paths-2026-12-02-session4.json).
Switched on where cuDNN attention runs (a CUDA device, head dims up to 128,
half precision); elsewhere every function here returns its input unchanged,
so Metal and CPU keep their paths.
"""

from __future__ import annotations

from functools import lru_cache

from ..mlx_setup import import_mlx

mx = import_mlx()
from mlx_lm.models.cache import KVCache  # noqa: E402

BUCKET = 256
SHORT_BLOCK = 32  # query blocks up to this long attend by matmul (no cuDNN graph per key length)
CUDNN_MAX_HEAD_DIM = 128  # cuDNN's fused attention limit in MLX; larger heads use MLX's own kernels

_enabled: bool | None = None  # None: decide from the device on first use


def enabled() -> bool:
    global _enabled
    if _enabled is None:
        from . import gdn_cuda

        _enabled = gdn_cuda.cuda_active()
    return _enabled


def set_enabled(on: bool | None) -> None:
    """Force bucketing on or off (tests, benchmarks); None goes back to deciding from the device."""
    global _enabled
    _enabled = on


def bucket(n: int) -> int:
    return -(-n // BUCKET) * BUCKET


def applies(keys: mx.array, values: mx.array, queries: int) -> bool:
    """Whether a multi-token attention over these K/V would run through cuDNN (and so gains from buckets)."""
    return (queries > 1 and enabled() and keys.dtype in (mx.bfloat16, mx.float16)
            and keys.shape[-1] <= CUDNN_MAX_HEAD_DIM and values.shape[-1] <= CUDNN_MAX_HEAD_DIM)


@lru_cache(maxsize=16)
def visible_mask(first_query_pos: int, queries: int, keys: int, valid: int, causal: bool, dtype) -> mx.array:
    """Additive mask [1, 1, queries, keys]: 0 where a query may look, -inf elsewhere.

    Query i sits at absolute position first_query_pos + i; key j is visible when
    j < valid and, if causal, j <= first_query_pos + i. Cached: every layer of
    one pass asks for the same mask, which is then built once.
    """
    j = mx.arange(keys)[None, :]
    ok = j < valid
    if causal:
        ok = ok & (j <= (first_query_pos + mx.arange(queries))[:, None])
    return mx.where(ok, mx.array(0.0, dtype=dtype), mx.array(-float("inf"), dtype=dtype))[None, None]


def short_block_attention(q: mx.array, k: mx.array, v: mx.array, scale: float, causal: bool) -> mx.array:
    """softmax(q k^T * scale [+ causal mask]) v for a short block of queries over every key.

    Grouped KV heads are folded into the query rows, so each KV head is read
    once by one batched matmul. With `causal`, the queries are the last
    q.shape[2] positions of the keys (a verify); without, every key is visible
    (the draft's block). The softmax runs in fp32.
    """
    B, H, L, D = q.shape
    kv_heads, S = k.shape[1], k.shape[2]
    rep = H // kv_heads
    scores = ((q * scale).reshape(B, kv_heads, rep * L, D) @ k.swapaxes(-1, -2)).reshape(B, kv_heads, rep, L, S)
    if causal:
        scores = scores + visible_mask(S - L, L, S, S, True, scores.dtype)[:, :, None]
    weights = mx.softmax(scores, axis=-1, precise=True).reshape(B, kv_heads, rep * L, S)
    return (weights @ v).reshape(B, H, L, D)


def short_block_applies(q: mx.array, k: mx.array, v: mx.array) -> bool:
    return 1 < q.shape[2] <= SHORT_BLOCK and applies(k, v, q.shape[2])


def draft_block_attention(q: mx.array, k: mx.array, v: mx.array, scale: float) -> mx.array:
    """The draft's block attention (every key visible): by matmul where cuDNN would run a short block."""
    if short_block_applies(q, k, v):
        return short_block_attention(q, k, v, scale, causal=False)
    k, v, mask = pad_to_bucket(q, k, v, None)
    return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)


def route_short_blocks(attention_modules) -> None:
    """Send the short query blocks of these mlx-lm attention modules to short_block_attention.

    mlx-lm's attention classes call their module's `scaled_dot_product_attention`
    (imported from mlx_lm.models.base); it is wrapped once per module. The
    wrapper takes over only for a BucketedKVCache (the engine's caches), a
    causal block of 2..SHORT_BLOCK queries and the cuDNN conditions; every
    other call (mlx-lm's own generate, quantized caches, CPU, Metal) goes to
    the original.
    """
    import sys

    for module in {sys.modules[type(m).__module__] for m in attention_modules}:
        original = getattr(module, "scaled_dot_product_attention", None)
        if original is None or getattr(original, "_short_blocks", False):
            continue

        def routed(queries, keys, values, cache, scale, mask, sinks=None, _original=original):
            if (isinstance(cache, BucketedKVCache) and sinks is None and isinstance(mask, str) and mask == "causal"
                    and short_block_applies(queries, keys, values)):
                return short_block_attention(queries, keys, values, scale, causal=True)
            return _original(queries, keys, values, cache=cache, scale=scale, mask=mask, sinks=sinks)

        routed._short_blocks = True
        module.scaled_dot_product_attention = routed


def pad_to_bucket(q: mx.array, k: mx.array, v: mx.array, mask: mx.array | None):
    """The draft's block attention: (k, v, mask) with keys zero-padded to a bucket and the padding masked.

    Only for mask=None (every key visible to every query), the draft's case.
    """
    n = k.shape[2]
    if mask is not None or not applies(k, v, q.shape[2]) or n % BUCKET == 0:
        return k, v, mask
    pad = bucket(n) - n
    k = mx.concatenate([k, mx.zeros((*k.shape[:2], pad, k.shape[3]), dtype=k.dtype)], axis=2)
    v = mx.concatenate([v, mx.zeros((*v.shape[:2], pad, v.shape[3]), dtype=v.dtype)], axis=2)
    return k, v, visible_mask(0, q.shape[2], n + pad, n, causal=False, dtype=q.dtype)


class BucketedKVCache(KVCache):
    """mlx-lm's KVCache, except that a multi-token update returns keys up to the next bucket boundary.

    make_mask() returns the matching additive mask (causal, padding hidden).
    Single-token decoding and the first fill of an empty cache behave exactly
    like KVCache, so mlx-lm's own generate loop runs on it unchanged. The
    decision depends only on (offset, tokens, head dims), which every layer of
    a model shares, so the one mask built from one layer's cache fits all.
    """

    def _bucketed(self, n: int) -> bool:
        """Prefill chunks only: a short block keeps exact keys (short_block_attention needs no buckets)."""
        return n > SHORT_BLOCK and self.keys is not None and applies(self.keys, self.values, n)

    def update_and_fetch(self, keys, values):
        n = keys.shape[2]
        if not self._bucketed(n):
            return super().update_and_fetch(keys, values)
        prev, end = self.offset, self.offset + keys.shape[2]
        span = bucket(end)
        if self.keys.shape[2] < span:
            B, H, _, dk = self.keys.shape
            grown_k = mx.zeros((B, H, span, dk), self.keys.dtype)
            grown_v = mx.zeros((B, H, span, self.values.shape[3]), self.values.dtype)
            grown_k[..., :prev, :] = self.keys[..., :prev, :]
            grown_v[..., :prev, :] = self.values[..., :prev, :]
            self.keys, self.values = grown_k, grown_v
        self.keys[..., prev:end, :] = keys
        self.values[..., prev:end, :] = values
        self.offset = end
        return self.keys[..., :span, :], self.values[..., :span, :]

    def make_mask(self, N: int, return_array: bool = False, window_size: int | None = None):
        if window_size is None and self._bucketed(N):
            end = self.offset + N
            return visible_mask(self.offset, N, bucket(end), end, causal=True, dtype=self.keys.dtype)
        return super().make_mask(N, return_array=return_array, window_size=window_size)


def bucketed_caches(cache: list) -> list:
    """Swap every empty plain KVCache in a fresh prompt cache for a BucketedKVCache."""
    return [BucketedKVCache() if type(c) is KVCache and c.keys is None else c for c in cache]
