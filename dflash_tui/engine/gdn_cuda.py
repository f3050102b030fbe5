"""Fused GatedDeltaNet kernels for MLX's CUDA backend: one launch per layer for verify, prefill and rollback.

The plain recurrence (`rollback.recurrence_with_tape`) is a small op loop per
step; on CUDA each op costs microseconds of launch overhead, so a 16-token
verify of a hybrid target costs several decode steps. Here:

- `fused_recurrence_with_tape`: all T steps of a layer in one launch, gates
  (log g, beta) computed in-kernel from the raw projections, writing y, the
  final state and the rollback tape that `rollback.py` defines (cumulative
  log-gate, keys at the Hk key heads in the input dtype, innovations).
- `fused_replay`: the tape replay of `rollback.replay_state` (the same closed
  form) plus the conv-state rows, in one launch.

Used only when the default device is a CUDA GPU; every other backend keeps
the op loop. Each kernel instantiation is checked once against the op loop on
a small random probe; one that fails to compile or disagrees is switched off
(the reason is kept in `status()`) and callers fall back to the op loop.
"""

from __future__ import annotations

import os
import re

from ..mlx_setup import import_mlx

mx = import_mlx()

LANES_PER_ROW = 4  # threads sharing one value row of the state; each holds Dk / 4 entries
MAX_ROWS_PER_BLOCK = 32
REPLAY_THREADS = 256
# Probes feed both sides identical inputs and compute in fp32; beyond summation order, a bf16 beta can
# round one ulp apart (sigmoid formulas differ in the last fp32 bit). A wrong kernel is off by O(1).
PROBE_TOLERANCE = 1e-2

