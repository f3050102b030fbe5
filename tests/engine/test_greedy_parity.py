"""Greedy DFlash output is mlx-lm's greedy output, token for token, up to the first near-tie."""

import random

import pytest

from dflash_tui.engine.decode import dflash_generate
from dflash_tui.synthetic import SPECIAL_TOKENS
from engine_testkit import (ALL_FAMILIES, PROMPTS, CycleStats, assert_consistent_stats, assert_greedy_parity,
                            chat_ids, cut_at_stop, first_near_tie, force_drafts, forced_proposer, fresh_engine,
                            reference_greedy, run_to_end, summary_of)

B = 16


@pytest.mark.parametrize("mode", ["dflash", "auto"])
@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_dflash_with_random_draft_matches_mlx_lm_greedy(engines, family, prompt, mode):
    """mode auto mixes plain stretches and DFlash probes in one loop: the output must not notice."""
    engine = fresh_engine(engines[family])
    ids = chat_ids(engine, prompt)
    summary = summary_of(list(engine.generate(ids, max_tokens=72, mode=mode)))
    stop_ids = set(engine.tokenizer.eos_token_ids)
    reference = cut_at_stop(reference_greedy(engine.target, ids, 72), stop_ids)
    assert summary.cycles > 0
    assert summary.stop_reason == ("length" if len(reference) == 72 else "stop")
    assert_greedy_parity(engine.target, ids, summary.token_ids, reference)


def test_dflash_with_forced_accept_lengths_matches_mlx_lm_greedy(engine):
    """Drafts right for exactly k tokens, k cycling over 0..15 (from a different start per prompt).

    Output stays mlx-lm's greedy output, every cycle accepts exactly k (up to the first near-tie, past
    which the target's own choice is not pinned), and every accept length 0..15 is exercised.
    """
    n = sum(k + 1 for k in range(B)) + 4  # long enough for k to run through all of 0..15
    seen = set()
    for prompt_index, prompt in enumerate(PROMPTS):
        ids = chat_ids(engine, prompt)
        reference = reference_greedy(engine.target, ids, n + B)
        accept_lengths = [(5 * prompt_index + j) % B for j in range(B)]
        propose, forced = forced_proposer(reference, len(ids), accept_lengths, engine.target.vocab_size)

        events, (_, out) = run_to_end(dflash_generate(
            engine.target, engine.draft, engine.tokenizer, engine._fresh_state(), ids, len(ids),
            max_tokens=n, block_size=B, stop_ids=set(), cancel=None, propose=propose))

        assert out.stop_reason == "length" and len(out.token_ids) == n
        assert_greedy_parity(engine.target, ids, out.token_ids, reference[:n])
        near_tie = first_near_tie(engine.target, ids, reference)
        position = 1  # the first token comes from the prefill
        for cycle, k in zip((e for e in events if isinstance(e, CycleStats)), forced, strict=True):
            if position + B <= near_tie:
                assert cycle.accepted == k, f"{prompt!r} cycle {cycle.cycle}: accepted {cycle.accepted}, expected {k}"
                seen.add(k)
            position += cycle.committed
    assert seen == set(range(B))


@pytest.mark.parametrize("prompt", PROMPTS)
def test_auto_mode_with_good_drafts_matches_mlx_lm_greedy(engine, monkeypatch, prompt):
    """Drafts that pay make auto mode switch from its plain measuring steps to DFlash; output stays greedy."""
    ids = chat_ids(engine, prompt)
    reference = force_drafts(monkeypatch, engine, ids, [15, 15, 9, 15, 4, 15])
    summary = summary_of(list(engine.generate(ids, max_tokens=96, mode="auto")))
    assert summary.drafted > 0 and summary.cycles > summary.drafted // (B - 1)  # both kinds of cycle ran
    assert_greedy_parity(engine.target, ids, summary.token_ids, reference[:96])


def test_prompt_longer_than_one_prefill_chunk_matches_mlx_lm_greedy(engine):
    """The engine prefills in 512-token chunks (KV, conv and recurrent state, and draft context carry across)."""
    from dflash_tui.engine.decode import PREFILL_CHUNK

    rng = random.Random(2)  # random ordinary tokens: long repetitive text makes tiny random models tie early
    ids = [rng.randrange(len(SPECIAL_TOKENS), engine.target.vocab_size) for _ in range(PREFILL_CHUNK + 188)]
    summary = summary_of(list(engine.generate(ids, max_tokens=64, mode="dflash")))
    assert summary.prefilled_tokens == len(ids)
    reference = cut_at_stop(reference_greedy(engine.target, ids, 64), set(engine.tokenizer.eos_token_ids))
    assert_greedy_parity(engine.target, ids, summary.token_ids, reference)
    assert engine._state.context.length == len(engine._state.tokens)


def test_block_size_one_in_dflash_mode_decodes_plainly_and_says_so(engine):
    ids = chat_ids(engine, PROMPTS[0])
    summary = summary_of(list(engine.generate(ids, max_tokens=32, mode="dflash", block_size=1)))
    plain = summary_of(list(engine.generate(ids, max_tokens=32, mode="plain")))
    assert summary.stop_reason != "error" and summary.mode == "plain"
    assert "block size 1" in summary.reason
    assert summary.token_ids == plain.token_ids


@pytest.mark.parametrize("block_size", [2, 4, 32])
def test_user_chosen_block_size_decodes_the_greedy_output(engine, monkeypatch, block_size):
    ids = chat_ids(engine, PROMPTS[0])
    reference = force_drafts(monkeypatch, engine, ids, [0, block_size - 2, 1, 40], n=64 + 32)
    events = list(engine.generate(ids, max_tokens=64, mode="dflash", block_size=block_size))
    summary = summary_of(events)
    assert_greedy_parity(engine.target, ids, summary.token_ids, reference[:64])
    assert summary.block_size == block_size and len(summary.accept_histogram) == block_size
    assert_consistent_stats(engine, events, block_size)
