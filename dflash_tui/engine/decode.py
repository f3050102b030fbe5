"""The decode loops: DFlash (draft a block, verify it, accept, roll back) and plain.

Both are generators of plain event dataclasses (events.py). They work on a
`DecodeState` that outlives one generation so the next chat turn can reuse the
caches. Every cycle checks the cancel event; a cancelled or finished generation
leaves the state consistent: the caches hold exactly `state.tokens`, and the
last emitted token (the "staged" token) is not yet in them.

The DFlash loop takes its block size per cycle from a BlockPolicy when one is
given (block size 1 = a stretch of plain steps inside the same loop, which
keep the draft's context up to date so DFlash can resume). Greedy decoding
uses argmax acceptance; temperature > 0 (or a repetition penalty) uses the
acceptance rule of sampling.py (SamplingParams.resolved_rule), and plain
decoding draws with the same rule. Under the "coupled" rule (the default with a
seed) the token at absolute position t is argmax(log p_t + G_t) with Gumbel
noise keyed by (seed, t): verify row i of a cycle at offset `offset` (the
staged token's position, len(state.tokens)) and draft row i both choose the
token at position offset + i + 1, the first token after the prompt sits at
position len(prompt), and plain steps count positions the same way, so a seed
gives the same text in every mode, block size and policy choice.

A greedy cycle, and a coupled one without repetition penalty, waits for the
device once (draft and verify in one graph, rollback and context append
queued together); every TIMED_CYCLE_EVERY-th cycle waits after each phase instead, so
the stats can split the cycle's time into draft, verify and rollback.
"""

from __future__ import annotations

import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..mlx_setup import import_mlx
from .context import DraftContext
from .draft import DFlashDraftModel
from .events import MODE_DFLASH, MODE_PLAIN, GenerationEvent, PrefillDone, TokenChunk
from .policy import BlockPolicy
from .sampling import (RULE_BLOCK, RULE_MATCHING, RULE_REJECTION, KeyStream, PositionNoise, SamplingParams,
                       accept_block, accept_coupled, accept_matching, accept_rejection, coupled_drafts, coupled_tokens,
                       draft_tokens, draw, history_rows, one_hot_rows, shadow_survival, token_distribution)
from .stats import StatsRecorder
from .target import TargetAdapter

mx = import_mlx()
from mlx_lm.models.cache import ArraysCache  # noqa: E402

PREFILL_CHUNK = 512
TIMED_CYCLE_EVERY = 8  # greedy/coupled cycles run draft+verify with one host sync; every 8th syncs per phase
GREEDY = SamplingParams()


@dataclass
class DecodeState:
    """Target cache + draft context covering exactly `tokens`.

    Tokens decoded by plain steps reach the draft context lazily: their tap
    features wait in `pending` until a DFlash cycle (or a prefill) needs them.
    """

    cache: list
    tokens: list[int] = field(default_factory=list)
    context: DraftContext | None = None
    pending: list = field(default_factory=list)  # tap features [1, n, F] of the last tokens, not in context yet

    def draft_covered(self) -> int:
        """Tokens the draft context holds or will hold once `pending` is flushed."""
        if self.context is None:
            return 0
        return self.context.length + sum(f.shape[1] for f in self.pending)


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
    if draft is not None:
        flush_pending(draft, state)
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


def position_noise(sampling: SamplingParams, keys: KeyStream) -> PositionNoise | None:
    """The coupled rule's noise for one generation (keyed by the stream's seed), or None under another rule."""
    return PositionNoise(keys.seed) if sampling.coupled else None


def first_token(logits: mx.array, state: DecodeState, sampling: SamplingParams, keys: KeyStream,
                noise: PositionNoise | None = None) -> int:
    """The token after the prompt (at position len(state.tokens)), from the prefill's last logits [1, V]."""
    if sampling.argmax_only:
        return int(mx.argmax(logits, axis=-1).item())
    hist = history_rows(state.tokens[-sampling.repetition_context:], [], 1, sampling.repetition_context)
    if noise is not None:
        rows = noise.rows(len(state.tokens), 1, logits.shape[-1])
        return int(coupled_tokens(logits, sampling, rows, hist).item())
    return int(draw(token_distribution(logits, sampling, hist), keys.next()).item())


