"""Rolling a target back to the tokens it accepted after a verify pass.

Attention layers: `KVCache.trim` only moves the offset. GatedDeltaNet layers
(Qwen3.5 hybrids) cannot be trimmed, so the verify pass runs them through
`gdn_forward_with_tape`, which keeps references to the pre-verify conv and
recurrent state (free: MLX arrays are immutable) and records, per step, the
log-gate, the key and the innovation delta. Keeping n steps then rebuilds the
state in closed form, with no dot products and no per-step state copies:

    S_n = exp(L_n) S_0 + sum_{t<=n} exp(L_n - L_t) k_t (x) delta_t,   L_t = sum_{s<=t} log g_s

and the conv state is rows n .. n+K-2 of concat(snapshot_conv, qkv).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..mlx_setup import import_mlx

mx = import_mlx()
import mlx.nn as nn  # noqa: E402
from mlx_lm.models.gated_delta import normalize_qk  # noqa: E402

from .gdn_cuda import fused_recurrence_with_tape, fused_replay  # noqa: E402


@dataclass
class GDNTape:
    """What one GatedDeltaNet layer needs to undo a verify pass."""

    conv_before: mx.array  # [B, K-1, C] conv state before verify
    state_before: mx.array  # [B, Hv, Dv, Dk] recurrent state before verify (fp32)
    qkv: mx.array  # [B, T, C] pre-conv inputs of the verified steps
    log_g_cum: mx.array  # [B, T, Hv] cumulative log decay
    keys: mx.array  # [B, T, Hk, Dk] (key heads; shared by Hv // Hk value heads) or [B, T, Hv, Dk]
    deltas: mx.array  # [B, T, Hv, Dv]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.qkv, self.log_g_cum, self.keys, self.deltas))


def log_decay(A_log: mx.array, a: mx.array, dt_bias: mx.array) -> mx.array:
    """log g = -exp(A_log) * softplus(a + dt_bias), computed in log space so products never underflow."""
    return -mx.exp(A_log.astype(mx.float32)) * nn.softplus((a + dt_bias).astype(mx.float32))


def recurrence_with_tape(q, k, v, log_g, beta, state):
    """The gated delta rule over T steps, also returning the per-step innovations.

    q, k: [B, T, Hk, Dk]; v: [B, T, Hv, Dv]; log_g, beta: [B, T, Hv]; state: [B, Hv, Dv, Dk].
    The keys go on the tape at Hk heads (not repeated): it keeps the tape under 1 MiB per layer.
    """
    T = q.shape[1]
    Hv = v.shape[2]
    tape_keys = k
    if (rep := Hv // q.shape[2]) > 1:
        q = mx.repeat(q, rep, axis=2)
        k = mx.repeat(k, rep, axis=2)
    q, k, v, beta = (x.astype(mx.float32) for x in (q, k, v, beta))
    g = mx.exp(log_g)
    ys, deltas = [], []
    for t in range(T):
        state = state * g[:, t, :, None, None]
        kv_mem = (state * k[:, t, :, None, :]).sum(axis=-1)
        delta = (v[:, t] - kv_mem) * beta[:, t, :, None]
        state = state + k[:, t, :, None, :] * delta[..., None]
        ys.append((state * q[:, t, :, None, :]).sum(axis=-1))
        deltas.append(delta)
    return mx.stack(ys, axis=1), state, tape_keys, mx.stack(deltas, axis=1)


def gdn_forward_with_tape(layer, x: mx.array, cache) -> tuple[mx.array, GDNTape]:
    """mlx-lm's GatedDeltaNet forward (batch 1, no padding mask) that also records a GDNTape.

    Mirrors mlx_lm.models.qwen3_5.GatedDeltaNet.__call__; owned here so the
    verify path needs no monkeypatching of mlx-lm classes.
    """
    B, S, _ = x.shape
    qkv = layer.in_proj_qkv(x)
    z = layer.in_proj_z(x).reshape(B, S, layer.num_v_heads, layer.head_v_dim)
    b = layer.in_proj_b(x)
    a = layer.in_proj_a(x)
    conv_before = cache[0]
    if conv_before is None:
        conv_before = mx.zeros((B, layer.conv_kernel_size - 1, layer.conv_dim), dtype=x.dtype)
    conv_input = mx.concatenate([conv_before, qkv], axis=1)
    cache[0] = mx.contiguous(conv_input[:, -(layer.conv_kernel_size - 1):, :])
    conv_out = nn.silu(layer.conv1d(conv_input))
    q, k, v = [
        t.reshape(B, S, h, d)
        for t, h, d in zip(
            mx.split(conv_out, [layer.key_dim, 2 * layer.key_dim], -1),
            [layer.num_k_heads, layer.num_k_heads, layer.num_v_heads],
            [layer.head_k_dim, layer.head_k_dim, layer.head_v_dim],
        )
    ]
    q, k = normalize_qk(q, k, inv_scale=layer.head_k_dim ** -0.5, eps=1e-6)
    state_before = cache[1]
    if state_before is None:
        state_before = mx.zeros((B, layer.num_v_heads, layer.head_v_dim, layer.head_k_dim), dtype=mx.float32)
    fused = fused_recurrence_with_tape(q, k, v, layer.A_log, a, layer.dt_bias, b, state_before)  # CUDA only
    if fused is not None:
        y, state, log_g_cum, keys, deltas = fused
    else:
        log_g = log_decay(layer.A_log, a, layer.dt_bias)
        y, state, keys, deltas = recurrence_with_tape(q, k, v, log_g, mx.sigmoid(b), state_before)
        log_g_cum = mx.cumsum(log_g, axis=1)
    cache[1] = state
    out = layer.out_proj(layer.norm(y.astype(x.dtype), z).reshape(B, S, -1))
    tape = GDNTape(conv_before, state_before, qkv, log_g_cum, keys, deltas)
    return out, tape


def replay_state(tape: GDNTape, n: int) -> mx.array:
    """Recurrent state after the first n verified steps (closed form of the tape replay)."""
    L = tape.log_g_cum[:, :n]  # [B, n, Hv]
    L_n = L[:, -1]  # [B, Hv]
    weights = mx.exp(L_n[:, None, :] - L)  # [B, n, Hv]
    keys = tape.keys[:, :n].astype(mx.float32)
    if (rep := tape.deltas.shape[2] // keys.shape[2]) > 1:
        keys = mx.repeat(keys, rep, axis=2)
    update = mx.einsum("bth,bthv,bthk->bhvk", weights, tape.deltas[:, :n], keys)
    return mx.exp(L_n)[:, :, None, None] * tape.state_before + update


def rollback_gdn(cache, tape: GDNTape, n: int, n_array=None) -> None:
    """Set an ArraysCache to the state after keeping n of the verified steps (n_array: n on the device,
    shared by the layers of one rollback)."""
    fused = fused_replay(tape, n, n_array)  # the same replay in one launch, CUDA only
    if fused is not None:
        cache[0], cache[1] = fused
        return
    k_minus_1 = tape.conv_before.shape[1]
    rows = mx.concatenate([tape.conv_before, tape.qkv[:, :n]], axis=1)
    cache[0] = mx.contiguous(rows[:, n:n + k_minus_1])
    cache[1] = replay_state(tape, n)
