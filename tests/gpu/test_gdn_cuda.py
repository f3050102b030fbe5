"""The fused GatedDeltaNet kernels: equal to the plain recurrence and replay on CUDA, inert elsewhere.

Kernel tests skip cleanly without MLX's CUDA backend; the launch geometry, the
shared-memory budget and (where nvcc is installed) the kernels' compilation
are checked on the CPU too.
"""

import re
import shutil
import subprocess

import pytest

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from mlx_lm.models.cache import ArraysCache  # noqa: E402

from dflash_tui.engine import gdn_cuda  # noqa: E402
from dflash_tui.engine.gdn_cuda import probe_inputs, reference_recurrence  # noqa: E402
from dflash_tui.engine.rollback import GDNTape, gdn_forward_with_tape, replay_state, rollback_gdn  # noqa: E402

requires_cuda = pytest.mark.skipif(not gdn_cuda.cuda_active(), reason="needs MLX's CUDA backend on a CUDA GPU")

BF16_RTOL = 1e-2  # bf16 keeps 8 significant bits (2^-7 = 7.8e-3)
REPLAY_RTOL = 2e-3  # the closed form's einsum runs as a CUDA matmul (TF32): 4.5e-4 seen on the H200
QWEN35_9B = dict(Hk=16, Hv=32, Dk=128, Dv=128)  # GatedDeltaNet heads of Qwen3.5-9B


def relative_error(got, want) -> float:
    got, want = got.astype(mx.float32), want.astype(mx.float32)
    return (mx.abs(got - want).max() / (mx.abs(want).max() + 1e-6)).item()


def random_tape(B, T, Hv, Dv, Dk, R=3, C=40, dtype=mx.bfloat16, seed=0) -> GDNTape:
    keys = mx.random.split(mx.random.key(seed), 6)
    return GDNTape(
        conv_before=mx.random.normal((B, R, C), key=keys[0]).astype(dtype),
        state_before=mx.random.normal((B, Hv, Dv, Dk), key=keys[1]),
        qkv=mx.random.normal((B, T, C), key=keys[2]).astype(dtype),
        log_g_cum=mx.cumsum(-mx.random.uniform(0.001, 2.0, (B, T, Hv), key=keys[3]), axis=1),
        keys=mx.random.normal((B, T, Hv, Dk), key=keys[4]),
        deltas=mx.random.normal((B, T, Hv, Dv), key=keys[5]),
    )


@pytest.mark.parametrize("B,Hv,Dv", [(1, 32, 128), (2, 8, 16), (1, 4, 12), (3, 6, 40), (1, 1, 3)])
def test_launch_geometry_covers_every_value_row_with_whole_warps(B, Hv, Dv):
    (gx, gy, gz), (tx, ty, tz) = gdn_cuda.launch_geometry(B, Hv, Dv)
    rows_per_block = tx // gdn_cuda.LANES_PER_ROW
    blocks_x = gx // tx
    assert tx % 32 == 0 and gx % tx == 0 and (ty, tz, gz) == (1, 1, 1)
    assert gy == B * Hv
    assert blocks_x * rows_per_block >= Dv > (blocks_x - 1) * rows_per_block  # no row missed, no empty block


@pytest.mark.parametrize("Dk", [4, 16, 64, 128, 256])
def test_staged_chunk_fits_static_shared_memory(Dk):
    ch = gdn_cuda.chunk_steps(Dk)
    assert 1 <= ch <= 16
    assert (2 * ch * Dk + 3 * ch) * 4 <= 48 * 1024


def test_off_cuda_the_engine_keeps_the_op_loop():
    if gdn_cuda.cuda_active():
        pytest.skip("a CUDA device is present")
    assert gdn_cuda.fused_recurrence_with_tape(*probe_inputs(1, 4, 2, 4, 16, 16, mx.float32)) is None
    assert gdn_cuda.fused_replay(random_tape(1, 4, 4, 16, 16), 2) is None
    assert gdn_cuda.fused_replay_layers([random_tape(1, 4, 4, 16, 16)] * 2, 2) is None
    assert gdn_cuda.status()["verified"] == []