Proposer = Callable[[int, int, int], list[int]]  # (staged token, absolute offset, block size) -> drafts


def draft_logits(target: TargetAdapter, draft: DFlashDraftModel, state: DecodeState) -> Callable:
    """One draft pass over [staged, MASK x (B-1)] read out by the target's head: logits [B-1, V]."""
    mask_id = draft.config.mask_token_id

    def run(staged: int, offset: int, block_size: int) -> mx.array:
        block = mx.array([[staged] + [mask_id] * (block_size - 1)])
        hidden = draft(target.embed(block), state.context.kv(), offset)
        return target.logits(hidden[:, 1:])[0]

    return run


def draft_block(target: TargetAdapter, draft: DFlashDraftModel, state: DecodeState) -> Proposer:
    """The greedy DFlash proposer: the argmax of each block position."""
    run = draft_logits(target, draft, state)

    def propose(staged: int, offset: int, block_size: int) -> list[int]:
        return mx.argmax(run(staged, offset, block_size), axis=-1).tolist()

    return propose


def _argmax_rows(logits: mx.array) -> mx.array:
    return mx.argmax(logits, axis=-1).astype(mx.int32)


def fused_greedy_forward(target: TargetAdapter, run_draft: Callable, state: DecodeState, staged: int,
                         offset: int, block_size: int, taps: list[int], choose: Callable | None = None):
    """Draft and verify as one graph with one host sync: the draft's argmax tokens feed the verify on the
    device, and the drafts and the target's posterior come back together.

    `choose(logits [n, V], first position) -> int32 [n]` replaces the argmax on
    both sides (the coupled rule's perturbed argmax; row i is at position first + i).
    Returns (drafts, posterior, verify features, VerifyRecord). On a GPU every
    sync leaves it idle while the host builds the next graph; this removes two of them per cycle.
    """
    if choose is None:
        drafts = _argmax_rows(run_draft(staged, offset, block_size))
    else:
        drafts = choose(run_draft(staged, offset, block_size), offset + 1)
    verify_in = mx.concatenate([mx.array([staged], dtype=mx.int32), drafts])[None]
    logits, feats, record = target.forward(verify_in, state.cache, taps, record=True)
    posterior = _argmax_rows(logits[0]) if choose is None else choose(logits[0], offset + 1)
    both = mx.concatenate([drafts, posterior]).tolist()
    return both[:block_size - 1], both[block_size - 1:], feats, record


def coupled_chooser(sampling: SamplingParams, noise: PositionNoise) -> Callable:
    """fused_greedy_forward's `choose` for the coupled rule without repetition penalty (no history needed)."""

    def choose(logits: mx.array, first: int) -> mx.array:
        return coupled_tokens(logits, sampling, noise.rows(first, logits.shape[0], logits.shape[-1]))

    return choose


def _undo_last_step(cache: list, saved: list) -> None:
    """Drop the one token fed last: attention caches trim, recurrent caches get their old arrays back."""
    for c, s in zip(cache, saved):
        if s is None:
            c.trim(1)
        else:
            c.cache = s


