"""Sampling shared by both decode loops, and the speculative acceptance rules.

One function turns a row of logits into the distribution a token is drawn
from (`token_distribution`): repetition penalty over the last
`repetition_context` tokens, then top-p, min-p and top-k on the untempered
log-probabilities (mlx-lm's order), then temperature. Temperature 0 gives the
one-hot of the argmax, so greedy decoding is the same code with a degenerate
distribution. The target's p and the draft's q at a block position go through
exactly the same processing with the same token history.

Acceptance (`accept_rejection`) is standard speculative sampling: keep draft d
with probability min(1, p(d)/q(d)); at the first rejection draw the correction
from normalize(max(0, p - q)); if every draft is kept draw the bonus token
from p at the last position. Each DFlash position's q depends only on the
context, not on the tokens drawn at other positions (the block input is
masks), so every emitted token is distributed exactly as plain sampling from
the target. `accept_matching` is the weaker exact rule (draw from p, keep the
draft iff equal) that other MLX implementations use; it is here to compare.

Randomness comes from an explicit key stream (`KeyStream`), so a run with a
seed is reproducible for a given mode and block size sequence.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..mlx_setup import import_mlx

mx = import_mlx()

RULE_REJECTION = "rejection"
RULE_MATCHING = "matching"


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0
    top_p: float = 1.0  # 1.0 (or 0) = off
    top_k: int = 0  # 0 = off
    min_p: float = 0.0  # 0 = off
    repetition_penalty: float = 1.0  # 1.0 = off
    repetition_context: int = 20  # tokens the penalty looks back over (mlx-lm's default)
    seed: int | None = None
    rule: str = RULE_REJECTION  # DFlash acceptance: "rejection" (lossless, best) or "matching"

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 <= self.top_p <= 1:
            raise ValueError(f"top_p must be in [0, 1], got {self.top_p}")
        if not 0 <= self.min_p <= 1:
            raise ValueError(f"min_p must be in [0, 1], got {self.min_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.rule not in (RULE_REJECTION, RULE_MATCHING):
            raise ValueError(f"rule must be {RULE_REJECTION!r} or {RULE_MATCHING!r}, got {self.rule!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def penalized(self) -> bool:
        return self.repetition_penalty != 1.0

    @property
    def filtered(self) -> bool:
        """top-p, top-k or min-p drop part of the vocabulary."""
        return 0 < self.top_p < 1 or self.top_k > 0 or self.min_p > 0

    @property
    def argmax_only(self) -> bool:
        """The choice is the raw argmax: the fast greedy paths apply (filters never drop the argmax)."""
        return self.greedy and not self.penalized


class KeyStream:
    """A stream of PRNG keys: seeded runs draw the same keys in the same order."""

    def __init__(self, seed: int | None = None):
        self.seed = seed if seed is not None else random.getrandbits(32)
        self._key = mx.random.key(self.seed)

    def next(self) -> mx.array:
        self._key, sub = mx.random.split(self._key)
        return sub


def history_rows(tokens: list[int], extra: list[int], n_rows: int, context: int) -> mx.array:
    """[n_rows, context] token windows: row j is the last `context` tokens of tokens + extra[:j].

    Short windows are padded by repeating their first token (a duplicate changes nothing).
    """
    rows = []
    for j in range(n_rows):
        window = (tokens + extra[:j])[-context:] or [0]
        rows.append([window[0]] * (context - len(window)) + window)
    return mx.array(rows)


def _penalize(logits: mx.array, history: mx.array, penalty: float) -> mx.array:
    picked = mx.take_along_axis(logits, history, axis=-1)
    picked = mx.where(picked < 0, picked * penalty, picked / penalty)
    return mx.put_along_axis(logits, history, picked, axis=-1)


def _top_p(logprobs: mx.array, top_p: float) -> mx.array:
    """Keep the smallest set of most likely tokens whose mass reaches top_p."""
    order = mx.argsort(-logprobs, axis=-1)
    ranked = mx.take_along_axis(logprobs, order, axis=-1)
    mass_before = mx.cumsum(mx.exp(ranked), axis=-1) - mx.exp(ranked)
    ranked = mx.where(mass_before < top_p, ranked, -math.inf)
    return mx.put_along_axis(logprobs, order, ranked, axis=-1)


def _min_p(logprobs: mx.array, min_p: float) -> mx.array:
    floor = logprobs.max(axis=-1, keepdims=True) + math.log(min_p)
    return mx.where(logprobs < floor, -math.inf, logprobs)


def _top_k(logprobs: mx.array, top_k: int) -> mx.array:
    drop = mx.argpartition(-logprobs, kth=top_k - 1, axis=-1)[..., top_k:]
    return mx.put_along_axis(logprobs, drop, mx.array(-math.inf, logprobs.dtype), axis=-1)


def token_distribution(logits: mx.array, params: SamplingParams, history: mx.array | None = None) -> mx.array:
    """Probabilities [T, V] (float32) to draw each row's token from.

    history: [T, C] token windows for the repetition penalty (history_rows), or None.
    """
    logits = logits.astype(mx.float32)
    if params.penalized and history is not None:
        logits = _penalize(logits, history, params.repetition_penalty)
    if params.greedy:
        best = mx.argmax(logits, axis=-1, keepdims=True)
        return mx.put_along_axis(mx.zeros_like(logits), best, mx.array(1.0), axis=-1)
    if not params.filtered:
        return mx.softmax(logits * (1.0 / params.temperature), axis=-1)
    logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    if 0 < params.top_p < 1:
        logprobs = _top_p(logprobs, params.top_p)
    if params.min_p > 0:
        logprobs = _min_p(logprobs, params.min_p)
    if 0 < params.top_k < logprobs.shape[-1]:
        logprobs = _top_k(logprobs, params.top_k)
    return mx.softmax(logprobs / params.temperature, axis=-1)


def draw(probs: mx.array, key: mx.array) -> mx.array:
    """One token per row of probs [T, V], which need not sum to 1 (lazy).

    Inverse CDF with one uniform per row: on the CPU about 7x cheaper than a
    Gumbel draw (mx.random.categorical), which needs V random numbers per row.
    """
    cdf = mx.cumsum(probs.astype(mx.float32), axis=-1)
    u = mx.random.uniform(shape=(*probs.shape[:-1], 1), key=key) * cdf[..., -1:]
    return mx.minimum((cdf <= u).sum(axis=-1), probs.shape[-1] - 1).astype(mx.int32)


def draft_tokens(logits: mx.array, params: SamplingParams, history: list[int],
                 keys: KeyStream) -> tuple[mx.array, list[int]]:
    """Draw the drafts from the draft's logits [T, V]: (q [T, V], tokens).

    Without a repetition penalty every position's q is known up front and all
    positions are drawn at once; with one, position j's q depends on the
    drafts before it, so they are drawn in order.
    """
    T = logits.shape[0]
    if not params.penalized:
        q = token_distribution(logits, params)
        tokens = draw(q, keys.next())
        mx.eval(q, tokens)
        return q, tokens.tolist()
    rows, tokens = [], []
    for j in range(T):
        hist = history_rows(history + tokens, [], 1, params.repetition_context)
        q_j = token_distribution(logits[j:j + 1], params, hist)
        rows.append(q_j)
        tokens.append(int(draw(q_j, keys.next()).item()))
    q = mx.concatenate(rows, axis=0)
    mx.eval(q)
    return q, tokens


def one_hot_rows(tokens: list[int], vocab: int) -> mx.array:
    """The distribution of a deterministic proposal (greedy drafts, a forced `propose`)."""
    idx = mx.array(tokens)[:, None]
    return mx.put_along_axis(mx.zeros((len(tokens), vocab), mx.float32), idx, mx.array(1.0), axis=-1)


def accept_rejection(p: mx.array, q: mx.array, drafts: list[int], keys: KeyStream) -> tuple[int, int]:
    """Speculative rejection sampling over one block.

    p: [n+1, V] target distributions (row j follows drafts[:j]); q: [n, V] the
    distributions drafts were drawn from. Returns (accepted count a, the next
    token): the correction at a when a < n, else the bonus from p[n].
    """
    n = len(drafts)
    if n == 0:
        return 0, int(draw(p, keys.next()).item())
    idx = mx.array(drafts)[:, None]
    p_d = mx.take_along_axis(p[:n], idx, axis=-1)[:, 0]
    q_d = mx.take_along_axis(q, idx, axis=-1)[:, 0]
    u = mx.random.uniform(shape=(n,), key=keys.next())
    keep = u * q_d < p_d  # u < p/q without dividing; q(d) > 0 since d was drawn from q
    residual = mx.maximum(p[:n] - q, 0.0)  # draw() normalizes
    # A zero residual means p == q at that row, where rejection has probability 0; p keeps it well defined.
    residual = mx.where(residual.sum(axis=-1, keepdims=True) > 0, residual, p[:n])
    corrections = draw(residual, keys.next())
    bonus = draw(p[n:], keys.next())
    mx.eval(keep, corrections, bonus)
    keep_list = keep.tolist()
    a = keep_list.index(False) if False in keep_list else n
    return a, int(corrections[a].item()) if a < n else int(bonus.item())


def accept_matching(p: mx.array, drafts: list[int], keys: KeyStream) -> tuple[int, int]:
    """Sample-and-match: draw the target's own token at every position, keep drafts while equal."""
    own = draw(p, keys.next()).tolist()
    a = 0
    for d, t in zip(drafts, own):
        if d != t:
            break
        a += 1
    return a, own[a]
