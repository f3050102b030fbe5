"""Rolling the target back after a recorded verify leaves exactly the state of one-by-one decoding."""

import pytest

from dflash_tui.engine.decode import accept_greedy
from engine_testkit import PROMPTS, chat_ids, mx, reference_greedy

B = 16
ATOL = 1e-5


def prefilled_cache(target, prompt: list[int]) -> list:
    cache = target.make_cache()
    mx.eval(target.model(mx.array([prompt]), cache=cache))
    return cache


def cache_arrays(cache) -> list:
    out = []
    for c in cache:
        if hasattr(c, "keys"):
            out += [c.keys, c.values]
        else:
            out += list(c.cache)
    return out


def assert_same_cache(got: list, want: list) -> None:
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if hasattr(w, "keys"):
            assert g.offset == w.offset, f"layer {i}: KV offset {g.offset} != {w.offset}"
            n = w.offset
            for name in ("keys", "values"):
                a, b = getattr(g, name)[..., :n, :], getattr(w, name)[..., :n, :]
                assert mx.allclose(a, b, atol=ATOL, rtol=0).item(), (
                    f"layer {i} {name}: max diff {mx.abs(a - b).max().item():.2e}")
        else:
            for slot, name in ((0, "conv state"), (1, "recurrent state")):
                a, b = g[slot], w[slot]
                assert (a.shape, a.dtype) == (b.shape, b.dtype), f"layer {i} {name}"
                assert mx.allclose(a, b, atol=ATOL, rtol=0).item(), (
                    f"layer {i} {name}: max diff {mx.abs(a - b).max().item():.2e}")


def forced_block(target, prompt: list[int], accepted: int) -> list[int]:
    """[staged, d1..d15] whose first `accepted` drafts are the target's greedy choices and the next one is not."""
    greedy = reference_greedy(target, prompt, B)
    block = list(greedy)
    if accepted < B - 1:
        block[accepted + 1] = (block[accepted + 1] + 1) % target.vocab_size
    return block


@pytest.mark.parametrize("family", ["qwen3_5", "qwen3"])
@pytest.mark.parametrize("accepted", range(B))
def test_rollback_matches_autoregressive_state_for_every_accept_length(engines, family, accepted):
    target = engines[family].target
    prompt = chat_ids(engines[family], PROMPTS[accepted % len(PROMPTS)])
    block = forced_block(target, prompt, accepted)

    verified = prefilled_cache(target, prompt)
    logits, _, record = target.forward(mx.array([block]), verified, taps=[1, 2], record=True)
    posterior = mx.argmax(logits[0], axis=-1).tolist()
    assert accept_greedy(block[1:], posterior) == accepted
    target.rollback(verified, record, keep=accepted + 1)

    stepped = prefilled_cache(target, prompt)
    for tok in block[:accepted + 1]:
        target.model(mx.array([[tok]]), cache=stepped)
    assert_same_cache(verified, stepped)

    # and the rolled-back cache decodes the bonus token as one-by-one decoding would
    bonus = mx.array([[posterior[accepted]]])
    after_rollback = target.model(bonus, cache=verified)
    after_steps = target.model(bonus, cache=stepped)
    assert mx.allclose(after_rollback, after_steps, atol=1e-4, rtol=0).item()


@pytest.mark.parametrize("family", ["qwen3_5", "qwen3"])
def test_rollback_with_every_draft_accepted_changes_nothing(engines, family):
    target = engines[family].target
    prompt = chat_ids(engines[family], PROMPTS[0])
    cache = prefilled_cache(target, prompt)
    _, _, record = target.forward(mx.array([forced_block(target, prompt, B - 1)]), cache, taps=[], record=True)
    before = cache_arrays(cache)
    offsets = [getattr(c, "offset", None) for c in cache]
    target.rollback(cache, record, keep=B)
    assert all(a is b for a, b in zip(cache_arrays(cache), before, strict=True))
    assert [getattr(c, "offset", None) for c in cache] == offsets