# Recurrence. One block holds ROWS value rows of one (batch, value head). Lane
# l of a row keeps state entries l, l + 4, l + 8, ... in registers (interleaved
# so a warp's shared-memory reads hit distinct banks). Per chunk of CH steps
# the block stages k, q, g, log g and beta in shared memory; per step the two
# dot products over Dk are 4-lane shuffle reductions. The gates repeat the op
# path's roundings: a + dt_bias and sigmoid(b) are rounded to their MLX dtypes.
_RECURRENCE_SOURCE = r"""
    constexpr int LPR = 4;
    constexpr int VPL = Dk / LPR;
    const int T = q_shape[1];
    const int tid = threadIdx.x;
    const int rows_per_block = blockDim.x / LPR;
    const int n = blockIdx.y;
    const int b = n / Hv;
    const int hv = n - b * Hv;
    const int hk = hv / (Hv / Hk);
    const int lane = tid % LPR;
    const int row = blockIdx.x * rows_per_block + tid / LPR;
    const bool active = row < Dv;
    const int dv = active ? row : Dv - 1;
    const bool tape_block = blockIdx.x == 0;

    __shared__ float ks[CH * Dk];
    __shared__ float qs[CH * Dk];
    __shared__ float gs[CH];
    __shared__ float lgs[CH];
    __shared__ float bs[CH];

    const float decay_rate = expf(static_cast<float>(A_log[hv]));
    const float bias = static_cast<float>(dt_bias[hv]);

    float s[VPL];
    const size_t state_row = ((size_t)n * Dv + dv) * Dk;
#pragma unroll
    for (int i = 0; i < VPL; ++i) {
      s[i] = state_in[state_row + i * LPR + lane];
    }

    float cum = 0.0f;
    for (int t0 = 0; t0 < T; t0 += CH) {
      const int nt = min(CH, T - t0);
      __syncthreads();
      for (int idx = tid; idx < nt * Dk; idx += blockDim.x) {
        const int c = idx / Dk;
        const int e = idx - c * Dk;
        const size_t bt = (size_t)b * T + t0 + c;
        const size_t src = (bt * Hk + hk) * Dk + e;
        const float kk = static_cast<float>(k[src]);
        ks[idx] = kk;
        qs[idx] = static_cast<float>(q[src]);
        if (tape_block && hv % (Hv / Hk) == 0) {
          keys[(bt * Hk + hk) * Dk + e] = k[src];
        }
      }
      if (tid < nt) {
        const size_t gi = ((size_t)b * T + t0 + tid) * Hv + hv;
        const float x = static_cast<float>(static_cast<SumT>(static_cast<float>(gate_a[gi]) + bias));
        const float softplus = fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
        const float lg = -decay_rate * softplus;
        lgs[tid] = lg;
        gs[tid] = expf(lg);
        const float sig = 1.0f / (1.0f + expf(-static_cast<float>(gate_b[gi])));
        bs[tid] = static_cast<float>(static_cast<BetaT>(sig));
      }
      __syncthreads();

      for (int c = 0; c < nt; ++c) {
        const size_t tv = ((size_t)b * T + t0 + c) * Hv + hv;
        const float g = gs[c];
        const float* kc = ks + c * Dk;
        const float* qc = qs + c * Dk;

        float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
#pragma unroll
        for (int i = 0; i < VPL; ++i) {
          s[i] *= g;
          const float p = s[i] * kc[i * LPR + lane];
          if ((i & 3) == 0) acc0 += p;
          else if ((i & 3) == 1) acc1 += p;
          else if ((i & 3) == 2) acc2 += p;
          else acc3 += p;
        }
        float kv = (acc0 + acc1) + (acc2 + acc3);
        kv += __shfl_xor_sync(0xffffffffu, kv, 1);
        kv += __shfl_xor_sync(0xffffffffu, kv, 2);
        const float delta = (static_cast<float>(v[tv * Dv + dv]) - kv) * bs[c];

        acc0 = 0.0f; acc1 = 0.0f; acc2 = 0.0f; acc3 = 0.0f;
#pragma unroll
        for (int i = 0; i < VPL; ++i) {
          s[i] += kc[i * LPR + lane] * delta;
          const float p = s[i] * qc[i * LPR + lane];
          if ((i & 3) == 0) acc0 += p;
          else if ((i & 3) == 1) acc1 += p;
          else if ((i & 3) == 2) acc2 += p;
          else acc3 += p;
        }
        float out = (acc0 + acc1) + (acc2 + acc3);
        out += __shfl_xor_sync(0xffffffffu, out, 1);
        out += __shfl_xor_sync(0xffffffffu, out, 2);

        if (active && lane == 0) {
          y[tv * Dv + dv] = out;
          deltas[tv * Dv + dv] = delta;
        }
        cum += lgs[c];
        if (tape_block && tid == 0) {
          log_g_cum[tv] = cum;
        }
      }
    }

    if (active) {
#pragma unroll
      for (int i = 0; i < VPL; ++i) {
        state_out[state_row + i * LPR + lane] = s[i];
      }
    }
"""

# Replay: one thread per recurrent-state entry computes
#   S_n = exp(L_n) S_0 + sum_{t<n} exp(L_n - L_t) delta_t (x) k_t
# and the first B*(K-1)*C threads also copy one conv-state entry: rows n .. n+K-2
# of concat(conv_before, qkv). Tape keys may hold Hv heads (as today) or the Hk
# key heads: the head count is read from their shape.
_REPLAY_SOURCE = r"""
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int n = keep[0];
    const int T = qkv_shape[1];
    const int B = state_before_shape[0];
    const int Hkeys = keys_shape[2];
    const size_t n_state = (size_t)B * Hv * Dv * Dk;
    if (idx < n_state) {
      const int dk = idx % Dk;
      const int dv = (idx / Dk) % Dv;
      const size_t bh = idx / ((size_t)Dk * Dv);
      const int hv = bh % Hv;
      const size_t b = bh / Hv;
      const auto* L = log_g_cum + b * T * Hv + hv;
      const int hkey = hv / (Hv / Hkeys);
      const float L_n = static_cast<float>(L[(size_t)(n - 1) * Hv]);
      float acc = 0.0f;
      for (int t = 0; t < n; ++t) {
        const size_t bt = (b * T + t) * Hv + hv;
        const size_t kt = (b * T + t) * Hkeys + hkey;
        const float w = expf(L_n - static_cast<float>(L[(size_t)t * Hv]));
        acc += w * static_cast<float>(deltas[bt * Dv + dv]) * static_cast<float>(keys[kt * Dk + dk]);
      }
      state[idx] = expf(L_n) * static_cast<float>(state_before[idx]) + acc;
    }
    const int R = conv_before_shape[1];
    const int C = conv_before_shape[2];
    if (idx < (size_t)B * R * C) {
      const int c = idx % C;
      const int r = (idx / C) % R;
      const size_t b = idx / ((size_t)C * R);
      const int src = r + n;
      conv[idx] = src < R ? conv_before[(b * R + src) * C + c] : qkv[(b * T + (src - R)) * C + c];
    }
"""