def plain_steps(target: TargetAdapter, state: DecodeState, staged: int, steps: int, taps: list[int],
                sampling: SamplingParams, keys: KeyStream, should_stop: Callable[[], bool],
                noise: PositionNoise | None = None, drawn_probs: list | None = None,
                probs_wanted: int = 0) -> Iterator[int]:
    """Decode up to `steps` tokens one at a time, yielding each; `staged` is fed first.

    Runs one step ahead like mlx-lm's generate_step (the next forward is queued
    before the current token is read), and undoes that step when should_stop()
    turns true after a yield. Appends each fed token to state.tokens and its
    tap features (when taps are given) to state.pending; the last yielded token stays staged.
    With `noise` (the coupled rule), the token after the one fed at position t is chosen at t + 1.
    `drawn_probs`, when given, gets the probability the first `probs_wanted` sampled tokens had (a sampled shadow
    probe's estimate needs a block's worth, not the whole stretch's).
    """
    C = sampling.repetition_context
    hist = history_rows(state.tokens[-C:] + [staged], [], 1, C) if sampling.penalized else None
    position = len(state.tokens)  # of the staged token
    first = position

    def step(token: mx.array):
        nonlocal hist, position
        position += 1  # of the token this step chooses
        logits, feats, _ = target.forward(token[None], state.cache, taps)
        logits = logits[0, -1:]
        prob = None
        if sampling.argmax_only:
            nxt = mx.argmax(logits, axis=-1)
        elif noise is not None:
            nxt = coupled_tokens(logits, sampling, noise.rows(position, 1, logits.shape[-1]), hist)
            if hist is not None:
                hist = mx.concatenate([hist[:, 1:], nxt[None]], axis=1)
        else:
            dist = token_distribution(logits, sampling, hist)
            nxt = draw(dist, keys.next()).astype(mx.int32)
            if drawn_probs is not None and position - first <= probs_wanted:
                prob = mx.take_along_axis(dist, nxt[:, None], axis=-1)[0, 0]
            if hist is not None:
                hist = mx.concatenate([hist[:, 1:], nxt[None]], axis=1)
        return nxt, feats, prob

    hybrid = any(isinstance(c, ArraysCache) for c in state.cache)
    fed = staged
    pending = step(mx.array([staged]))
    mx.async_eval([a for a in pending if a is not None])
    for i in range(steps):
        token, feats, prob = pending
        saved = None
        if i + 1 < steps:
            saved = [list(c.cache) if isinstance(c, ArraysCache) else None for c in state.cache] if hybrid \
                else [None] * len(state.cache)
            pending = step(token)
            mx.async_eval([a for a in pending if a is not None])
        tok = int(token.item())
        if drawn_probs is not None and prob is not None:
            drawn_probs.append(prob.item())
        state.tokens.append(fed)
        if feats is not None:
            state.pending.append(feats)
        fed = tok
        try:
            yield tok
        except GeneratorExit:  # the caller walked away: the caches must still hold just state.tokens
            if saved is not None:
                _undo_last_step(state.cache, saved)
            raise
        if should_stop():
            if saved is not None:
                _undo_last_step(state.cache, saved)
            return


def can_shadow_probe(sampling: SamplingParams) -> bool:
    """Whether a draft can be checked against plain decoding's own tokens: where both choose
    deterministically from the same inputs (greedy, or the coupled rule's position-keyed noise), a cycle
    would have accepted exactly the drafts that plain decoding goes on to choose; under the block and
    rejection rules without a repetition penalty the plain tokens give an unbiased estimate of it instead
    (sampling.shadow_survival)."""
    return sampling.argmax_only or sampling.coupled or estimated_shadow(sampling)


def estimated_shadow(sampling: SamplingParams) -> bool:
    """Shadow probes judged by sampling.shadow_survival: drafts q against the plain tokens' own p."""
    return (not sampling.greedy and not sampling.penalized
            and sampling.resolved_rule in (RULE_BLOCK, RULE_REJECTION))


def sampled_shadow_probe(draft: DFlashDraftModel, state: DecodeState, run_draft: Callable, staged: int,
                         block_size: int, sampling: SamplingParams) -> tuple[mx.array, float]:
    """A draft pass alone under sampling: (q [block_size - 1, V], the distributions a cycle would draw
    its drafts from, and the seconds spent). No draft is drawn, so no key of the stream is used."""
    start = time.perf_counter()
    flush_pending(draft, state)
    q = token_distribution(run_draft(staged, len(state.tokens), block_size), sampling)
    mx.eval(q)
    return q, time.perf_counter() - start


