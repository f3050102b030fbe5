"""Helpers shared by the engine tests: reference greedy decoding, near-tie detection, event plumbing."""

from __future__ import annotations

import itertools
from functools import partial

from pytest import approx

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui.engine.events import CycleStats, GenerationSummary, PrefillDone, TokenChunk  # noqa: E402

FAMILIES = ("qwen3", "qwen3_5")  # what the `engine` fixture runs every test on
ALL_FAMILIES = FAMILIES + ("llama",)  # llama joins the parity tests

PROMPTS = (
    "Write a Python function that reverses a list.",
    "The quick brown fox jumps over the lazy dog. What happens next?",
    "def main(): return 42",
)
NEAR_TIE = 1e-3  # top-2 logit gap below which greedy output may legitimately split (DFLASH.md section 5)


def chat_ids(engine, text: str) -> list[int]:
    return engine.encode_chat([{"role": "user", "content": text}])


def fresh_engine(engine):
    """An Engine with the same weights and no cached conversation."""
    from dflash_tui.engine.session import Engine

    return Engine(engine.target, engine.tokenizer, engine.draft)


def greedy(logits: mx.array) -> mx.array:
    return mx.argmax(logits, axis=-1)


_reference_memo: dict[tuple[int, tuple[int, ...]], list[int]] = {}


def reference_greedy(target, prompt: list[int], n: int) -> list[int]:
    """mlx-lm's own greedy decoding (generate_step, argmax) on a fresh cache; ignores EOS.

    Memoized per (model, prompt): the weights never change during a session and a
    shorter greedy run is a prefix of a longer one.
    """
    from mlx_lm.generate import generate_step

    key = (id(target.model), tuple(prompt))
    if len(_reference_memo.get(key, ())) < n:
        steps = generate_step(mx.array(prompt), target.model, max_tokens=n, sampler=greedy,
                              prompt_cache=target.make_cache())
        _reference_memo[key] = [int(tok) for tok, _ in steps]
    return _reference_memo[key][:n]


def first_near_tie(target, prompt: list[int], continuation: list[int], tol: float = NEAR_TIE) -> int:
    """Index of the first continuation token whose top-2 target logits (plain forward) differ by < tol."""
    if not continuation:
        return 0
    logits = target.model(mx.array([prompt + continuation]))[0, len(prompt) - 1:len(prompt) - 1 + len(continuation)]
    top2 = mx.sort(logits.astype(mx.float32), axis=-1)[:, -2:]
    gaps = (top2[:, 1] - top2[:, 0]).tolist()
    return next((i for i, g in enumerate(gaps) if g < tol), len(continuation))


def cut_at_stop(tokens: list[int], stop_ids) -> list[int]:
    return next((tokens[:i] for i, t in enumerate(tokens) if t in stop_ids), tokens)


def assert_greedy_parity(target, prompt: list[int], got: list[int], reference: list[int], min_checked: int = 16) -> int:
    """got == reference up to the reference's first near-tie (all of it when there is none).

    Returns how many tokens were compared; fails when fewer than min_checked could be,
    so a run of near-ties cannot make the comparison vacuous.
    """
    m = first_near_tie(target, prompt, reference)
    checked = min(m, len(reference))
    assert checked >= min(min_checked, len(reference)), f"near-tie at {m}: too early for a meaningful comparison"
    assert got[:checked] == reference[:checked], (
        f"first difference at {next(i for i, (a, b) in enumerate(zip(got, reference)) if a != b)} "
        f"(near-tie at {m})")
    if m >= len(reference):
        assert got == reference
    return checked


