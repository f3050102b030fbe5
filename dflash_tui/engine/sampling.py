"""Sampling shared by both decode loops, and the speculative acceptance rules.

One function turns a row of logits into the distribution a token is drawn
from (`token_distribution`): repetition penalty over the last
`repetition_context` tokens, then top-p, min-p and top-k on the untempered
log-probabilities (mlx-lm's order), then temperature. Temperature 0 gives the
one-hot of the argmax, so greedy decoding is the same code with a degenerate
distribution. The target's p and the draft's q at a block position go through
exactly the same processing with the same token history.

Four acceptance rules, all exact (every emitted token is distributed as plain
sampling from the target's p); `SamplingParams.resolved_rule` picks one:

- "coupled" (the default when a seed is given): the token at absolute sequence
  position t is argmax(log p_t + G_t), where G_t is i.i.d. standard Gumbel
  noise over the vocabulary drawn from a key that depends only on (seed, t)
  (`position_key`, `PositionNoise`). By the Gumbel-max trick that token is
  distributed exactly as p_t, and G_t is independent of the tokens before t,
  so sampling stays lossless. The draft proposes argmax(log q_t + G_t) with the
  same noise and a draft is kept iff it equals the target's perturbed argmax
  (`coupled_tokens`): greedy acceptance on perturbed scores. Accepted tokens
  are the target's own choices, so the text is a deterministic function of
  (seed, prompt, settings) whatever the block sizes, the drafting policy's
  choices or the draft are; plain decoding uses the same rule, so every mode
  gives the same text for a seed (up to floating point: another block size
  changes the verify's shapes, so a near-tie of two perturbed scores may split,
  as greedy near-ties do). A draft is kept when the two perturbed argmaxes
  agree: probability at least (1 - TV) / (1 + TV) with TV the total variation
  between p and q, far above "matching" (independent draws) and below
  "rejection" (1 - TV, the most any exact rule can keep).
- "block" (the default without a seed, `accept_block`): block verification
  (Sun et al., "Block Verification Accelerates Speculative Decoding", ICLR
  2025). The same draws as "rejection", but the block is judged jointly: a
  draft rejected on its own can still be kept when the drafts after it make
  up for it, because the residual after position i is weighted by how much
  of the block's probability survived up to i (`block_verification`). Every
  emitted token is still distributed exactly as plain sampling, and the
  expected number of kept drafts is the most any exact rule can reach from
  the same drafts, never less than "rejection" (tests enumerate every draft
  of a small vocabulary to check both).
- "rejection" (`accept_rejection`): standard
  speculative sampling. Keep draft d with probability min(1, p(d)/q(d)); at
  the first rejection draw the correction from normalize(max(0, p - q)); if
  every draft is kept draw the bonus token from p at the last position. Each
  DFlash position's q depends only on the context, not on the tokens drawn at
  other positions (the block input is masks), so every emitted token is
  distributed exactly as plain sampling from the target. A seeded run repeats
  itself only for the same mode and block size sequence.
- "matching" (`accept_matching`): the weaker exact rule (draw from p, keep the
  draft iff equal) that other MLX implementations use; it is here to compare.

"block", "rejection" and "matching" draw from an explicit key stream (`KeyStream`).
At temperature 0 every rule is the argmax of the (penalized) logits.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..mlx_setup import import_mlx

mx = import_mlx()

RULE_COUPLED = "coupled"
RULE_BLOCK = "block"
RULE_REJECTION = "rejection"
RULE_MATCHING = "matching"
RULES = (RULE_COUPLED, RULE_BLOCK, RULE_REJECTION, RULE_MATCHING)


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0
    top_p: float = 1.0  # 1.0 (or 0) = off
    top_k: int = 0  # 0 = off
    min_p: float = 0.0  # 0 = off
    repetition_penalty: float = 1.0  # 1.0 = off
    repetition_context: int = 20  # tokens the penalty looks back over (mlx-lm's default)
    seed: int | None = None
    # Acceptance rule (all lossless): "coupled" (reproducible in every mode), "block", "rejection" or
    # "matching"; None = "coupled" when a seed is given, "block" otherwise (see resolved_rule).
    rule: str | None = None

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
        if self.rule is not None and self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(map(repr, RULES))} (or None: {RULE_COUPLED!r} "
                             f"with a seed, {RULE_BLOCK!r} without), got {self.rule!r}")

    @property
    def resolved_rule(self) -> str:
        """The acceptance rule in force: the explicit rule, else "coupled" with a seed, "block" without."""
        if self.rule is not None:
            return self.rule
        return RULE_COUPLED if self.seed is not None else RULE_BLOCK

    @property
    def coupled(self) -> bool:
        """Tokens are Gumbel-max choices with position-keyed noise (not needed at temperature 0: the argmax)."""
        return self.resolved_rule == RULE_COUPLED and not self.greedy

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


def shadow_survival(q_of_tokens: list[float], p_of_tokens: list[float]) -> list[float]:
    """What a rejection-sampling cycle would have kept, estimated from a plain stretch (a shadow probe).

    x_1..x_m are the tokens plain decoding drew from the target (p_i(x_i) their probabilities, as drawn) and
    q_i(x_i) the probabilities a draft pass at the stretch's start gave them. For drafts d_i drawn from q,
    P(rejection keeps at least k) = sum_d prod_{i<=k} min(q_i(d_i), p_i(d_i | d_<i))
                                  = E_{x~p}[prod_{i<=k} min(1, q_i(x_i) / p_i(x_i | x_<i))],
    so the running product of min(1, q/p) along the plain tokens is an unbiased estimate of it, for no
    verify at all. The block rule keeps at least as much, so this errs low for it.
    """
    out, survive = [], 1.0
    for q, p in zip(q_of_tokens, p_of_tokens):
        survive *= min(1.0, q / p) if p > 0 else 0.0
        out.append(survive)
    return out


RULE_NAMES = {RULE_COUPLED: "the coupled rule (a seed gives the same text in every mode)",
              RULE_BLOCK: "block verification", RULE_REJECTION: "token-by-token rejection sampling",
              RULE_MATCHING: "sample-and-match"}


def rule_note(params: SamplingParams) -> str:
    """What the stats say about sampling under DFlash: which exact rule keeps drafts (empty when greedy)."""
    if params.greedy:
        return ""
    return f"sampling at T {params.temperature:g}: drafts kept by {RULE_NAMES[params.resolved_rule]} (lossless)"


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


def _penalized(logits: mx.array, params: SamplingParams, history: mx.array | None) -> mx.array:
    logits = logits.astype(mx.float32)
    if params.penalized and history is not None:
        logits = _penalize(logits, history, params.repetition_penalty)
    return logits


def _tempered_scores(logits: mx.array, params: SamplingParams) -> mx.array:
    """log p up to a per-row constant (-inf where a filter dropped the token), temperature > 0."""
    if not params.filtered:
        return logits * (1.0 / params.temperature)
    logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    if 0 < params.top_p < 1:
        logprobs = _top_p(logprobs, params.top_p)
    if params.min_p > 0:
        logprobs = _min_p(logprobs, params.min_p)
    if 0 < params.top_k < logprobs.shape[-1]:
        logprobs = _top_k(logprobs, params.top_k)
    return logprobs / params.temperature


def token_distribution(logits: mx.array, params: SamplingParams, history: mx.array | None = None) -> mx.array:
    """Probabilities [T, V] (float32) to draw each row's token from.

    history: [T, C] token windows for the repetition penalty (history_rows), or None.
    """
    logits = _penalized(logits, params, history)
    if params.greedy:
        best = mx.argmax(logits, axis=-1, keepdims=True)
        return mx.put_along_axis(mx.zeros_like(logits), best, mx.array(1.0), axis=-1)
    return mx.softmax(_tempered_scores(logits, params), axis=-1)


_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """SplitMix64's output function: a fixed 64-bit mixer (the same on every platform and Python version)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def position_key(seed: int, position: int) -> mx.array:
    """The PRNG key of absolute sequence position t under `seed`: a function of (seed, t) only.

    mx.random.key(splitmix64(splitmix64(seed) xor t)): hashing rather than
    splitting a seed key t times keeps it O(1) per position, and Python's
    hash() is avoided because its tuple hashing changes between versions.
    """
    return mx.random.key(_splitmix64(_splitmix64(seed & _MASK64) ^ (position & _MASK64)))