RECURRENCE_INPUTS = ["q", "k", "v", "A_log", "gate_a", "dt_bias", "gate_b", "state_in"]
RECURRENCE_OUTPUTS = ["y", "state_out", "log_g_cum", "keys", "deltas"]
REPLAY_INPUTS = ["conv_before", "qkv", "state_before", "log_g_cum", "keys", "deltas", "keep"]
REPLAY_OUTPUTS = ["conv", "state"]
_REPLAY_NAME = re.compile(r"\b(" + "|".join(REPLAY_INPUTS[:-1] + REPLAY_OUTPUTS) + r")(_shape)?\b")


def replay_layers_source(layers: int) -> tuple[str, list[str], list[str]]:
    """(body, inputs, outputs) of the replay for `layers` GatedDeltaNet layers in one launch: the
    one-layer body once per layer with its names suffixed _<layer>, picked by blockIdx.y. A rollback
    then costs one launch however deep the model is (a 9B hybrid has 24 such layers). Every layer reads
    layer 0's shapes (the tapes of one model share a layout), which keeps the kernel's parameters small."""
    cases = []
    for layer in range(layers):
        body = _REPLAY_NAME.sub(lambda m, i=layer: f"{m.group(1)}_{0 if m.group(2) else i}{m.group(2) or ''}",
                                _REPLAY_SOURCE)
        cases.append(f"  if (blockIdx.y == {layer}) {{{body}  }}")
    inputs = [f"{name}_{i}" for i in range(layers) for name in REPLAY_INPUTS[:-1]] + ["keep"]
    outputs = [f"{name}_{i}" for i in range(layers) for name in REPLAY_OUTPUTS]
    return "\n".join(cases), inputs, outputs

REPLAY_LAYERS_PREFIX = "dflash_gdn_replay_layers_"
_enabled = os.environ.get("DFLASH_TUI_GDN_KERNEL", "1") != "0"
_layers_enabled = True
_kernels: dict[str, object] = {}
_checked: dict[tuple, str | None] = {}  # instantiation key -> None (verified) or why it is off
_build_error: str | None = None


def kernel_sources() -> dict[str, tuple[str, list[str], list[str]]]:
    """name -> (body, input names, output names) as handed to mx.fast.cuda_kernel (tests compile them)."""
    return {
        "dflash_gdn_recurrence": (_RECURRENCE_SOURCE, RECURRENCE_INPUTS, RECURRENCE_OUTPUTS),
        "dflash_gdn_replay": (_REPLAY_SOURCE, REPLAY_INPUTS, REPLAY_OUTPUTS),
    }


def cuda_active() -> bool:
    """True when MLX runs on a CUDA GPU by default."""
    try:
        return bool(mx.cuda.is_available()) and mx.default_device() == mx.gpu
    except AttributeError:
        return False


def set_enabled(flag: bool) -> None:
    """Turn the fused path on or off (the bench compares it with the op loop in one process)."""
    global _enabled
    _enabled = flag


