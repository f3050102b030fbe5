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


# Engine.generate does not reset on GeneratorExit: closed mid-reply, plain_generate never updates
# state.tokens, and plain_steps (auto mode) leaves its queued step in the cache, so the next turn reuses
# a cache holding tokens that state.tokens does not list.
@pytest.mark.parametrize("closed_mode,next_mode", [
    ("dflash", "dflash"), ("auto", "dflash"), ("plain", "plain"), ("auto", "plain"),
])
def test_abandoning_a_reply_midway_leaves_the_engine_usable(engine, closed_mode, next_mode):
    """Callers may stop iterating and throw the generator away (STYLE.md); the next turn must not notice."""
    ids = chat_ids(engine, PROMPTS[0])
    first = summary_of(list(engine.generate(ids, max_tokens=10, mode=closed_mode)))
    second_ids = ids + first.token_ids + chat_ids(engine, PROMPTS[1])
    reply = engine.generate(second_ids, max_tokens=100, mode=closed_mode)
    seen = [next(reply) for _ in range(7)]  # auto mode is inside its first plain stretch here
    reply.close()
    state = engine._state  # whatever it kept, the caches must hold exactly the tokens it says they hold
    assert engine.target.cache_offset(state.cache) == len(state.tokens)

    third_ids = second_ids + streamed_ids(seen) + chat_ids(engine, PROMPTS[0])
    got = summary_of(list(engine.generate(third_ids, max_tokens=48, mode=next_mode)))
    want = summary_of(list(fresh_engine(engine).generate(third_ids, max_tokens=48, mode=next_mode)))
    assert_greedy_parity(engine.target, third_ids, got.token_ids, want.token_ids)


def test_an_error_mid_reply_ends_with_an_error_summary_and_the_engine_recovers(engine, monkeypatch):
    from functools import partial

    from dflash_tui.engine import session
    from dflash_tui.engine.decode import dflash_generate

    calls = []

    def failing_draft(staged, offset, block_size):
        calls.append(offset)
        if len(calls) == 3:
            raise RuntimeError("draft exploded")
        return [0] * (block_size - 1)

    ids = chat_ids(engine, PROMPTS[0])
    with monkeypatch.context() as m:
        m.setattr(session, "dflash_generate", partial(dflash_generate, propose=failing_draft))
        events = list(engine.generate(ids, max_tokens=64))
    summary = events[-1]
    assert isinstance(summary, GenerationSummary)
    assert summary.stop_reason == "error" and "RuntimeError: draft exploded" in summary.error

    got = summary_of(list(engine.generate(ids, max_tokens=48)))
    want = summary_of(list(fresh_engine(engine).generate(ids, max_tokens=48)))
    assert_greedy_parity(engine.target, ids, got.token_ids, want.token_ids)