def shadow_probe(draft: DFlashDraftModel, state: DecodeState, propose: Proposer, staged: int,
                 block_size: int) -> tuple[list[int], float]:
    """A draft pass alone, before a plain stretch (see can_shadow_probe): the stretch's own tokens show how much of
    the block a cycle would have accepted, for a draft pass instead of a cycle. Returns (drafts, seconds
    spent, the plain tokens' context included)."""
    start = time.perf_counter()
    flush_pending(draft, state)
    drafts = propose(staged, len(state.tokens), block_size)
    return drafts, time.perf_counter() - start


def flush_pending(draft: DFlashDraftModel, state: DecodeState) -> None:
    """Give the draft the context of tokens decoded by plain steps."""
    if state.pending and state.context is not None:
        feats = mx.concatenate(state.pending, axis=1)
        state.context.append(draft.context_kv(draft.fuse(feats), state.context.length))
        mx.eval(state.context.arrays())
    state.pending.clear()


def _choose_tokens(logits: mx.array, drafts: list[int], q: mx.array | None, state: DecodeState, staged: int,
                   sampling: SamplingParams, keys: KeyStream, noise: PositionNoise | None = None,
                   offset: int = 0) -> tuple[int, list[int]]:
    """Accept drafts against the verify logits [B, V]; return (accepted, committed tokens).

    noise: the coupled rule's noise (verify row i is position offset + 1 + i), or None under another rule.
    """
    if sampling.argmax_only:
        posterior = mx.argmax(logits, axis=-1).tolist()
        a = accept_greedy(drafts, posterior)
        return a, drafts[:a] + [posterior[a]]
    C = sampling.repetition_context
    hist = history_rows(state.tokens[-C:] + [staged], drafts, len(drafts) + 1, C) if sampling.penalized else None
    if noise is not None:
        rows = noise.rows(offset + 1, logits.shape[0], logits.shape[-1])
        a, nxt = accept_coupled(logits, sampling, drafts, rows, hist)
        return a, drafts[:a] + [nxt]
    p = token_distribution(logits, sampling, hist)
    if sampling.resolved_rule == RULE_MATCHING:
        a, nxt = accept_matching(p, drafts, keys)
    else:
        accept = accept_block if sampling.resolved_rule == RULE_BLOCK else accept_rejection
        a, nxt = accept(p, q if q is not None else one_hot_rows(drafts, p.shape[-1]), drafts, keys)
    return a, drafts[:a] + [nxt]


def _prefill_and_first_token(target: TargetAdapter, draft: DFlashDraftModel | None, state: DecodeState,
                             new_tokens: list[int], prompt_len: int, rec: StatsRecorder, out: _Emitter,
                             sampling: SamplingParams, keys: KeyStream,
                             noise: PositionNoise | None) -> Iterator[GenerationEvent]:
    """Prefill, choose the first token and emit it; returns that (staged) token."""
    logits = prefill(target, draft, state, new_tokens)
    staged = first_token(logits, state, sampling, keys, noise)
    rec.prefill_done(prompt_len, len(new_tokens))
    yield PrefillDone(prompt_len, len(new_tokens), rec.prefill_s)
    rec.first_token()
    _, chunk = out.take([staged])
    if chunk:
        yield chunk
    return staged


