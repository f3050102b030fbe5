"""Does compiling the target's MLPs (mx.compile) shorten the engine's cycle on MLX CUDA?

    python3 scripts/device/compiled_mlp_ab.py [--context 2048] [--rounds 30] [--targets hybrid,attention]

A diagnostic for issue #6 (prints JSON). The host spends 3-8 ms building each cycle's graph while the GPU
waits; a compiled MLP is one node for the host (three matmuls and a fused SiLU-multiply) instead of five
ops. On each 9B-shaped target: the engine's greedy cycle with the MLPs as they are and compiled,
interleaved round by round (each timed call after an untimed one of the same variant), plus the host's
time to build one cycle's graph in both.
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


class Switchable:
    """Stands in for a layer's MLP: the module itself, or its compiled call."""

    def __init__(self, mlp):
        self.mlp = mlp
        self.compiled = mx.compile(lambda x: mlp(x))
        self.on = False

    def __call__(self, x):
        return self.compiled(x) if self.on else self.mlp(x)


def install(target) -> list[Switchable]:
    switches = []
    for layer in target.layers:
        s = Switchable(layer.mlp)
        layer.mlp = s
        switches.append(s)
    return switches


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--targets", default="hybrid,attention")
    args = ap.parse_args()
    out = {}
    for kind in args.targets.split(","):
        pair = bs.SyntheticPair(bs.SHAPES[kind], mx.bfloat16)
        switches = install(pair.target)
        timer = bs.EngineTimer(pair, args.context, 16, bs.CYCLE_KEEP, bs._Clock(5))

        def variant(on: bool):
            cycle = timer.cycle_fn()

            def run():
                for s in switches:
                    s.on = on
                cycle()
            return run

        def host(on: bool) -> float:
            for s in switches:
                s.on = on
            return timer.cycle_host_ms()

        fns = {"plain_mlp": variant(False), "compiled_mlp": variant(True)}
        for fn in fns.values():  # compile and warm both
            fn()
            fn()
        cycles = timer.clock.interleaved_ms(fns, args.rounds, lead_in=True)
        hosts = {"plain_mlp": host(False), "compiled_mlp": host(True)}
        for s in switches:
            s.on = False
        out[kind] = {"cycle_ms": cycles, "host_build_ms": hosts,
                     "compiled_over_plain": cycles["compiled_mlp"] / cycles["plain_mlp"]}
        print(json.dumps({kind: out[kind]}), flush=True)
        del pair, timer, switches, fns
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