def run_to_end(gen):
    """Drain a decode generator; return (events, its return value)."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def of_type(events, cls) -> list:
    return [e for e in events if isinstance(e, cls)]


def summary_of(events) -> GenerationSummary:
    assert isinstance(events[-1], GenerationSummary), f"last event is {type(events[-1]).__name__}"
    assert not events[-1].error, events[-1].error
    return events[-1]


def streamed_ids(events) -> list[int]:
    return [t for e in of_type(events, TokenChunk) for t in e.token_ids]


def forced_proposer(reference: list[int], prompt_len: int, accept_lengths, vocab_size: int):
    """A propose= callable whose drafts are the reference continuation, right for exactly k tokens.

    k cycles over accept_lengths (a k >= block_size - 1 means every draft is right).
    Returns (propose, forced) where forced lists the k chosen for each cycle, in order.
    """
    ks = itertools.cycle(accept_lengths)
    forced: list[int] = []

    def propose(staged: int, offset: int, block_size: int) -> list[int]:
        i = offset - prompt_len  # index of the staged token in the generated sequence
        k = next(ks)
        forced.append(k)
        drafts = list(reference[i + 1:i + block_size])
        if k < block_size - 1:
            drafts[k] = (drafts[k] + 1) % vocab_size
        return drafts

    return propose, forced


def force_drafts(monkeypatch, engine, ids: list[int], accept_lengths, n: int = 200) -> list[int]:
    """Make engine.generate's DFlash drafts right for exactly k tokens per cycle, k cycling over accept_lengths.

    Returns the reference greedy continuation (n tokens) the drafts are taken from.
    """
    from dflash_tui.engine import session
    from dflash_tui.engine.decode import dflash_generate

    reference = reference_greedy(engine.target, ids, n)
    propose, _ = forced_proposer(reference, len(ids), accept_lengths, engine.target.vocab_size)
    monkeypatch.setattr(session, "dflash_generate", partial(dflash_generate, propose=propose))
    return reference


def assert_consistent_stats(engine, events, block_size: int = 16) -> None:
    """Every summary number follows from the cycles; in auto mode plain steps are cycles that draft nothing."""
    summary = summary_of(events)
    cycles = of_type(events, CycleStats)
    assert summary.cycles == len(cycles) > 0
    assert [c.cycle for c in cycles] == list(range(1, len(cycles) + 1))
    assert summary.generated_tokens == len(summary.token_ids) == len(streamed_ids(events))
    decoded = engine.tokenizer.decode(summary.token_ids)
    assert summary.text == decoded.removeprefix(" ")  # mlx-lm's BPE detokenizer drops a reply's leading space
    assert "".join(e.text for e in of_type(events, TokenChunk)) == summary.text  # streamed text adds up
    committed = [c.committed for c in cycles]
    drafting = [c for c in cycles if c.drafted]
    per_cycle = [c.committed for c in drafting] or committed  # tau counts draft-verify cycles only
    assert summary.tau == approx(sum(per_cycle) / len(per_cycle))
    if summary.stop_reason == "length":
        assert sum(committed) == len(summary.token_ids) - 1  # the first token comes from the prefill
    assert all(c.drafted == c.block_size - 1 and c.accepted <= c.drafted for c in drafting)
    assert all(c.block_size == 1 and c.accepted == 0 and c.committed == 1 for c in cycles if not c.drafted)
    assert summary.drafted == sum(c.drafted for c in cycles)
    assert summary.accepted == sum(c.accepted for c in cycles)
    assert summary.acceptance == approx(summary.accepted / summary.drafted)
    assert sum(summary.accept_histogram) == len(drafting)
    assert summary.accept_histogram == [sum(c.accepted == k for c in drafting) for k in range(block_size)]
    assert all(c.committed == c.accepted + 1 for c in cycles[:-1])
    assert 1 <= cycles[-1].committed <= cycles[-1].accepted + 1
    assert [c.generated_tokens for c in cycles] == [sum(committed[:i + 1]) for i in range(len(cycles))]
    assert set(summary.phase_s) == {"draft", "verify", "rollback", "other"}
    assert all(t >= 0 for t in summary.phase_s.values())
    assert all(t >= 0 for c in cycles for t in (c.draft_s, c.verify_s, c.rollback_s, c.other_s))
    assert summary.prefill_s >= 0 and summary.ttft_s >= summary.prefill_s and summary.generation_s > 0
    for phase, attr in (("draft", "draft_s"), ("verify", "verify_s"), ("rollback", "rollback_s")):
        assert summary.phase_s[phase] == approx(sum(getattr(c, attr) for c in cycles))
    [prefill] = of_type(events, PrefillDone)
    assert (prefill.prompt_tokens, prefill.prefilled_tokens) == (summary.prompt_tokens, summary.prefilled_tokens)


__all__ = ["CycleStats", "GenerationSummary", "PrefillDone", "TokenChunk", "PROMPTS", "mx"]