def dflash_generate(target: TargetAdapter, draft: DFlashDraftModel, tokenizer, state: DecodeState,
                    new_tokens: list[int], prompt_len: int, *, max_tokens: int, block_size: int,
                    stop_ids: set[int], cancel: threading.Event | None,
                    propose: Proposer | None = None, sampling: SamplingParams = GREEDY,
                    policy: BlockPolicy | None = None) -> Iterator[GenerationEvent]:
    """DFlash decoding; yields PrefillDone, TokenChunk and CycleStats, returns (recorder, emitter).

    block_size is fixed unless a `policy` chooses it per cycle. `propose`
    replaces the draft pass (tests force exact acceptance lengths with it);
    under sampling its drafts count as a deterministic proposal (one-hot q).
    """
    keys = KeyStream(sampling.seed)
    noise = position_noise(sampling, keys)
    rec = StatsRecorder(MODE_DFLASH, policy.max_block if policy else block_size)
    out = _Emitter(tokenizer, stop_ids, max_tokens)
    staged = yield from _prefill_and_first_token(target, draft, state, new_tokens, prompt_len, rec, out,
                                                 sampling, keys, noise)
    if policy is not None:
        policy.start_answer()
    taps = draft.config.target_layer_ids
    run_draft = draft_logits(target, draft, state)
    greedy_propose = draft_block(target, draft, state)

    def coupled_propose(token: int, offset: int, b: int) -> list[int]:  # as a coupled cycle drafts
        dl = run_draft(token, offset, b)
        return coupled_drafts(dl, sampling, state.tokens[-sampling.repetition_context:] + [token],
                              noise.rows(offset + 1, b - 1, dl.shape[-1]))

    shadow_propose = (propose or greedy_propose) if sampling.argmax_only else coupled_propose
    # one host sync per cycle: greedy, or coupled without a penalty (whose history needs the drafts on the host)
    fusable = propose is None and (sampling.argmax_only or (noise is not None and not sampling.penalized))
    choose = coupled_chooser(sampling, noise) if fusable and not sampling.argmax_only else None
    stopping = lambda: out.stop_reason is not None or (cancel is not None and cancel.is_set())  # noqa: E731
    last_cycle = None  # (block size, accepted, start time): costed when the next cycle starts
    cycles = 0  # DFlash cycles so far; every TIMED_CYCLE_EVERY-th one syncs per phase to time them
    phase_split = {"draft": 0.25, "verify": 0.65, "rollback": 0.05, "other": 0.05}  # until one is timed
    while out.stop_reason is None:
        now = time.perf_counter()
        if last_cycle is not None and policy is not None:
            policy.observe_cycle(last_cycle[0], last_cycle[1], now - last_cycle[2])
        last_cycle = None
        if cancel is not None and cancel.is_set():
            out.stop_reason = "cancelled"
            break
        choice = policy.choose() if policy else None
        b = choice.block_size if choice else block_size
        reason = choice.reason if choice else ""
        if b <= 1:
            estimated = bool(choice.shadow) and estimated_shadow(sampling)
            shadow = None
            if choice.shadow:
                shadow = (sampled_shadow_probe(draft, state, run_draft, staged, choice.shadow, sampling)
                          if estimated else shadow_probe(draft, state, shadow_propose, staged, choice.shadow))
            drawn = [] if estimated else None
            step_start = time.perf_counter()
            intervals = []  # step to step, from the first token on: the pipeline's fill left out
            steps = 0
            decoded = []
            steps_taken = plain_steps(target, state, staged, choice.plain_steps, taps, sampling, keys, stopping,
                                      noise, drawn, choice.shadow - 1)
            with closing(steps_taken):
                for tok in steps_taken:
                    t = time.perf_counter()
                    if steps:
                        intervals.append(t - step_start)
                    steps += 1
                    decoded.append(tok)
                    staged = tok
                    _, chunk = out.take([tok])
                    if chunk:
                        yield chunk
                    yield rec.cycle(0, 0, 1, {"verify": t - step_start}, reason=reason, mode=MODE_PLAIN,
                                    block_size=1)
                    step_start = t
            if shadow is not None and estimated:
                q, seconds = shadow
                checked = min(q.shape[0], len(decoded), len(drawn))
                q_of = mx.take_along_axis(q[:checked], mx.array(decoded[:checked])[:, None], axis=-1)[:, 0].tolist()
                policy.observe_shadow_survival(choice.shadow, shadow_survival(q_of, drawn[:checked]), seconds)
            elif shadow is not None:
                drafts, seconds = shadow
                checked = min(len(drafts), len(decoded))
                policy.observe_shadow(choice.shadow, accept_greedy(drafts, decoded[:checked]), checked, seconds)
            policy.observe_plain(steps, intervals)
            if out.stop_reason is None and cancel is not None and cancel.is_set():
                out.stop_reason = "cancelled"
            continue
        flush_start = time.perf_counter()
        flush_pending(draft, state)  # paid by the plain tokens it covers, not by this cycle
        t0 = time.perf_counter()
        offset = len(state.tokens)
        fused = fusable and cycles % TIMED_CYCLE_EVERY != 0
        cycles += 1
        q = None
        if fused:
            drafts, posterior, feats, record = fused_greedy_forward(target, run_draft, state, staged, offset, b,
                                                                    taps, choose)
            a = accept_greedy(drafts, posterior)
            chosen = drafts[:a] + [posterior[a]]
            t1 = t2 = time.perf_counter()
        else:
            if propose is not None or sampling.argmax_only:
                drafts = (propose or greedy_propose)(staged, offset, b)
            elif noise is not None:  # draft row i chooses position offset + 1 + i, with that position's noise
                dl = run_draft(staged, offset, b)
                drafts = coupled_drafts(dl, sampling, state.tokens[-sampling.repetition_context:] + [staged],
                                        noise.rows(offset + 1, b - 1, dl.shape[-1]))
            else:
                q, drafts = draft_tokens(run_draft(staged, offset, b), sampling,
                                         state.tokens[-sampling.repetition_context:] + [staged], keys)
            t1 = time.perf_counter()
            logits, feats, record = target.forward(mx.array([[staged] + drafts]), state.cache, taps, record=True)
            logits = logits[0]
            mx.eval(logits)
            t2 = time.perf_counter()
            a, chosen = _choose_tokens(logits, drafts, q, state, staged, sampling, keys, noise, offset)
        used, chunk = out.take(chosen)
        keep = used  # cache keeps staged + the chosen tokens before the new staged one
        t3 = time.perf_counter()
        target.rollback(state.cache, record, keep)
        recurrent = [a for c in state.cache for a in (c.cache if hasattr(c, "cache") else ())
                     if isinstance(a, mx.array)]
        if keep < b and not fused:  # a timed cycle waits for the replay to time it
            mx.eval(recurrent)
        t4 = time.perf_counter()
        state.context.append(draft.context_kv(draft.fuse(feats[:, :keep]), offset))
        if fused:  # queued with the replay: the next cycle waits for both on the device, not the host
            mx.async_eval(state.context.arrays() + recurrent)  # H200: adds 1.3% to a cycle, waited for 12.8%
        else:
            mx.eval(state.context.arrays())
        state.tokens.extend([staged] + drafts[:keep - 1])
        staged = chosen[used - 1]
        t5 = time.perf_counter()
        last_cycle = (b, a, t0)
        if chunk:
            yield chunk
        if fused:  # one sync: the wall time is real, its split follows the last timed cycle
            total = (time.perf_counter() - flush_start)
            phases = {k: total * v for k, v in phase_split.items()}
        else:
            phases = {"draft": (t1 - flush_start) + (t5 - t4), "verify": t2 - t1, "rollback": t4 - t3,
                      "other": t3 - t2 + (time.perf_counter() - t5)}
            whole = sum(phases.values()) or 1.0
            phase_split = {k: v / whole for k, v in phases.items()}
        yield rec.cycle(b - 1, a, used, phases, reason=reason, block_size=b)
    if policy is not None:
        rec.reason = f"{policy.last.reason} [{policy.summary()}]"
    tail = out.finish()
    if tail:
        yield tail
    return rec, out


