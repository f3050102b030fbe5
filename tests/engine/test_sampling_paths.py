"""The sampling decode paths (temperature > 0) on real models: top_k=1 must decode exactly like greedy,
and a seeded run must repeat itself."""

import pytest

from engine_testkit import (PROMPTS, CycleStats, assert_greedy_parity, chat_ids, cut_at_stop, force_drafts,
                            fresh_engine, mx, of_type, reference_greedy, summary_of)


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
    reseeded = SamplingParams(temperature=1.0, top_p=0.9, seed=12)
    other = summary_of(list(fresh_engine(engine).generate(ids, max_tokens=40, mode=mode, sampling=reseeded)))
    assert other.token_ids != first.token_ids  # the seed matters: these really are samples


@pytest.mark.parametrize("rule", ["rejection", "matching"])
def test_speculative_acceptance_emits_tokens_distributed_as_the_target(rule):
    """Drafts drawn from q != p; the first emitted token must still follow p (chi-square, fixed seed)."""
    from dflash_tui.engine.sampling import KeyStream, accept_matching, accept_rejection, draw

    p = mx.array([[0.5, 0.2, 0.15, 0.1, 0.05], [0.1, 0.2, 0.3, 0.2, 0.2]])
    q = mx.array([[0.05, 0.1, 0.2, 0.3, 0.35]])
    keys = KeyStream(0)
    n = 3000
    counts = [0] * 5
    for d in draw(mx.broadcast_to(q, (n, 5)), keys.next()).tolist():
        a, nxt = accept_rejection(p, q, [d], keys) if rule == "rejection" else accept_matching(p, [d], keys)
        counts[d if a == 1 else nxt] += 1
    expected = [n * x for x in p[0].tolist()]
    chi2 = sum((c - e) ** 2 / e for c, e in zip(counts, expected))
    assert chi2 < 18.47, f"counts {counts} vs expected {expected}"  # chi-square, 4 dof, p = 0.001


@pytest.mark.parametrize("mode", ["dflash", "auto", "plain"])
def test_greedy_with_repetition_penalty_matches_mlx_lm(engine, monkeypatch, mode):
    """The penalty's history at each verify position includes the drafts before it, as one-by-one decoding would.

    Drafts are the penalized reference, right for k tokens, so long acceptances are exercised.
    """
    from functools import partial

    from mlx_lm.generate import generate_step
    from mlx_lm.sample_utils import make_repetition_penalty

    from dflash_tui.engine import session
    from dflash_tui.engine.decode import dflash_generate
    from dflash_tui.engine.sampling import SamplingParams
    from engine_testkit import forced_proposer, greedy

    ids = chat_ids(engine, PROMPTS[1])
    steps = generate_step(mx.array(ids), engine.target.model, max_tokens=64 + 16, sampler=greedy,
                          prompt_cache=engine.target.make_cache(),
                          logits_processors=[make_repetition_penalty(1.5, 20)])
    reference = [int(tok) for tok, _ in steps]
    assert reference[:64] != reference_greedy(engine.target, ids, 64)  # the penalty really changes the output
    propose, _ = forced_proposer(reference, len(ids), [15, 6, 0, 12, 3], engine.target.vocab_size)
    monkeypatch.setattr(session, "dflash_generate", partial(dflash_generate, propose=propose))

    events = list(engine.generate(ids, max_tokens=64, mode=mode, sampling=SamplingParams(repetition_penalty=1.5)))
    summary = summary_of(events)
    assert summary.token_ids == reference[:64]
    if mode == "dflash":
        assert max(c.accepted for c in of_type(events, CycleStats)) == 15
