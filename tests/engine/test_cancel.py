"""Cancelling a generation returns promptly and leaves the engine ready for the next request."""

import threading

import pytest

from engine_testkit import (PROMPTS, CycleStats, GenerationSummary, assert_greedy_parity, chat_ids, fresh_engine,
                            streamed_ids, summary_of)


@pytest.mark.parametrize("mode", ["dflash", "plain", "auto"])
def test_cancel_mid_generation_returns_promptly_and_the_engine_stays_usable(engine, mode):
    ids = chat_ids(engine, PROMPTS[0])
    cancel = threading.Event()
    events, after_cancel = [], []
    for event in engine.generate(ids, max_tokens=200, mode=mode, cancel=cancel):
        (after_cancel if cancel.is_set() else events).append(event)
        if len(events) == 6:
            cancel.set()
    events += after_cancel

    summary = events[-1]
    assert isinstance(summary, GenerationSummary) and summary.stop_reason == "cancelled", summary
    assert sum(isinstance(e, CycleStats) for e in after_cancel) <= 1  # at most the step already in flight
    assert 0 < len(summary.token_ids) < 200
    assert summary.token_ids == streamed_ids(events)
    state = engine._state
    assert engine.target.cache_offset(state.cache) == len(state.tokens)  # caches hold exactly what they claim

    # the next request, a new prompt then the cancelled one again, equals a fresh engine's output
    for next_ids in (chat_ids(engine, PROMPTS[1]), ids):
        got = summary_of(list(engine.generate(next_ids, max_tokens=64, mode=mode)))
        want = summary_of(list(fresh_engine(engine).generate(next_ids, max_tokens=64, mode=mode)))
        assert got.stop_reason == want.stop_reason
        assert_greedy_parity(engine.target, next_ids, got.token_ids, want.token_ids)
