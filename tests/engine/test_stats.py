"""The numbers a user sees (tau, acceptance, histogram, phase times) agree with what the decoder did;
max_tokens and stop tokens end generation exactly."""

import pytest

from engine_testkit import (PROMPTS, CycleStats, assert_consistent_stats, chat_ids, force_drafts, of_type,
                            streamed_ids, summary_of)

B = 16


def test_stats_of_a_random_draft_run_agree_with_its_cycles(engine):
    events = list(engine.generate(chat_ids(engine, PROMPTS[0]), max_tokens=64))
    assert_consistent_stats(engine, events)
    summary = summary_of(events)
    assert summary.drafted == summary.cycles * (B - 1)  # fixed block size: every cycle drafts a full block


def test_stats_of_an_auto_mode_run_agree_with_its_cycles(engine, monkeypatch):
    ids = chat_ids(engine, PROMPTS[1])
    force_drafts(monkeypatch, engine, ids, [15, 2, 15, 0, 9])
    events = list(engine.generate(ids, max_tokens=80, mode="auto"))
    assert_consistent_stats(engine, events)
    cycles = of_type(events, CycleStats)
    assert any(c.drafted for c in cycles) and not all(c.drafted for c in cycles)


def test_stats_of_forced_acceptances_agree_with_its_cycles(engine, monkeypatch):
    ids = chat_ids(engine, PROMPTS[1])
    force_drafts(monkeypatch, engine, ids, [15, 3, 0, 7, 11, 1])
    events = list(engine.generate(ids, max_tokens=64))
    assert_consistent_stats(engine, events)
    summary = summary_of(events)
    assert summary.tau > 5 and summary.accept_histogram[15] >= 1 and summary.accept_histogram[0] >= 1


@pytest.mark.parametrize("max_tokens", [1, 2, 15, 16, 17, 40])
def test_max_tokens_is_respected_exactly_even_when_a_block_overshoots(engine, monkeypatch, max_tokens):
    ids = chat_ids(engine, PROMPTS[2])
    reference = force_drafts(monkeypatch, engine, ids, [15])  # every block fully accepted: 16 tokens a cycle
    for mode in ("dflash", "plain", "auto"):
        engine.reset()
        summary = summary_of(list(engine.generate(ids, max_tokens=max_tokens, mode=mode)))
        assert summary.stop_reason == "length"
        assert summary.token_ids == reference[:max_tokens]
        state = engine._state
        assert engine.target.cache_offset(state.cache) == len(state.tokens)


@pytest.mark.parametrize("mode", ["dflash", "plain", "auto"])
@pytest.mark.parametrize("stop_at", [0, 5, 9, 30])
def test_stop_token_ends_generation_with_stop_reason_stop(engine, monkeypatch, mode, stop_at):
    """A stop token, even mid-block in a fully accepted draft, ends the reply just before it."""
    ids = chat_ids(engine, PROMPTS[0])
    reference = force_drafts(monkeypatch, engine, ids, [15])
    stop = reference[stop_at]
    first = reference.index(stop)  # the reply ends at the stop token's first occurrence
    monkeypatch.setattr(engine.tokenizer, "eos_token_ids", {stop})
    events = list(engine.generate(ids, max_tokens=64, mode=mode))
    summary = summary_of(events)
    assert summary.stop_reason == "stop"
    assert summary.token_ids == reference[:first]
    assert stop not in streamed_ids(events)
    state = engine._state
    assert engine.target.cache_offset(state.cache) == len(state.tokens)
    assert state.tokens[:len(ids) + first] == ids + summary.token_ids  # the whole reply is cached for the next turn
