"""Is a deferred rollback cheaper than a replay at rollback? Kernel- and cycle-level A/B on the GPU host.

    python3 scripts/device/deferred_rollback_ab.py [--context 2048] [--rounds 40] [--keep 7]

A diagnostic for issue #6 (prints JSON). First, device time per launch (100 launches queued, one wait)
and host time to queue one, for the Qwen3.5-9B GatedDeltaNet shape: the plain recurrence kernel, the
recurrence that starts from a deferred replay of `keep` steps, and the all-layers replay (24 layers).
Then, on the Qwen3.5-9B-shaped hybrid: a synced verify after a deferred rollback vs after a replay that
was evaluated first, and the engine's whole cycle with the rollback deferred / replayed at rollback
(queued) / nothing rolled back, interleaved round after round (each timed call after an untimed call of
the same variant, so queued work lands on its own variant).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dflash_tui.mlx_setup import import_mlx  # noqa: E402

mx = import_mlx()

from dflash_tui import bench_synthetic as bs  # noqa: E402
from dflash_tui.engine import gdn_cuda  # noqa: E402
from dflash_tui.engine.rollback import GDNTape  # noqa: E402

Hk, Hv, Dk, Dv, T, LAYERS = 16, 32, 128, 128, 16, 24


def random_tape(seed: int) -> GDNTape:
    keys = mx.random.split(mx.random.key(seed), 6)
    C = 2 * Hk * Dk + Hv * Dv
    return GDNTape(
        conv_before=mx.random.normal((1, 3, C), key=keys[0]).astype(mx.bfloat16),
        state_before=mx.random.normal((1, Hv, Dv, Dk), key=keys[1]),
        qkv=mx.random.normal((1, T, C), key=keys[2]).astype(mx.bfloat16),
        log_g_cum=mx.cumsum(-mx.random.uniform(0.001, 2.0, (1, T, Hv), key=keys[3]), axis=1),
        keys=mx.random.normal((1, T, Hk, Dk), key=keys[4]).astype(mx.bfloat16),
        deltas=mx.random.normal((1, T, Hv, Dv), key=keys[5]),
    )


def per_launch(fn, launches: int = 100, repeats: int = 5) -> dict:
    """Median device ms per launch (queued back to back, one wait) and host ms to queue one."""
    mx.eval(fn())
    device, host = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        outs = [fn() for _ in range(launches)]
        t1 = time.perf_counter()
        mx.eval(outs)
        t2 = time.perf_counter()
        device.append((t2 - t0) / launches)
        host.append((t1 - t0) / launches)
    return {"ms": 1000 * statistics.median(device), "host_ms": 1000 * statistics.median(host)}


def kernels(keep: int) -> dict:
    inputs = gdn_cuda.probe_inputs(1, T, Hk, Hv, Dk, Dv, mx.bfloat16)
    tape = random_tape(1)
    tapes = [random_tape(10 + i) for i in range(LAYERS)]
    n = mx.array(keep, dtype=mx.int32)
    mx.eval(inputs, tape, tapes, n)
    return {
        "recurrence": per_launch(lambda: gdn_cuda.fused_recurrence_with_tape(*inputs)[1]),
        "recurrence_after_replay": per_launch(
            lambda: gdn_cuda.fused_recurrence_with_tape(*inputs, replay=(tape, keep, n))[1]),
        "replay_24_layers": per_launch(lambda: gdn_cuda.fused_replay_layers(tapes, keep, n)[-1][1]),
        "status": gdn_cuda.status(),
    }


def verify_after_rollback(timer, keep: int, rounds: int) -> dict:
    """A verify right after a rollback that was deferred, or replayed and evaluated first; split into the
    host's graph building and the wait for the device. `deferred_stub`: deferred, with the cache's lazy
    replays swapped for evaluated arrays (if it is faster, something evaluated the lazy replay)."""
    names = ("deferred", "deferred_stub", "replayed_evaluated")
    build = {k: [] for k in names}
    wait = {k: [] for k in names}
    target, cache = timer.pair.target, timer.state.cache
    for _ in range(rounds):
        for name in names:
            with bs._gdn_switches(deferred=name != "replayed_evaluated"):
                record = timer._verify()[1]
                timer._rollback(record, keep)  # synced: what the engine waits for (deferred: not the replay)
                if name == "deferred_stub":
                    for i, d in target._deferred.items():
                        stub = mx.zeros(d.state.shape, dtype=d.state.dtype)
                        mx.eval(stub)
                        cache[i][1] = d.state = stub
            t0 = time.perf_counter()
            logits, _, record = target.forward(mx.array([[timer.staged] + timer.drafts]), cache, timer.pair.taps,
                                               record=True)
            ids = mx.argmax(logits[0], axis=-1)
            t1 = time.perf_counter()
            ids.tolist()
            t2 = time.perf_counter()
            build[name].append(t1 - t0)
            wait[name].append(t2 - t1)
            with bs._gdn_switches(deferred=False):
                timer._rollback(record, 1)
    med = lambda v: 1000 * statistics.median(v)  # noqa: E731
    return {k: {"build_ms": med(build[k]), "wait_ms": med(wait[k]), "total_ms": med([a + b for a, b in
                                                                                      zip(build[k], wait[k])])}
            for k in names}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--keep", type=int, default=bs.CYCLE_KEEP)
    args = ap.parse_args()
    out = {"keep": args.keep, "context": args.context, "kernels": kernels(args.keep)}
    print(json.dumps(out["kernels"], indent=1), flush=True)
    pair = bs.SyntheticPair(bs.SHAPES["hybrid"], mx.bfloat16)
    timer = bs.EngineTimer(pair, args.context, 16, args.keep, bs._Clock(5))
    out["verify_after_rollback_ms"] = verify_after_rollback(timer, args.keep, args.rounds)
    print(json.dumps(out["verify_after_rollback_ms"]), flush=True)
    fns = {"deferred": timer.cycle_fn(),
           "replayed": bs._switched(timer.cycle_fn(), deferred=False),
           "none": timer.cycle_fn(keep=16)}
    out["cycle_ms"] = timer.clock.interleaved_ms(fns, args.rounds, lead_in=True)
    c = out["cycle_ms"]
    out["rollback_in_cycle_share"] = {k: 1 - c["none"] / c[k] for k in ("deferred", "replayed")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
