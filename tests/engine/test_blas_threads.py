"""OpenBLAS threads per pass width: chosen by timing, applied as passes are queued, never changing the output."""

import pytest

from dflash_tui.engine import blas_threads
from dflash_tui.engine.blas_threads import ThreadPlan, ThreadSwitch, calibrate, current_threads, default_threads
from engine_testkit import chat_ids, fresh_engine, streamed_ids

DEFAULT = default_threads()
needs_threads = pytest.mark.skipif(DEFAULT is None or DEFAULT <= 1,
                                   reason="needs the system OpenBLAS with more than one thread")


def virtual_run(one_thread_ms: float, default_ms: float):
    """A 'decode run' that takes one_thread_ms on one thread and default_ms otherwise, on a virtual clock."""
    now = [0.0]

    def run():
        now[0] += (one_thread_ms if current_threads() == 1 else default_ms) / 1000

    return run, lambda: now[0]


@needs_threads
@pytest.mark.parametrize("one,default,expected", [(10.0, 12.0, 1), (12.0, 10.0, DEFAULT)])
def test_calibration_keeps_the_faster_thread_count_for_one_token_steps_and_restores_the_default(one, default,
                                                                                                 expected):
    run, clock = virtual_run(one, default)
    plan = calibrate(run, clock=clock)
    assert plan.narrow == expected and plan.wide == DEFAULT
    assert current_threads() == DEFAULT


@needs_threads
def test_a_model_too_big_to_time_quickly_keeps_the_default_threads():
    """Twenty runs of a big model's steps would hold up loading, and its matrices gain from every core."""
    run, clock = virtual_run(blas_threads.MAX_CALIBRATION_RUN_MS * 2, blas_threads.MAX_CALIBRATION_RUN_MS * 2)
    assert calibrate(run, clock=clock) is None
    assert current_threads() == DEFAULT


@needs_threads
def test_the_switch_sets_the_count_by_pass_width():
    switch = ThreadSwitch(ThreadPlan(narrow=1, wide=DEFAULT, timings_ms={}))
    try:
        switch.before_pass(1)
        assert current_threads() == 1
        switch.before_pass(16)
        assert current_threads() == DEFAULT
    finally:
        blas_threads.set_threads(DEFAULT)


@needs_threads
@pytest.mark.parametrize("mode", ["plain", "dflash", "auto"])
def test_switching_threads_leaves_every_token_unchanged(engine, mode):
    """One-token steps on one thread and block passes on all of them give the same greedy text as no plan."""
    ids = chat_ids(engine, "Write a function that adds two numbers.")
    runs, loaded = [], engine.target.threads  # the target is shared: its calibrated switch goes back after
    for plan in (None, ThreadPlan(narrow=1, wide=DEFAULT, timings_ms={})):
        eng = fresh_engine(engine)
        eng.target.threads = ThreadSwitch(plan)
        try:
            runs.append(streamed_ids(list(eng.generate(ids, max_tokens=48, mode=mode, block_size=8))))
        finally:
            eng.target.threads = loaded
            blas_threads.set_threads(DEFAULT)
    assert runs[0] == runs[1] and len(runs[0]) > 0


@needs_threads
def test_a_generation_gives_every_core_back_when_it_ends(engine):
    eng = fresh_engine(engine)
    loaded = eng.target.threads
    eng.target.threads = ThreadSwitch(ThreadPlan(narrow=1, wide=DEFAULT, timings_ms={}))
    try:
        list(eng.generate(chat_ids(engine, "Say hello."), max_tokens=8, mode="plain"))
        assert current_threads() == DEFAULT
    finally:
        eng.target.threads = loaded
