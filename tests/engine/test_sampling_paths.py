"""The sampling decode paths (temperature > 0) on real models: top_k=1 must decode exactly like greedy,
and a seeded run must repeat itself."""

import pytest

from engine_testkit import (PROMPTS, CycleStats, assert_greedy_parity, chat_ids, cut_at_stop, force_drafts,
                            fresh_engine, of_type, reference_greedy, summary_of)


@pytest.mark.parametrize("mode,rule", [("dflash", "rejection"), ("dflash", "matching"), ("auto", "rejection"),
                                       ("plain", "rejection")])
def test_sampling_with_top_k_1_decodes_exactly_like_greedy(engine, mode, rule):
    """p is one-hot at the argmax: speculative sampling must then accept exactly the greedy drafts."""
    from dflash_tui.engine.sampling import SamplingParams

    ids = chat_ids(engine, PROMPTS[0])
    sampling = SamplingParams(temperature=1.0, top_k=1, seed=3, rule=rule)
    summary = summary_of(list(engine.generate(ids, max_tokens=64, mode=mode, sampling=sampling)))
    reference = cut_at_stop(reference_greedy(engine.target, ids, 64), set(engine.tokenizer.eos_token_ids))
    assert_greedy_parity(engine.target, ids, summary.token_ids, reference)


def test_sampling_with_top_k_1_accepts_exactly_the_drafts_greedy_would(engine, monkeypatch):
    from dflash_tui.engine.sampling import SamplingParams

    ids = chat_ids(engine, PROMPTS[2])
    accept_lengths = [15, 0, 7, 3, 15, 11]
    reference = force_drafts(monkeypatch, engine, ids, accept_lengths)
    sampling = SamplingParams(temperature=0.7, top_k=1, seed=5)
    events = list(engine.generate(ids, max_tokens=48, mode="dflash", sampling=sampling))
    assert summary_of(events).token_ids == reference[:48]
    accepted = [c.accepted for c in of_type(events, CycleStats)]
    assert accepted[:-1] == (accept_lengths * 10)[:len(accepted) - 1]


@pytest.mark.parametrize("mode", ["dflash", "plain"])
def test_seeded_sampling_repeats_itself_on_a_fresh_engine(engine, mode):
    from dflash_tui.engine.sampling import SamplingParams

    ids = chat_ids(engine, PROMPTS[1])
    sampling = SamplingParams(temperature=1.0, top_p=0.9, seed=11)
    first = summary_of(list(engine.generate(ids, max_tokens=40, mode=mode, sampling=sampling)))
    again = summary_of(list(fresh_engine(engine).generate(ids, max_tokens=40, mode=mode, sampling=sampling)))
    assert first.token_ids == again.token_ids
    other = summary_of(list(fresh_engine(engine).generate(ids, max_tokens=40, mode=mode,
                                                          sampling=SamplingParams(temperature=1.0, top_p=0.9, seed=12))))
    assert other.token_ids != first.token_ids  # the seed matters: these really are samples
