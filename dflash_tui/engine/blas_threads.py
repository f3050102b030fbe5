"""How many OpenBLAS threads a forward pass gets on the Linux CPU: measured per pass width, not assumed.

A one-token decode step of a small model multiplies thin matrices: splitting them over
threads costs more than it saves (on this 2-core machine the demo target decodes about 19%
faster on one thread, and its speed varies far less), while a 16-token verify or draft pass
still gains from every core. At load, `calibrate` times a run of pipelined one-token steps with
one thread and with the default count and keeps the faster; `ThreadSwitch` then sets the count
before a pass of the other width is queued. OpenBLAS's count is process-wide and must not
change under a running matmul, so a switch first waits for the device (MLX's CPU stream).
Only when mlx_setup loaded the system OpenBLAS; elsewhere (Metal, CUDA, reference BLAS) all
of this is inert.
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass
from typing import Callable

from .. import mlx_setup

mx = mlx_setup.import_mlx()

WIDE_FROM = 2  # passes of at least this many tokens count as block-wide
MAX_CALIBRATION_RUN_MS = 100.0  # the demo target's run takes about 20 ms here


def _library():
    path = mlx_setup.load_openblas()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        lib.openblas_get_num_threads.restype = ctypes.c_int
        return lib
    except (OSError, AttributeError):
        return None


_default: list[int | None] = []  # OpenBLAS's own count, read before anything here changed it


def default_threads() -> int | None:
    """OpenBLAS's thread count as the process started (the switch below changes the live one)."""
    if not _default:
        _default.append(current_threads())
    return _default[0]


def current_threads() -> int | None:
    """OpenBLAS's thread count now, or None when the system OpenBLAS is not in use."""
    lib = _library()
    return int(lib.openblas_get_num_threads()) if lib is not None else None


def set_threads(n: int) -> None:
    """Set OpenBLAS's thread count after the device has finished what it was given."""
    lib = _library()
    if lib is not None and n >= 1 and lib.openblas_get_num_threads() != n:
        mx.synchronize()
        lib.openblas_set_num_threads(n)


@dataclass(frozen=True)
class ThreadPlan:
    """Thread counts per pass width, with the timings that chose them (ms, for reports)."""

    narrow: int  # one-token passes (decode steps)
    wide: int  # block-wide passes (prefill, verify, draft)
    timings_ms: dict

    def for_tokens(self, n: int) -> int:
        return self.wide if n >= WIDE_FROM else self.narrow


def calibrate(run_narrow: Callable[[], None], repeats: int = 5,
              clock: Callable[[], float] = time.perf_counter) -> ThreadPlan | None:
    """Time a run of one-token steps with 1 thread and with OpenBLAS's default count; block-wide passes
    keep the default (they gained from every core in every run measured here). None: nothing to choose,
    or a model whose run takes over MAX_CALIBRATION_RUN_MS (a big one: its matrices gain from every core,
    and twenty runs of it would hold up loading)."""
    default = default_threads()
    if default is None or default <= 1:
        return None
    t0 = clock()
    run_narrow()  # warm-up: allocations and first-use costs
    if 1000 * (clock() - t0) > MAX_CALIBRATION_RUN_MS:
        return None
    timings: dict[int, float] = {}
    try:
        for n in (default, 1, default, 1):  # alternated: a drift in the machine's speed hits both alike
            set_threads(n)
            run_narrow()  # the first run after a switch pays for it
            samples = []
            for _ in range(repeats):
                t0 = clock()
                run_narrow()
                samples.append(clock() - t0)
            timings[n] = min(timings.get(n, float("inf")), 1000 * sorted(samples)[len(samples) // 2])
    finally:
        set_threads(default)
    narrow = 1 if timings[1] < timings[default] else default
    return ThreadPlan(narrow, default, {"narrow_steps_ms": timings})


class ThreadSwitch:
    """Applies a ThreadPlan as passes are queued; a switch happens only when the width class changes."""

    def __init__(self, plan: ThreadPlan | None):
        self.plan = plan
        self._current: int | None = None

    def before_pass(self, tokens: int) -> None:
        if self.plan is None:
            return
        n = self.plan.for_tokens(tokens)
        if n != self._current:
            set_threads(n)
            self._current = n

    def restore(self) -> None:
        """Back to OpenBLAS's default count after a generation (the next pass switches again as needed)."""
        if self.plan is not None and self._current not in (None, default_threads()):
            set_threads(default_threads())
        self._current = None