def test_all_layers_replay_source_gives_every_layer_its_own_arrays_and_layer_0_shapes():
    body, inputs, outputs = gdn_cuda.replay_layers_source(3)
    assert inputs[-1] == "keep" and len(inputs) == 3 * 6 + 1 and len(outputs) == 3 * 2
    for i in range(3):
        assert f"if (blockIdx.y == {i})" in body
        for name in ("conv_before", "qkv", "state_before", "log_g_cum", "keys", "deltas", "conv", "state"):
            assert re.search(rf"\b{name}_{i}\b", body), (name, i)
    for name in ("conv_before", "qkv", "state_before", "log_g_cum", "keys", "deltas", "conv", "state"):
        assert not re.search(rf"\b{name}\b(?!_)", body), f"{name} left without a layer"
    assert set(re.findall(r"\w+_shape", body)) <= {f"{n}_0_shape" for n in ("conv_before", "qkv", "state_before", "keys")}


def _mlx_style_source(name: str, types: dict[str, str], consts: dict) -> str:
    """The translation unit mx.fast.cuda_kernel generates (signature from names, dtypes and the `_shape`
    names the body uses), with a stub standing in for MLX's JIT header, which provides `Shape`."""
    body, inputs, outputs = (gdn_cuda.replay_layers_source(int(name.rsplit("_", 1)[1]))
                             if name.startswith(gdn_cuda.REPLAY_LAYERS_PREFIX) else gdn_cuda.kernel_sources()[name])
    params = []
    for arg in inputs:
        params.append(f"    const {types.get(arg, 'float')}* {arg}")
        if f"{arg}_shape" in body:
            params.append(f"    const __grid_constant__ Shape {arg}_shape")
    params += [f"    {types.get(arg, 'float')}* {arg}" for arg in outputs]
    return (
        "#include <cstdint>\n#include <cuda_bf16.h>\n#include <cuda/std/array>\n"
        "namespace mlx::core::cu {\nusing Shape = cuda::std::array<int32_t, 10>;\n\n"
        f"__global__ void custom_kernel_{name}(\n" + ",\n".join(params) + ") {\n"
        + "".join(f"  using {k} = {v};\n" if isinstance(v, str) else f"  constexpr int {k} = {v};\n"
                  for k, v in consts.items())
        + body + "\n}\n} // namespace mlx::core::cu\n"
    )


