"""The decode loops: DFlash (draft a block, verify it, accept, roll back) and plain.

Both are generators of plain event dataclasses (events.py). They work on a
`DecodeState` that outlives one generation so the next chat turn can reuse the
caches. Every cycle checks the cancel event; a cancelled or finished generation
leaves the state consistent: the caches hold exactly `state.tokens`, and the
last emitted token (the "staged" token) is not yet in them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..mlx_setup import import_mlx
from .context import DraftContext
from .draft import DFlashDraftModel
from .events import MODE_DFLASH, MODE_PLAIN, GenerationEvent, PrefillDone, TokenChunk
from .stats import StatsRecorder
from .target import TargetAdapter

mx = import_mlx()

PREFILL_CHUNK = 512


@dataclass
class DecodeState:
    """Target cache + draft context covering exactly `tokens`."""

    cache: list
    tokens: list[int] = field(default_factory=list)
    context: DraftContext | None = None


def accept_greedy(drafts: list[int], posterior: list[int]) -> int:
    """Number of leading drafts equal to the target's own choice at that position."""
    a = 0
    for d, p in zip(drafts, posterior):
        if d != p:
            break
        a += 1
    return a


class _Emitter:
    """Stop tokens, max tokens and incremental detokenization for one generation."""

    def __init__(self, tokenizer, stop_ids: set[int], max_tokens: int):
        self.detok = tokenizer.detokenizer
        self.detok.reset()
        self.stop_ids = stop_ids
        self.max_tokens = max_tokens
        self.token_ids: list[int] = []
        self.stop_reason: str | None = None

    def take(self, chosen: list[int]) -> tuple[int, TokenChunk | None]:
        """Consume tokens chosen by the target; return (how many were used, chunk to emit)."""
        used, emitted = 0, []
        for t in chosen:
            used += 1
            if t in self.stop_ids:
                self.stop_reason = "stop"
                break
            emitted.append(t)
            self.token_ids.append(t)
            if len(self.token_ids) >= self.max_tokens:
                self.stop_reason = "length"
                break
        for t in emitted:
            self.detok.add_token(t)
        text = self.detok.last_segment
        return used, (TokenChunk(text, emitted) if emitted or text else None)

    def finish(self) -> TokenChunk | None:
        self.detok.finalize()
        tail = self.detok.last_segment
        return TokenChunk(tail, []) if tail else None

    @property
    def text(self) -> str:
        return self.detok.text


def prefill(target: TargetAdapter, draft: DFlashDraftModel | None, state: DecodeState, new_tokens: list[int],
            chunk: int = PREFILL_CHUNK) -> mx.array:
    """Run new_tokens through the target (and the draft's context); return the last logits."""
    taps = draft.config.target_layer_ids if draft is not None else []
    logits = None
    for start in range(0, len(new_tokens), chunk):
        piece = new_tokens[start:start + chunk]
        logits, feats, _ = target.forward(mx.array([piece]), state.cache, taps)
        logits = logits[:, -1]
        to_eval = [logits] + [a for c in state.cache for a in (c.state if hasattr(c, "keys") else c.cache)
                              if isinstance(a, mx.array)]
        if draft is not None:
            state.context.append(draft.context_kv(draft.fuse(feats), state.context.length))
            to_eval += state.context.arrays()
        mx.eval(to_eval)
        state.tokens.extend(piece)
    return logits


Proposer = Callable[[int, int, int], list[int]]  # (staged token, absolute offset, block size) -> drafts


def draft_block(target: TargetAdapter, draft: DFlashDraftModel, state: DecodeState) -> Proposer:
    """The DFlash proposer: one draft pass over [staged, MASK x (B-1)] read out by the target's head."""
    mask_id = draft.config.mask_token_id

    def propose(staged: int, offset: int, block_size: int) -> list[int]:
        block = mx.array([[staged] + [mask_id] * (block_size - 1)])
        hidden = draft(target.embed(block), state.context.kv(), offset)
        return mx.argmax(target.logits(hidden[:, 1:]), axis=-1)[0].tolist()

    return propose