def set_layers_enabled(flag: bool) -> None:
    """Turn the all-layers replay on or off (off: one launch per layer; the bench compares both)."""
    global _layers_enabled
    _layers_enabled = flag


def enabled() -> bool:
    return _enabled and _build_error is None and cuda_active()


def status() -> dict:
    """What the fused path did in this process: for reports and the bench's JSON."""
    return {
        "requested": _enabled,
        "cuda": cuda_active(),
        "build_error": _build_error,
        "verified": [list(k) for k, err in _checked.items() if err is None],
        "failed": {str(list(k)): err for k, err in _checked.items() if err is not None},
    }


def supported_shape(Dk: int, Dv: int, Hk: int, Hv: int) -> bool:
    return Dk % LANES_PER_ROW == 0 and 4 <= Dk <= 256 and Dv >= 1 and Hk >= 1 and Hv % Hk == 0


def chunk_steps(Dk: int) -> int:
    """Steps staged per shared-memory chunk: k and q of CH steps in at most 32 KiB."""
    return max(1, min(16, 32768 // (2 * 4 * Dk)))


def launch_geometry(B: int, Hv: int, Dv: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Recurrence (grid in threads, threadgroup) as mx.fast.cuda_kernel takes them."""
    rows = MAX_ROWS_PER_BLOCK if Dv >= MAX_ROWS_PER_BLOCK else -(-Dv // 8) * 8
    blocks_x = -(-Dv // rows)
    threads = LANES_PER_ROW * rows
    return (threads * blocks_x, B * Hv, 1), (threads, 1, 1)


def _kernel(name: str):
    global _build_error
    if name not in _kernels:
        if name.startswith(REPLAY_LAYERS_PREFIX):
            source, inputs, outputs = replay_layers_source(int(name[len(REPLAY_LAYERS_PREFIX):]))
        else:
            source, inputs, outputs = kernel_sources()[name]
        try:
            _kernels[name] = mx.fast.cuda_kernel(name=name, input_names=inputs, output_names=outputs,
                                                 source=source, ensure_row_contiguous=True)
        except Exception as e:  # no CUDA back-end in this MLX build
            _build_error = f"{type(e).__name__}: {e}"
            return None
    return _kernels[name]


def _result_dtype(x, y):
    """The dtype MLX gives x + y for the float dtypes met here."""
    return x.dtype if x.dtype == y.dtype else mx.float32


def _launch_recurrence(q, k, v, A_log, a, dt_bias, b, state, init_value=None):
    B, T, Hk, Dk = k.shape
    Hv, Dv = v.shape[2:]
    grid, group = launch_geometry(B, Hv, Dv)
    f32 = mx.float32
    return _kernel("dflash_gdn_recurrence")(
        inputs=[q, k, v.astype(q.dtype), A_log, a, dt_bias, b, state.astype(f32)],
        template=[("InT", q.dtype), ("SumT", _result_dtype(a, dt_bias)), ("BetaT", b.dtype),
                  ("Dk", Dk), ("Dv", Dv), ("Hk", Hk), ("Hv", Hv), ("CH", chunk_steps(Dk))],
        grid=grid,
        threadgroup=group,
        output_shapes=[(B, T, Hv, Dv), (B, Hv, Dv, Dk), (B, T, Hv), (B, T, Hk, Dk), (B, T, Hv, Dv)],
        output_dtypes=[f32, f32, f32, q.dtype, f32],
        init_value=init_value,
    )


def _launch_replay(tape, n: int, init_value=None, n_array=None):
    B, Hv, Dv, Dk = tape.state_before.shape
    R, C = tape.conv_before.shape[1:]
    total = max(B * Hv * Dv * Dk, B * R * C)
    return _kernel("dflash_gdn_replay")(
        inputs=_replay_inputs(tape) + [mx.array(n, dtype=mx.int32) if n_array is None else n_array],
        template=[("CT", tape.conv_before.dtype), ("Dk", Dk), ("Dv", Dv), ("Hv", Hv)],
        grid=(-(-total // REPLAY_THREADS) * REPLAY_THREADS, 1, 1),
        threadgroup=(REPLAY_THREADS, 1, 1),
        output_shapes=[tape.conv_before.shape, tape.state_before.shape],
        output_dtypes=[tape.conv_before.dtype, mx.float32],
        init_value=init_value,
    )


def _replay_inputs(tape):
    qkv = tape.qkv if tape.qkv.dtype == tape.conv_before.dtype else tape.qkv.astype(tape.conv_before.dtype)
    return [tape.conv_before, qkv, tape.state_before, tape.log_g_cum, tape.keys, tape.deltas]


def _launch_replay_layers(tapes: list, n: int, init_value=None, n_array=None) -> list:
    """[(conv, state)] per tape, all from one launch (tapes of one model: equal shapes and dtypes)."""
    first = tapes[0]
    B, Hv, Dv, Dk = first.state_before.shape
    R, C = first.conv_before.shape[1:]
    total = max(B * Hv * Dv * Dk, B * R * C)
    inputs = [a for tape in tapes for a in _replay_inputs(tape)]
    inputs.append(mx.array(n, dtype=mx.int32) if n_array is None else n_array)
    outs = _kernel(f"{REPLAY_LAYERS_PREFIX}{len(tapes)}")(
        inputs=inputs,
        template=[("CT", first.conv_before.dtype), ("Dk", Dk), ("Dv", Dv), ("Hv", Hv)],
        grid=(-(-total // REPLAY_THREADS) * REPLAY_THREADS, len(tapes), 1),
        threadgroup=(REPLAY_THREADS, 1, 1),
        output_shapes=[first.conv_before.shape, first.state_before.shape] * len(tapes),
        output_dtypes=[first.conv_before.dtype, mx.float32] * len(tapes),
        init_value=init_value,
    )
    return [(outs[2 * i], outs[2 * i + 1]) for i in range(len(tapes))]


def _relative_error(got, want) -> float:
    got, want = got.astype(mx.float32), want.astype(mx.float32)
    return (mx.abs(got - want).max() / (mx.abs(want).max() + 1e-6)).item()


def _compare(names, got, want) -> str | None:
    mx.eval(got, want)
    for name, g, w in zip(names, got, want):
        if g.shape != w.shape:
            return f"{name}: shape {g.shape}, the op loop gives {w.shape}"
        if mx.isnan(g).any().item():
            return f"{name}: elements left unwritten (NaN)"
        err = _relative_error(g, w)
        if not err <= PROBE_TOLERANCE:
            return f"{name}: relative error {err:.2e} against the op loop"
    return None


def probe_inputs(B, T, Hk, Hv, Dk, Dv, dtype, param_dtype=None, bias_dtype=None, seed=1234):
    """Random inputs shaped as gdn_forward_with_tape produces them (A_log in param_dtype, dt_bias in
    bias_dtype); their own RNG keys leave the caller's random stream untouched.
    Returns q, k, v, A_log, a, dt_bias, b, state."""
    param_dtype = param_dtype or dtype
    bias_dtype = bias_dtype or param_dtype
    keys = mx.random.split(mx.random.key(seed), 8)
    q = (mx.random.normal((B, T, Hk, Dk), key=keys[0]) * Dk ** -0.5).astype(dtype)
    k = (mx.random.normal((B, T, Hk, Dk), key=keys[1]) * Dk ** -0.5).astype(dtype)
    v = mx.random.normal((B, T, Hv, Dv), key=keys[2]).astype(dtype)
    A_log = mx.log(mx.random.uniform(0.5, 16.0, (Hv,), key=keys[3])).astype(param_dtype)
    a = mx.random.normal((B, T, Hv), key=keys[4]).astype(dtype)
    dt_bias = mx.random.uniform(0.0, 2.0, (Hv,), key=keys[5]).astype(bias_dtype)
    b = (2 * mx.random.normal((B, T, Hv), key=keys[6])).astype(dtype)
    state = mx.random.normal((B, Hv, Dv, Dk), key=keys[7])
    return q, k, v, A_log, a, dt_bias, b, state


def reference_recurrence(q, k, v, A_log, a, dt_bias, b, state):
    """The op loop, returning what the fused kernel returns: (y, state, log_g_cum, keys, deltas)."""
    from .rollback import log_decay, recurrence_with_tape

    log_g = log_decay(A_log, a, dt_bias)
    y, s, keys, deltas = recurrence_with_tape(q, k, v, log_g, mx.sigmoid(b), state)
    return y, s, mx.cumsum(log_g, axis=1), keys, deltas


def _probe_recurrence(dtype, param_dtype, bias_dtype, Hk, Hv, Dk, Dv) -> str | None:
    try:  # 21 steps: more than one staged chunk
        inputs = probe_inputs(1, 21, Hk, Hv, Dk, Dv, dtype, param_dtype, bias_dtype)
        got = _launch_recurrence(*inputs, init_value=float("nan"))
        return _compare(RECURRENCE_OUTPUTS, got, reference_recurrence(*inputs))
    except Exception as e:  # a compile error surfaces here, at the first eval
        return f"{type(e).__name__}: {e}"


def _probe_tape(like, Hv: int, Dv: int, Dk: int, seed: int):
    """A small random tape with the dtypes and key heads of `like`."""
    from .rollback import GDNTape

    T, R, C = 16, 3, 40
    Hkeys = like.keys.shape[2]
    keys = mx.random.split(mx.random.key(seed), 6)
    return GDNTape(
        conv_before=mx.random.normal((1, R, C), key=keys[0]).astype(like.conv_before.dtype),
        state_before=mx.random.normal((1, Hv, Dv, Dk), key=keys[1]),
        qkv=mx.random.normal((1, T, C), key=keys[2]).astype(like.qkv.dtype),
        log_g_cum=mx.cumsum(-mx.random.uniform(0.01, 1.0, (1, T, Hv), key=keys[3]),
                            axis=1).astype(like.log_g_cum.dtype),
        keys=mx.random.normal((1, T, Hkeys, Dk), key=keys[4]).astype(like.keys.dtype),
        deltas=mx.random.normal((1, T, Hv, Dv), key=keys[5]).astype(like.deltas.dtype),
    )


def _probe_replay(like, Hv: int, Dv: int, Dk: int, layers: int = 0) -> str | None:
    """Run the replay on random tapes with the dtypes and key heads of `like` (every input dtype shapes
    the generated source, so each combination is compiled and checked here first); layers > 0 probes
    the all-layers kernel on that many distinct tapes."""
    from .rollback import replay_state

    try:
        tapes = [_probe_tape(like, Hv, Dv, Dk, 4321 + i) for i in range(max(1, layers))]
        T, R = tapes[0].qkv.shape[1], tapes[0].conv_before.shape[1]
        for n in (1, 7, T):
            got = _launch_replay_layers(tapes, n, init_value=float("nan")) if layers else \
                [_launch_replay(tapes[0], n, init_value=float("nan"))]
            for i, (tape, pair) in enumerate(zip(tapes, got)):
                rows = mx.concatenate([tape.conv_before, tape.qkv.astype(tape.conv_before.dtype)], axis=1)
                err = _compare(REPLAY_OUTPUTS, pair, [rows[:, n:n + R], replay_state(tape, n)])
                if err is not None:
                    return f"keep {n}, layer {i}: {err}"
        return None
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def _verified(key: tuple, kernel_name: str, probe) -> bool:
    if key not in _checked:
        if _kernel(kernel_name) is None:
            return False
        _checked[key] = probe()
    return _checked[key] is None


def fused_recurrence_with_tape(q, k, v, A_log, a, dt_bias, b, state):
    """The gated delta rule over T steps with gates from the raw projections, in one launch.

    q, k: [B, T, Hk, Dk]; v: [B, T, Hv, Dv]; a, b: [B, T, Hv]; A_log, dt_bias: [Hv];
    state: [B, Hv, Dv, Dk] (fp32). Returns (y, state, log_g_cum, keys, deltas), all
    fp32, equal to `reference_recurrence`; or None when the fused path is off,
    unsupported for this shape, or failed its probe (the caller runs the op loop).
    """
    if not enabled():
        return None
    B, T, Hk, Dk = k.shape
    Hv, Dv = v.shape[2:]
    if T == 0 or not supported_shape(Dk, Dv, Hk, Hv):
        return None
    if not q.dtype == k.dtype == v.dtype == a.dtype == b.dtype:
        return None
    key = ("recurrence", str(q.dtype), str(A_log.dtype), str(dt_bias.dtype), Hk, Hv, Dk, Dv)
    if not _verified(key, "dflash_gdn_recurrence",
                     lambda: _probe_recurrence(q.dtype, A_log.dtype, dt_bias.dtype, Hk, Hv, Dk, Dv)):
        return None
    return tuple(_launch_recurrence(q, k, v, A_log, a, dt_bias, b, state))


def fused_replay(tape, n: int, n_array=None):
    """(conv state, recurrent state) after keeping the first n verified steps: rollback.replay_state's
    closed form and the conv rows in one launch; None when the fused path is off or unverified.
    n_array: n as an int32 device scalar, shared by every layer of one rollback (one upload, not one per layer)."""
    if not enabled():
        return None
    B, Hv, Dv, Dk = tape.state_before.shape
    Hkeys = tape.keys.shape[2]
    if not 1 <= n <= tape.qkv.shape[1] or tape.state_before.dtype != mx.float32 or Hv % Hkeys:
        return None
    dtypes = tuple(str(a.dtype) for a in (tape.conv_before, tape.qkv, tape.log_g_cum, tape.keys, tape.deltas))
    key = ("replay", *dtypes, Hkeys, Hv, Dv, Dk)
    if not _verified(key, "dflash_gdn_replay", lambda: _probe_replay(tape, Hv, Dv, Dk)):
        return None
    conv, state = _launch_replay(tape, n, n_array=n_array)
    return conv, state


def _layout(tape) -> tuple:
    return tuple((a.shape, a.dtype) for a in (tape.conv_before, tape.qkv, tape.state_before, tape.log_g_cum,
                                               tape.keys, tape.deltas))


def fused_replay_layers(tapes: list, n: int, n_array=None) -> list | None:
    """fused_replay for every GatedDeltaNet layer of one rollback in a single launch: [(conv, state)] in
    the order of `tapes`; None when the fused path is off, the tapes differ in layout, or the probe failed
    (the caller replays layer by layer). On an H200 each launch, not the arithmetic, is what a rollback costs."""
    if not enabled() or not _layers_enabled or len(tapes) < 2:
        return None
    first = tapes[0]
    B, Hv, Dv, Dk = first.state_before.shape
    Hkeys = first.keys.shape[2]
    if not 1 <= n <= first.qkv.shape[1] or first.state_before.dtype != mx.float32 or Hv % Hkeys:
        return None
    layout = _layout(first)
    if any(_layout(t) != layout for t in tapes[1:]):
        return None
    dtypes = tuple(str(a.dtype) for a in (first.conv_before, first.qkv, first.log_g_cum, first.keys, first.deltas))
    key = ("replay_layers", len(tapes), *dtypes, Hkeys, Hv, Dv, Dk)
    if not _verified(key, f"{REPLAY_LAYERS_PREFIX}{len(tapes)}",
                     lambda: _probe_replay(first, Hv, Dv, Dk, layers=len(tapes))):
        return None
    return _launch_replay_layers(tapes, n, n_array=n_array)
