"""Attention with key lengths that change only every 256 positions (MLX's CUDA backend).

On CUDA, MLX runs multi-token attention through cuDNN and builds (then caches)
one cuDNN graph per exact shape. A DFlash cycle attends from 16 queries to a
key length that grows with every cycle, so each cycle would build new graphs:
about 2.4 ms per attention layer, measured on an H200, more than the verify
itself (docs/measurements). Here the keys are padded to a multiple of
`BUCKET` and the padding is masked out, so a graph is built once per 256
positions and reused in between.

Used for the target's verify and prefill (`BucketedKVCache`, a drop-in for
mlx-lm's KVCache that buckets only multi-token updates) and for the draft's
block attention (`pad_to_bucket`). Switched on where cuDNN attention runs (a
CUDA device, head dims up to 128, half precision); elsewhere every function
here returns its input unchanged, so Metal and CPU keep their paths.
"""

from __future__ import annotations

from functools import lru_cache

from ..mlx_setup import import_mlx

mx = import_mlx()
from mlx_lm.models.cache import KVCache  # noqa: E402

BUCKET = 256
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
        return self.keys is not None and applies(self.keys, self.values, n)

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