BF16 = "__nv_bfloat16"
BF16_RECURRENCE_INPUTS = {n: BF16 for n in ("q", "k", "v", "A_log", "gate_a", "dt_bias", "gate_b", "keys")}
COMPILE_CASES = {
    "recurrence-bf16": ("dflash_gdn_recurrence", BF16_RECURRENCE_INPUTS,
                        dict(InT=BF16, SumT=BF16, BetaT=BF16, Dk=128, Dv=128, Hk=16, Hv=32,
                             CH=gdn_cuda.chunk_steps(128))),
    "recurrence-fp32": ("dflash_gdn_recurrence", {}, dict(InT="float", SumT="float", BetaT="float", Dk=16, Dv=16,
                                                          Hk=4, Hv=8, CH=gdn_cuda.chunk_steps(16))),
    "replay-bf16": ("dflash_gdn_replay", {"conv_before": BF16, "qkv": BF16, "conv": BF16, "keys": BF16,
                                          "keep": "int32_t"},
                    dict(CT=BF16, Dk=128, Dv=128, Hv=32)),
    "replay-24-layers-bf16": (f"{gdn_cuda.REPLAY_LAYERS_PREFIX}24",
                              {f"{n}_{i}": BF16 for i in range(24) for n in ("conv_before", "qkv", "conv", "keys")}
                              | {"keep": "int32_t"}, dict(CT=BF16, Dk=128, Dv=128, Hv=32)),
}


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
@pytest.mark.parametrize("case", sorted(COMPILE_CASES))
def test_kernel_source_compiles_for_hopper_without_spills(tmp_path, case):
    name, types, consts = COMPILE_CASES[case]
    cu = tmp_path / "kernel.cu"
    cu.write_text(_mlx_style_source(name, types, consts))
    proc = subprocess.run(["nvcc", "-arch=sm_90", "-std=c++17", "-cubin", "-Xptxas", "-v", str(cu),
                           "-o", str(tmp_path / "kernel.cubin")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "0 bytes spill stores" in proc.stderr, proc.stderr[-2000:]


@requires_cuda
@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float32], ids=["bf16", "fp32"])
@pytest.mark.parametrize("T", [1, 16, 37, 300])
def test_fused_recurrence_matches_plain_recurrence_and_writes_every_output(dtype, T):
    inputs = probe_inputs(1, T, **QWEN35_9B, dtype=dtype, seed=T)
    got = gdn_cuda._launch_recurrence(*inputs, init_value=float("nan"))
    want = reference_recurrence(*inputs)
    mx.eval(got, want)
    for name, g, w in zip(gdn_cuda.RECURRENCE_OUTPUTS, got, want):
        assert g.shape == w.shape, f"{name}: {g.shape} vs {w.shape}"
        assert not mx.isnan(g).any().item(), f"{name}: elements left unwritten"
        err = relative_error(g, w)
        assert err <= BF16_RTOL, f"{name}: relative error {err:.2e}"


@requires_cuda
def test_fused_recurrence_handles_batches_odd_head_shapes_and_mixed_parameter_dtypes():
    inputs = probe_inputs(2, 21, 2, 6, 32, 40, mx.bfloat16, param_dtype=mx.float32, bias_dtype=mx.bfloat16, seed=7)
    got = gdn_cuda.fused_recurrence_with_tape(*inputs)
    assert got is not None, gdn_cuda.status()
    for name, g, w in zip(gdn_cuda.RECURRENCE_OUTPUTS, got, reference_recurrence(*inputs)):
        assert relative_error(g, w) <= BF16_RTOL, name


@requires_cuda
def test_engine_dispatches_to_the_fused_kernels_on_cuda():
    inputs = probe_inputs(1, 16, **QWEN35_9B, dtype=mx.bfloat16)
    assert gdn_cuda.fused_recurrence_with_tape(*inputs) is not None, gdn_cuda.status()
    assert gdn_cuda.fused_replay(random_tape(1, 16, 32, 128, 128), 5) is not None, gdn_cuda.status()
    assert gdn_cuda.status()["failed"] == {}


@requires_cuda
@pytest.mark.parametrize("B,key_heads,key_dtype", [(1, 32, mx.float32), (2, 32, mx.float32), (1, 16, mx.bfloat16)])
def test_fused_replay_equals_closed_form_and_conv_rows_for_every_length(B, key_heads, key_dtype):
    T, R, Hv = 16, 3, 32
    tape = random_tape(B, T, Hv, 128, 128, R=R, C=8192 + 24, seed=B)
    tape = GDNTape(tape.conv_before, tape.state_before, tape.qkv, tape.log_g_cum,
                   tape.keys[:, :, :key_heads].astype(key_dtype), tape.deltas)
    rows = mx.concatenate([tape.conv_before, tape.qkv], axis=1)
    for n in range(1, T + 1):
        conv, state = gdn_cuda._launch_replay(tape, n, init_value=float("nan"))
        assert mx.array_equal(conv, rows[:, n:n + R]).item(), f"keep {n}: conv rows"
        err = relative_error(state, replay_state(tape, n))
        assert err <= REPLAY_RTOL, f"keep {n}: relative error {err:.2e}"