def dflash_generate(target: TargetAdapter, draft: DFlashDraftModel, tokenizer, state: DecodeState,
                    new_tokens: list[int], prompt_len: int, *, max_tokens: int, block_size: int,
                    stop_ids: set[int], cancel: threading.Event | None,
                    propose: Proposer | None = None) -> Iterator[GenerationEvent]:
    """Greedy DFlash decoding; yields PrefillDone, TokenChunk and CycleStats, returns the recorder.

    `propose` replaces the draft pass (tests force exact acceptance lengths with it).
    """
    rec = StatsRecorder(MODE_DFLASH, block_size)
    out = _Emitter(tokenizer, stop_ids, max_tokens)
    logits = prefill(target, draft, state, new_tokens)
    staged = int(mx.argmax(logits, axis=-1).item())
    rec.prefill_done(prompt_len, len(new_tokens))
    yield PrefillDone(prompt_len, len(new_tokens), rec.prefill_s)
    rec.first_token()
    _, chunk = out.take([staged])
    if chunk:
        yield chunk
    taps = draft.config.target_layer_ids
    propose = propose or draft_block(target, draft, state)
    while out.stop_reason is None:
        if cancel is not None and cancel.is_set():
            out.stop_reason = "cancelled"
            break
        t0 = time.perf_counter()
        offset = len(state.tokens)
        drafts = propose(staged, offset, block_size)
        t1 = time.perf_counter()
        verify_in = [staged] + drafts
        logits, feats, record = target.forward(mx.array([verify_in]), state.cache, taps, record=True)
        posterior = mx.argmax(logits[0], axis=-1).tolist()
        t2 = time.perf_counter()
        a = accept_greedy(drafts, posterior)
        chosen = drafts[:a] + [posterior[a]]
        used, chunk = out.take(chosen)
        keep = used  # cache keeps staged + the chosen tokens before the new staged one
        t3 = time.perf_counter()
        target.rollback(state.cache, record, keep)
        if keep < block_size:
            mx.eval([a for c in state.cache for a in (c.cache if hasattr(c, "cache") else ())
                     if isinstance(a, mx.array)])
        t4 = time.perf_counter()
        state.context.append(draft.context_kv(draft.fuse(feats[:, :keep]), offset))
        mx.eval(state.context.arrays())
        state.tokens.extend(verify_in[:keep])
        staged = chosen[used - 1]
        t5 = time.perf_counter()
        if chunk:
            yield chunk
        phases = {"draft": (t1 - t0) + (t5 - t4), "verify": t2 - t1, "rollback": t4 - t3,
                  "other": t3 - t2 + (time.perf_counter() - t5)}
        yield rec.cycle(block_size - 1, a, used, phases)
    tail = out.finish()
    if tail:
        yield tail
    return rec, out


def plain_generate(target: TargetAdapter, tokenizer, state: DecodeState, new_tokens: list[int],
                   prompt_len: int, *, max_tokens: int, stop_ids: set[int], temperature: float,
                   cancel: threading.Event | None) -> Iterator[GenerationEvent]:
    """Plain autoregressive decoding through mlx-lm's stream_generate, on the shared cache."""
    from mlx_lm.generate import stream_generate
    from mlx_lm.sample_utils import make_sampler

    rec = StatsRecorder(MODE_PLAIN, 1)
    out = _Emitter(tokenizer, stop_ids, max_tokens)
    # mlx-lm stops on the tokenizer's EOS ids itself; we still own the other stop ids.
    stream = stream_generate(target.model, tokenizer, mx.array(new_tokens), max_tokens=max_tokens,
                             prompt_cache=state.cache, sampler=make_sampler(temp=temperature))
    last = time.perf_counter()
    generated_all: list[int] = []
    for i, resp in enumerate(stream):
        now = time.perf_counter()
        if i == 0:
            rec.start = now - resp.prompt_tokens / max(resp.prompt_tps, 1e-9)
            rec.prefill_done(prompt_len, len(new_tokens))
            rec.gen_start = now
            rec.first_token()
            yield PrefillDone(prompt_len, len(new_tokens), rec.prefill_s)
        generated_all.append(resp.token)
        _, chunk = out.take([resp.token])
        if chunk:
            yield chunk
        if i > 0:
            yield rec.cycle(0, 0, 1, {"verify": now - last})
        last = now
        if resp.finish_reason == "stop" and out.stop_reason is None:
            out.stop_reason = "stop"
        if out.stop_reason is not None:
            break
        if cancel is not None and cancel.is_set():
            out.stop_reason = "cancelled"
            break
    stream.close()
    if out.stop_reason is None:
        out.stop_reason = "length"
    offset = target.cache_offset(state.cache)
    full = state.tokens + list(new_tokens) + generated_all
    if offset is not None and offset <= len(full):
        state.tokens = full[:offset]
    else:
        state.tokens = []  # unknown cache contents: the next request starts over
        state.cache = target.make_cache()
    state.context = None  # the draft saw none of this: a later DFlash turn re-prefills
    tail = out.finish()
    if tail:
        yield tail
    return rec, out