def plain_generate(target: TargetAdapter, tokenizer, state: DecodeState, new_tokens: list[int],
                   prompt_len: int, *, max_tokens: int, stop_ids: set[int], temperature: float = 0.0,
                   cancel: threading.Event | None, sampling: SamplingParams | None = None
                   ) -> Iterator[GenerationEvent]:
    """Plain autoregressive decoding on the shared cache.

    Greedy runs through mlx-lm's stream_generate (the reference baseline);
    sampling runs through plain_steps with sampling.py, the very distribution
    DFlash sampling draws from.
    """
    if sampling is None:
        sampling = SamplingParams(temperature=temperature)
    if not sampling.argmax_only:
        return (yield from _plain_sampled(target, tokenizer, state, new_tokens, prompt_len, max_tokens=max_tokens,
                                          stop_ids=stop_ids, sampling=sampling, cancel=cancel))
    from mlx_lm.generate import stream_generate

    rec = StatsRecorder(MODE_PLAIN, 1)
    out = _Emitter(tokenizer, stop_ids, max_tokens)
    # mlx-lm stops on the tokenizer's EOS ids itself; we still own the other stop ids.
    target.threads.before_pass(len(new_tokens))  # the prefill, then one-token steps (switched after the first)
    stream = stream_generate(target.model, tokenizer, mx.array(new_tokens), max_tokens=max_tokens,
                             prompt_cache=state.cache)
    last = time.perf_counter()
    generated_all: list[int] = []
    try:
        for i, resp in enumerate(stream):
            now = time.perf_counter()
            if i == 0:
                rec.start = now - resp.prompt_tokens / max(resp.prompt_tps, 1e-9)
                rec.prefill_done(prompt_len, len(new_tokens))
                rec.gen_start = now
                rec.first_token()
                yield PrefillDone(prompt_len, len(new_tokens), rec.prefill_s)
            if i == 0:
                target.threads.before_pass(1)
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
    finally:  # also when the caller walks away: record what the cache now holds
        stream.close()
        offset = target.cache_offset(state.cache)
        full = state.tokens + list(new_tokens) + generated_all
        if offset is not None and offset <= len(full):
            state.tokens = full[:offset]
        else:
            state.tokens = []  # unknown cache contents: the next request starts over
            state.cache = target.make_cache()
        state.context = None  # the draft saw none of this: a later DFlash turn re-prefills
        state.pending.clear()
    if out.stop_reason is None:
        out.stop_reason = "length"
    tail = out.finish()
    if tail:
        yield tail
    return rec, out