@requires_cuda
def test_rollback_from_the_fused_tape_equals_the_plain_recurrence_for_every_length():
    T = 16
    inputs = probe_inputs(1, T, **QWEN35_9B, dtype=mx.bfloat16, seed=3)
    _, _, log_g_cum, keys, deltas = gdn_cuda.fused_recurrence_with_tape(*inputs)
    C = 8
    tape = GDNTape(mx.zeros((1, 3, C)), inputs[-1], mx.zeros((1, T, C)), log_g_cum, keys, deltas)
    for n in range(1, T + 1):
        q, k, v, A_log, a, dt_bias, b, state = inputs
        want = reference_recurrence(q[:, :n], k[:, :n], v[:, :n], A_log, a[:, :n], dt_bias, b[:, :n], state)[1]
        for name, (conv, got) in (("closed form", (None, replay_state(tape, n))),
                                  ("fused replay", gdn_cuda._launch_replay(tape, n))):
            err = relative_error(got, want)
            assert err <= BF16_RTOL, f"{name}, keep {n}: relative error {err:.2e}"


@requires_cuda
def test_verify_layer_with_fused_kernels_equals_op_loop_including_rollback():
    from dflash_tui.bench_synthetic import TINY_SHAPES, SyntheticPair

    pair = SyntheticPair(TINY_SHAPES["hybrid"], mx.float32)
    layer = next(l.linear_attn for l in pair.target.layers if getattr(l, "is_linear", False))
    keys = mx.random.split(mx.random.key(11), 3)
    x = mx.random.normal((1, 16, pair.text["hidden_size"]), key=keys[0])
    conv0 = mx.random.normal((1, layer.conv_kernel_size - 1, layer.conv_dim), key=keys[1])
    state0 = 0.1 * mx.random.normal((1, layer.num_v_heads, layer.head_v_dim, layer.head_k_dim), key=keys[2])

    def verify(fused: bool):
        gdn_cuda.set_enabled(fused)
        try:
            cache = ArraysCache(2)
            cache[0], cache[1] = conv0, state0
            out, tape = gdn_forward_with_tape(layer, x, cache)
            mx.eval(out, cache[1])
            return out, tape, cache
        finally:
            gdn_cuda.set_enabled(True)

    out_f, tape_f, cache_f = verify(True)
    out_o, tape_o, cache_o = verify(False)
    assert len(gdn_cuda.status()["verified"]) >= 1, gdn_cuda.status()
    assert relative_error(out_f, out_o) <= 1e-3
    assert relative_error(cache_f[1], cache_o[1]) <= 1e-3
    for n in range(1, 17):
        rollback_gdn(cache_f, tape_f, n)  # fused replay
        gdn_cuda.set_enabled(False)
        try:
            rollback_gdn(cache_o, tape_o, n)  # op-loop replay
        finally:
            gdn_cuda.set_enabled(True)
        assert mx.array_equal(cache_f[0], cache_o[0]).item(), f"keep {n}: conv state"
        assert relative_error(cache_f[1], cache_o[1]) <= 1e-3, f"keep {n}: recurrent state"


@requires_cuda
@pytest.mark.parametrize("layers", [2, 24])
def test_all_layers_replay_equals_each_layers_closed_form_for_every_length(layers):
    T, R = 16, 3
    tapes = [random_tape(1, T, 32, 128, 128, R=R, C=512, seed=100 + i) for i in range(layers)]
    for n in range(1, T + 1):
        got = gdn_cuda.fused_replay_layers(tapes, n)
        assert got is not None, gdn_cuda.status()
        for i, (tape, (conv, state)) in enumerate(zip(tapes, got)):
            rows = mx.concatenate([tape.conv_before, tape.qkv], axis=1)
            assert mx.array_equal(conv, rows[:, n:n + R]).item(), f"keep {n}, layer {i}: conv rows"
            err = relative_error(state, replay_state(tape, n))
            assert err <= REPLAY_RTOL, f"keep {n}, layer {i}: relative error {err:.2e}"
