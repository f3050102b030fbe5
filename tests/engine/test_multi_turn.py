"""A chat turn that extends the cached conversation prefills only what is new, and answers as a fresh engine."""

import pytest

from engine_testkit import (PROMPTS, mx, PrefillDone, assert_greedy_parity, chat_ids, fresh_engine, of_type,
                            summary_of)


def next_turn(engine, first_prompt: list[int], reply: list[int], text: str) -> list[int]:
    """The ids of [user, assistant reply, user text] continuing exactly from first_prompt + reply."""
    closing = engine.tokenizer.encode("<|im_end|>\n", add_special_tokens=False)
    assert closing[0] == engine.tokenizer.convert_tokens_to_ids("<|im_end|>")
    return first_prompt + reply + closing + chat_ids(engine, text)


def assert_cache_holds_the_reply(engine, prompt: list[int], reply: list[int]) -> int:
    """The caches hold the prompt and the reply, except at most its last (staged) token; return how many."""
    cached = engine._state.tokens
    assert cached == (prompt + reply)[:len(cached)]
    assert len(cached) >= len(prompt) + len(reply) - 1
    return len(cached)


def assert_matches_fresh_engine(engine, ids: list[int], got, mode: str = "dflash") -> None:
    """Same reply as a fresh engine; with the same tokens, the same caches and draft context too."""
    fresh = fresh_engine(engine)
    want = summary_of(list(fresh.generate(ids, max_tokens=48, mode=mode)))
    assert got.stop_reason == want.stop_reason
    assert_greedy_parity(engine.target, ids, got.token_ids, want.token_ids)
    if got.token_ids != want.token_ids:
        return  # split at a near-tie: the states legitimately differ
    reused, clean = engine._state, fresh._state
    assert reused.tokens == clean.tokens
    assert engine.target.cache_offset(reused.cache) == len(reused.tokens)
    if mode == "plain":
        return  # plain decoding keeps no draft context
    # a stale draft context would not change the output (the target decides), only acceptance: check it directly
    assert reused.context.length == clean.context.length == len(reused.tokens)
    for (k, v), (k0, v0) in zip(reused.context.kv(), clean.context.kv(), strict=True):
        assert k.shape == k0.shape and mx.allclose(k, k0, atol=1e-4).item() and mx.allclose(v, v0, atol=1e-4).item()


@pytest.mark.parametrize("first_mode,mode", [("dflash", "dflash"), ("auto", "dflash"), ("auto", "auto"),
                                             ("plain", "plain")])
def test_second_turn_prefills_only_the_new_suffix_and_matches_a_fresh_engine(engine, first_mode, mode):
    """Also after an auto turn, whose plain stretches must still feed the draft's context."""
    first_ids = chat_ids(engine, PROMPTS[0])
    first = summary_of(list(engine.generate(first_ids, max_tokens=24, mode=first_mode)))
    assert first.stop_reason == "length"
    ids = next_turn(engine, first_ids, first.token_ids, PROMPTS[1])
    new_suffix = ids[assert_cache_holds_the_reply(engine, first_ids, first.token_ids):]

    events = list(engine.generate(ids, max_tokens=48, mode=mode))
    [prefill] = of_type(events, PrefillDone)
    assert prefill.prompt_tokens == len(ids)
    assert prefill.prefilled_tokens == len(new_suffix) < prefill.prompt_tokens
    summary = summary_of(events)
    assert summary.prefilled_tokens == len(new_suffix)
    assert_matches_fresh_engine(engine, ids, summary, mode)

    # and a third turn keeps going the same way
    third_ids = next_turn(engine, ids, summary.token_ids, PROMPTS[2])
    cached = assert_cache_holds_the_reply(engine, ids, summary.token_ids)
    third = summary_of(list(engine.generate(third_ids, max_tokens=48, mode=mode)))
    assert third.prefilled_tokens == len(third_ids) - cached
    assert_matches_fresh_engine(engine, third_ids, third, mode)


def test_prompt_diverging_from_the_cache_starts_over_or_trims_and_matches_a_fresh_engine(engine):
    first_ids = chat_ids(engine, PROMPTS[0])
    summary_of(list(engine.generate(first_ids, max_tokens=24)))
    cached = list(engine._state.tokens)
    ids = chat_ids(engine, PROMPTS[2])  # shares the chat template's opening tokens only
    common = next(i for i, (a, b) in enumerate(zip(cached, ids)) if a != b)
    assert 0 < common < len(first_ids)

    summary = summary_of(list(engine.generate(ids, max_tokens=48)))
    if engine.target.cache_trimmable():
        assert summary.prefilled_tokens == len(ids) - common  # attention caches trim to the common prefix
    else:
        assert summary.prefilled_tokens == len(ids)  # recurrent state cannot be trimmed: start over
    assert_matches_fresh_engine(engine, ids, summary)


def test_regenerating_the_same_prompt_matches_a_fresh_engine(engine):
    ids = chat_ids(engine, PROMPTS[1])
    summary_of(list(engine.generate(ids, max_tokens=24)))
    again = summary_of(list(engine.generate(ids, max_tokens=48)))
    assert again.prefilled_tokens == (1 if engine.target.cache_trimmable() else len(ids))
    assert_matches_fresh_engine(engine, ids, again)


def test_dflash_turn_after_a_plain_turn_matches_a_fresh_engine(engine):
    first_ids = chat_ids(engine, PROMPTS[0])
    first = summary_of(list(engine.generate(first_ids, max_tokens=24, mode="plain")))
    ids = next_turn(engine, first_ids, first.token_ids, PROMPTS[1])
    summary = summary_of(list(engine.generate(ids, max_tokens=48, mode="dflash")))
    assert summary.mode == "dflash"
    assert_matches_fresh_engine(engine, ids, summary)


def test_bounded_draft_context_keeps_sink_and_window_and_a_diverging_turn_starts_over(engine):
    """With a context window the draft keeps the first 64 + last `window` positions; once it has evicted,
    trimming back is impossible, so a diverging prompt re-prefills from scratch (still the same answer)."""
    from engine_testkit import cut_at_stop, reference_greedy

    engine.context_window = 32
    engine.reset()
    ids = chat_ids(engine, PROMPTS[0])
    summary = summary_of(list(engine.generate(ids, max_tokens=96)))
    reference = cut_at_stop(reference_greedy(engine.target, ids, 96), set(engine.tokenizer.eos_token_ids))
    assert_greedy_parity(engine.target, ids, summary.token_ids, reference)
    context = engine._state.context
    assert context.evicted and context.length == len(engine._state.tokens) > 64 + 32
    assert all(k.shape[2] == v.shape[2] == 64 + 32 for k, v in context.kv())

    diverging = chat_ids(engine, PROMPTS[1])
    again = summary_of(list(engine.generate(diverging, max_tokens=48)))
    assert again.prefilled_tokens == len(diverging)
    assert_matches_fresh_engine(engine, diverging, again)