class PositionNoise:
    """Gumbel noise rows G_t over the vocabulary for absolute positions t (the coupled rule).

    Row t is mx.random.gumbel((V,), key=position_key(seed, t)), so it depends
    only on (seed, t, V). Rows are cached (lazily) for positions a later cycle
    re-verifies; rows before the first position asked for are dropped.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self._rows: dict[int, mx.array] = {}
        self._vocab = 0

    def rows(self, first: int, n: int, vocab: int) -> mx.array:
        """[n, vocab] float32: the noise of positions first .. first + n - 1 (lazy)."""
        if vocab != self._vocab:
            self._rows.clear()
            self._vocab = vocab
        for t in [t for t in self._rows if t < first]:
            del self._rows[t]
        out = []
        for t in range(first, first + n):
            row = self._rows.get(t)
            if row is None:
                row = self._rows[t] = mx.random.gumbel(shape=(vocab,), key=position_key(self.seed, t))
            out.append(row)
        return mx.stack(out)


def coupled_tokens(logits: mx.array, params: SamplingParams, noise: mx.array,
                   history: mx.array | None = None) -> mx.array:
    """The coupled rule's choice per row of logits [T, V]: argmax(log p + G) with noise rows G [T, V] (lazy int32 [T]).

    p is token_distribution's (same penalty, filters and temperature); at temperature 0 the argmax of p.
    """
    logits = _penalized(logits, params, history)
    if params.greedy:
        return mx.argmax(logits, axis=-1).astype(mx.int32)
    return mx.argmax(_tempered_scores(logits, params) + noise, axis=-1).astype(mx.int32)


def coupled_drafts(logits: mx.array, params: SamplingParams, history: list[int], noise: mx.array) -> list[int]:
    """The draft's proposals under the coupled rule: argmax(log q + G) per row of its logits [T, V].

    With a repetition penalty position j's q depends on the drafts before it, so they are chosen in order.
    """
    if not params.penalized:
        return coupled_tokens(logits, params, noise).tolist()
    tokens: list[int] = []
    for j in range(logits.shape[0]):
        hist = history_rows(history + tokens, [], 1, params.repetition_context)
        tokens.append(int(coupled_tokens(logits[j:j + 1], params, noise[j:j + 1], hist).item()))
    return tokens


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


def block_verification(p: mx.array, q: mx.array, drafts: list[int]) -> tuple[mx.array, mx.array]:
    """The block rule's odds for one block (lazy): (h [n+1], residuals [n, V]).

    surviving[i] = min(1, surviving[i-1] * p_i(d_i) / q_i(d_i)) is how much of the block's probability is
    still on the drafts after i of them (surviving[0] = 1). residuals[i] = max(0, surviving[i] * p[i] - q[i])
    is what the drafts leave uncovered at row i (unnormalized; row 0 is p - q, rejection's residual).
    h[i] is the chance of keeping exactly the first i drafts, given that no later draft was kept:
    h[n] = surviving[n], h[i] = r_i / (r_i + 1 - surviving[i]) with r_i the residual's mass, h[0] = 1.
    """
    n = len(drafts)
    idx = mx.array(drafts)[:, None]
    # q(d) > 0 for a drawn draft; the floor only keeps 0 * inf (a zero p before a tiny q) out of the products.
    ratio = mx.take_along_axis(p[:n], idx, axis=-1)[:, 0] / mx.maximum(mx.take_along_axis(q, idx, axis=-1)[:, 0],
                                                                       1e-30)
    surviving = [mx.array(1.0)]
    for i in range(n):
        surviving.append(mx.minimum(surviving[-1] * ratio[i], 1.0))
    surviving = mx.stack(surviving)
    residuals = mx.maximum(surviving[:n, None] * p[:n] - q, 0.0)
    mass = residuals.sum(axis=-1)
    denominator = mass + 1.0 - surviving[:n]
    # 0/0 only when surviving is 1 and p equals q at that row: nothing can be rejected there, so keep.
    h = mx.where(denominator > 0, mass / mx.maximum(denominator, 1e-30), 1.0)
    h = mx.concatenate([mx.ones((1,)), h[1:], surviving[n:]])
    return h, residuals


def accept_block(p: mx.array, q: mx.array, drafts: list[int], keys: KeyStream) -> tuple[int, int]:
    """Block verification over one block: (accepted count a, the next token), as `accept_rejection`.

    a is the longest prefix i whose own coin (probability h[i]) comes up; the next token is drawn from
    normalize(residuals[a]) when a < n, else the bonus from p[n].
    """
    n = len(drafts)
    if n == 0:
        return 0, int(draw(p, keys.next()).item())
    h, residuals = block_verification(p, q, drafts)
    keep = mx.random.uniform(shape=(n,), key=keys.next()) < h[1:]
    residuals = mx.where(residuals.sum(axis=-1, keepdims=True) > 0, residuals, p[:n])  # never drawn then
    corrections = draw(residuals, keys.next())
    bonus = draw(p[n:], keys.next())
    mx.eval(keep, corrections, bonus)
    kept = [i + 1 for i, k in enumerate(keep.tolist()) if k]
    a = kept[-1] if kept else 0
    return a, int(corrections[a].item()) if a < n else int(bonus.item())


def accept_leading(drafts: list[int], own: list[int]) -> tuple[int, int]:
    """Keep drafts while they equal the target's own choices: (accepted count a, own[a])."""
    a = 0
    for d, t in zip(drafts, own):
        if d != t:
            break
        a += 1
    return a, own[a]


def accept_matching(p: mx.array, drafts: list[int], keys: KeyStream) -> tuple[int, int]:
    """Sample-and-match: draw the target's own token at every position, keep drafts while equal."""
    return accept_leading(drafts, draw(p, keys.next()).tolist())


def accept_coupled(logits: mx.array, params: SamplingParams, drafts: list[int], noise: mx.array,
                   history: mx.array | None = None) -> tuple[int, int]:
    """The coupled rule over one block: the target's perturbed argmax at every verify row (logits [n+1, V],
    noise [n+1, V] of the same positions), drafts kept while equal; the next token is the target's choice."""
    return accept_leading(drafts, coupled_tokens(logits, params, noise, history).tolist())