def _plain_sampled(target: TargetAdapter, tokenizer, state: DecodeState, new_tokens: list[int], prompt_len: int,
                   *, max_tokens: int, stop_ids: set[int], sampling: SamplingParams,
                   cancel: threading.Event | None) -> Iterator[GenerationEvent]:
    keys = KeyStream(sampling.seed)
    noise = position_noise(sampling, keys)
    rec = StatsRecorder(MODE_PLAIN, 1)
    out = _Emitter(tokenizer, stop_ids, max_tokens)
    state.context = None  # the draft sees none of this: a later DFlash turn re-prefills
    state.pending.clear()
    staged = yield from _prefill_and_first_token(target, None, state, new_tokens, prompt_len, rec, out,
                                                 sampling, keys, noise)
    stopping = lambda: out.stop_reason is not None or (cancel is not None and cancel.is_set())  # noqa: E731
    last = time.perf_counter()
    if out.stop_reason is None:
        with closing(plain_steps(target, state, staged, max_tokens, [], sampling, keys, stopping,
                                 noise)) as steps_taken:
            for tok in steps_taken:
                _, chunk = out.take([tok])
                if chunk:
                    yield chunk
                now = time.perf_counter()
                yield rec.cycle(0, 0, 1, {"verify": now - last})
                last = now
    if out.stop_reason is None:
        out.stop_reason = "cancelled" if cancel is not None and cancel.is_set() else "length"
    tail = out.finish()
    if tail:
        yield tail
    return rec, out
