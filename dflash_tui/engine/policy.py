"""The drafting policy: which block size (1 = plain decoding) the next cycle should use.

One BlockPolicy lives as long as the Engine's session (across turns and
resets), so what it learnt keeps paying: the costs are properties of the
machine and the pair, and acceptance follows the conversation (decayed).

It keeps two kinds of measurements from real cycles:

- cost: the lower quartile of the recent seconds per cycle at each block
  size, and of the recent plain decode steps (other work on the machine only
  ever adds time, so a low quantile shrugs off its spikes). A size never run
  is estimated from the sizes that were (linear between measured sizes, a
  plain step standing for size 1; above them, optimistically, the largest
  measured cost) and is tried when
  it promises EXPLORE_GAIN over the best measured size, so a wrong guess costs
  a cycle. The other measured sizes are re-run now and then
  (REMEASURE_BUDGET of the time), so one unlucky early measurement cannot
  lock a size out.
- acceptance: per block position k, how often a draft reaching position k was
  accepted there, exponentially decayed so the estimate follows the context.
  P(accepted length >= k) is the product of those rates (each smoothed toward
  the rate of the position before, which positions never reached inherit),
  and a cycle at block size b is expected to commit
  1 + sum_{k<b} P(accepted length >= k) tokens.

The choice maximises expected tokens / cost, re-decided every cycle; DFlash
keeps running while an optimistic acceptance (OPTIMISM standard errors up)
would still beat plain decoding, so a near break-even draft gets enough
cycles to be judged, and the first MIN_EVIDENCE_CYCLES DFlash cycles of a
session always run unless even full acceptance could not beat plain decoding
(the first block after a prompt is often rejected whatever the draft's
quality: one such cycle is no verdict). Each new answer (start_answer) weighs
the acceptance seen so far less, more so once DFlash has won (see there). It
starts by measuring a few plain steps, then probes DFlash at the largest size
(its acceptance covers every position). When plain decoding wins it decodes a stretch of plain tokens, then
re-probes DFlash with one cycle (the context grows, so the answer can
change). A stretch is just long enough that a losing probe costs at most
PROBE_BUDGET of the time: DFlash far behind is probed rarely, DFlash near
break-even often (cheap there, and it needs the evidence); while the session
has seen fewer than FULL_EVIDENCE_CYCLES DFlash cycles the stretches are
shorter in proportion, so a verdict drawn from an unlucky start (answers often
open with blocks the draft misses) is re-checked within the same answer.

Shadow probes (`shadow=True`: greedy decoding, or sampling under the coupled
rule, where plain steps and cycles choose by the same position-keyed noise): a
plain stretch can start with a draft pass alone; the stretch's own tokens then
say exactly how much of that block a cycle would have accepted. (Under the
block and rejection rules they say it in expectation: observe_shadow_survival
takes probabilities, see decode.estimated_shadow.) Such a probe
costs the draft pass and the context it needs (about 1.5 plain steps on this
CPU), not a losing cycle plus two switches (about 4.5), so the policy probes
every stretch, at up to SHADOW_BUDGET of the time (less the further DFlash is
behind), needs no forced DFlash cycles at an answer's start, and catches an
answer that turns easy halfway (the demo target's answers fall into loops the
draft predicts perfectly). The rest of the rules above (costs, acceptance,
untried and stale sizes) are the same. Nothing here imports MLX.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

BLOCK_CANDIDATES = (4, 8, 16)
MEASURE_PLAIN_STEPS = 8
FIRST_PLAIN_RUN = 16
LONGEST_PLAIN_RUN = 512
PROBE_BUDGET = 0.005  # share of decode time a losing re-probe may cost
OPTIMISM = 1.0  # standard errors of acceptance granted to DFlash before falling back to plain
EXPLORE_GAIN = 1.1  # an untried size must promise this much over the best measured one
REMEASURE_BUDGET = 0.004  # share of DFlash time spent re-checking the costs of the other measured sizes
RECENT_CYCLES = 8  # DFlash cycle costs kept per block size
RECENT_STEPS = 32  # plain step costs kept
ACCEPT_DECAY = 0.99  # per observed cycle; about the last 100 cycles count
FIRST_PRIOR = (0.5, 1.0)  # position 1: rate 0.5 worth one cycle, so one rejected probe already counts
SMOOTHING = 8.0  # pseudo-cycles pulling a later position's rate toward the previous position's
FEW_COST_SAMPLES = 3  # below this many cycles a size's own cost is re-checked hopefully
FULL_EVIDENCE_CYCLES = 16  # DFlash cycles after which plain stretches reach their full length
MIN_EVIDENCE_CYCLES = 4  # DFlash cycles a session runs before acceptance alone may rule DFlash out
ANSWER_CARRYOVER = 0.1  # weight of earlier answers' acceptance evidence when a new answer starts
LOSING_EVIDENCE_KEPT = 4.0  # ...but while DFlash has never won, at least this many cycles' worth is kept
OPENING_PLAIN = 16  # plain tokens an answer opens with once DFlash has won (openings draft worst)
ANSWER_EVIDENCE_CYCLES = 2  # DFlash cycles a new answer runs before acceptance alone may rule DFlash out,
#                             once DFlash has won in this session (one probe at a hard spot is no verdict)
SHADOW_CARRYOVER = 0.3  # ANSWER_CARRYOVER with shadow probes: cheap re-checks afford trusting the past more
SHADOW_BUDGET = 0.05  # share of plain decoding time shadow probes may cost
SHADOW_FALLOFF = 1.0  # the probe budget scales with (DFlash's estimated speed / plain's) ** this
SHADOW_FLOOR = 0.25  # ...never below this ratio
SHADOW_COST_GUESS = 1.0  # plain steps per shadow probe until one was timed
SHADOW_OPENING = 32  # plain tokens an answer opens with before its first shadow probe (short answers pay none)
OPENING_TAU_FACTOR = 0.68  # tau over an answer's first 16 tokens / over whole answers (demo pair: 2.19 / 3.2)


def _lower_quartile(samples) -> float:
    """A busy machine only ever slows a cycle down, so a low quantile estimates its cost best."""
    ordered = sorted(samples)
    return ordered[len(ordered) // 4]


@dataclass
class Choice:
    block_size: int  # 1 = plain decoding
    reason: str
    plain_steps: int = 0  # for block_size 1: how many plain tokens to decode before asking again
    shadow: int = 0  # for block_size 1: draft a block of this size first and report it with observe_shadow


class BlockPolicy:
    """Chooses block sizes for one session; feed it every cycle with observe_*()."""

    def __init__(self, max_block: int, pinned: int | None = None, shadow: bool = False):
        if pinned is not None:
            sizes = [pinned] if pinned > 1 else []
        else:
            sizes = sorted({b for b in BLOCK_CANDIDATES if b < max_block} | {max_block})
        self.dflash_sizes = [b for b in sizes if b > 1]
        self.max_block = max(self.dflash_sizes, default=1)
        self._costs: dict[int, deque] = {}  # block size -> recent seconds per cycle (1: per plain step)
        self._reached = [0.0] * self.max_block  # index k: cycles whose draft k was checked
        self._passed = [0.0] * self.max_block  # index k: ... and accepted there
        self._plain_left = 0  # plain tokens still to decode before the next re-probe
        self._last_run = 0  # length of the last plain stretch (0: DFlash won last time)
        self._probe_due = False
        self._idle: dict[int, int] = {}  # DFlash size -> cycles since it last ran
        self._dflash_cycles = 0  # DFlash cycles and shadow probes observed this session (not decayed)
        self._won = False  # DFlash has beaten plain decoding on ample evidence in this session
        self._answer_evidence = 0  # DFlash cycles this answer still runs before acceptance may rule it out
        self.shadow = shadow and bool(self.dflash_sizes)  # plain stretches start with a shadow probe
        self._shadow_costs: deque = deque(maxlen=RECENT_CYCLES)  # plain steps per shadow probe
        self._shadow_stats = [0, 0]  # this session's shadow probes and their accepted drafts, for the stats
        self._last_shadow: tuple[int, int] | None = None  # (accepted, checked) of the latest one
        self._opening = ""  # the reason while an answer's opening plain tokens run (shadow probes)
        self.last = Choice(1, "")

    # -- measurements ------------------------------------------------------------------------------

    def start_answer(self) -> None:
        """A new answer. Once DFlash has won in this session, a new prompt can change acceptance completely
        (one topic the draft knows, the next one it does not), so earlier answers' acceptance keeps
        ANSWER_CARRYOVER of its weight, the answer opens with OPENING_PLAIN plain tokens (drafts predict
        openings worst: on the demo pair tau is 2.0 over an answer's first 8 tokens and 3.7 after its
        64th), then probes DFlash whatever was running before, and runs ANSWER_EVIDENCE_CYCLES DFlash
        cycles before acceptance alone may send it back to plain. While DFlash has never won, the
        acceptance keeps at least LOSING_EVIDENCE_KEPT cycles' worth and the plain stretch goes on:
        forgetting more re-explored a losing draft (seen: 9 losing cycles in one answer), and a probe per
        answer costs a few percent of every short answer. Costs are always kept."""
        n = self._reached[1] if len(self._reached) > 1 else 0.0  # a policy pinned to plain has no positions
        carry = SHADOW_CARRYOVER if self.shadow else ANSWER_CARRYOVER
        keep = carry * n if self._won else max(carry * n, min(n, LOSING_EVIDENCE_KEPT))
        scale = keep / n if n > 0 else 1.0
        self._reached = [x * scale for x in self._reached]
        self._passed = [x * scale for x in self._passed]
        if self.shadow:
            self._start_answer_shadowed()
            return
        if not self._won:
            return
        self._plain_left = self._last_run = OPENING_PLAIN  # then a probe (a plain stretch left over ends here too)
        self._probe_due = False
        self._answer_evidence = ANSWER_EVIDENCE_CYCLES

    def _start_answer_shadowed(self) -> None:
        """With shadow probes an answer opens with MEASURE_PLAIN_STEPS plain tokens, then DFlash, when the
        acceptance carried over wins even at an opening's tau (OPENING_TAU_FACTOR of the whole answers'; the
        plain steps keep the plain cost measured: a stale one, from a slow first measurement, once made every
        cycle look cheap for a whole session); otherwise with SHADOW_OPENING plain
        tokens, after which the usual choice decides and plain stretches carry shadow probes. Replayed on
        the demo pair's 80 held-out traces (policy_replay.py), 32 opening tokens beat 16 and 24: most of
        its answers that end early end before 32, and probes there cost them most."""
        self._plain_left = 0
        self._probe_due = False
        self._opening = ""
        if not self.measured(1) or not any(self.measured(b) for b in self.dflash_sizes):
            return
        best = self._best_size()
        plain_tps, best_tps = self.tokens_per_second(1) or 0.0, self.tokens_per_second(best) or 0.0
        if not (self._won and best_tps * OPENING_TAU_FACTOR > plain_tps):
            self._plain_left = self._last_run = SHADOW_OPENING  # the first probe after the opening's worst part
            self._opening = (f"auto: plain for an answer's first {SHADOW_OPENING} tokens (drafts predict openings "
                             f"worst; DFlash b{best} est {best_tps / plain_tps:.2f}x plain so far)")
        else:  # a few plain steps still: every DFlash cost is counted in plain steps, which must stay fresh
            self._plain_left = self._last_run = MEASURE_PLAIN_STEPS
            self._opening = (f"auto: plain for {MEASURE_PLAIN_STEPS} tokens to re-measure a plain step, then "
                             f"DFlash b{best} (est {best_tps / plain_tps:.2f}x plain)")

    def observe_cycle(self, block_size: int, accepted: int, seconds: float) -> None:
        self._record_cost(block_size, seconds, RECENT_CYCLES)
        self._answer_evidence = max(0, self._answer_evidence - 1)
        self._idle = {b: 0 if b == block_size else n + 1 for b, n in self._idle.items()}
        self._idle[block_size] = 0
        self._observe_acceptance(block_size, accepted, block_size - 1)

    def observe_shadow(self, block_size: int, accepted: int, checked: int, seconds: float) -> None:
        """A shadow probe: of its block_size - 1 drafts, `checked` could be compared with the tokens plain
        decoding went on to choose (fewer when the answer ended first), and the first `accepted` matched.
        `seconds`: the draft pass and the context it needed."""
        self.observe_shadow_survival(block_size, [1.0] * accepted + [0.0] * (checked - accepted), seconds)

    def observe_shadow_survival(self, block_size: int, survival: list[float], seconds: float) -> None:
        """A shadow probe whose outcome is a probability: survival[k - 1] = P(a cycle there would have kept at
        least k drafts), for the len(survival) drafts that could be checked. Greedy and coupled probes know
        it exactly (ones, then zeros); under rejection sampling it is estimated from the plain tokens
        (sampling.shadow_survival)."""
        self._shadow_costs.append(seconds / self._plain_step())
        expected = sum(survival)
        self._shadow_stats = [self._shadow_stats[0] + 1, self._shadow_stats[1] + expected]
        self._last_shadow = (round(expected, 1), len(survival))
        self._observe_survival(block_size, survival)

    def _observe_acceptance(self, block_size: int, accepted: int, checked: int) -> None:
        """Positions 1..checked were reached (a rejection stops the rest); the first `accepted` passed."""
        self._observe_survival(block_size, [1.0] * min(accepted, checked) + [0.0] * max(0, checked - accepted))

    def _observe_survival(self, block_size: int, survival: list[float]) -> None:
        """Position k (up to the checked ones) was reached with probability survival[k - 2] (1 for k = 1) and
        passed with survival[k - 1]: counts for a known outcome, expected counts for an estimated one."""
        self._dflash_cycles += 1
        self._reached = [x * ACCEPT_DECAY for x in self._reached]
        self._passed = [x * ACCEPT_DECAY for x in self._passed]
        for k in range(1, min(len(survival), block_size - 1) + 1):
            self._reached[k] += 1.0 if k == 1 else survival[k - 2]
            self._passed[k] += survival[k - 1]

    def observe_plain(self, tokens: int, step_seconds: list[float]) -> None:
        """A plain stretch decoded `tokens` tokens; step_seconds are its steady-state step times."""
        for s in step_seconds:
            self._record_cost(1, s, RECENT_STEPS)
        if self._plain_left > 0:
            self._plain_left = max(self._plain_left - tokens, 0)
            self._probe_due = self._plain_left == 0

    def _record_cost(self, b: int, seconds: float, keep: int) -> None:
        """Plain steps in seconds; DFlash cycles in plain steps of the moment, so a machine whose speed
        drifts (this CPU's halved within a minute) does not make sizes measured at different times look
        cheaper or dearer than plain decoding."""
        value = seconds if b == 1 else seconds / self._plain_step()
        self._costs.setdefault(b, deque(maxlen=keep)).append(value)

    def _plain_step(self) -> float:
        """A plain step's cost now (the unit of DFlash cycle costs); 1.0 before one was measured (a pinned
        size never compares with plain decoding)."""
        return _lower_quartile(self._costs[1]) if 1 in self._costs else 1.0

    def _cost_of(self, b: int) -> float:
        """Seconds per cycle at a measured size b, at the machine's current speed."""
        quartile = _lower_quartile(self._costs[b])
        return quartile if b == 1 else quartile * self._plain_step()

    # -- estimates ---------------------------------------------------------------------------------

    def measured(self, b: int) -> bool:
        return b in self._costs

    def accept_rates(self, optimism: float = 0.0) -> list[float]:
        """Per-position acceptance rates r_1..r_{max-1} (smoothed toward the previous position).

        optimism: standard errors added to each rate (an upper estimate for deciding to explore).
        """
        rates, (prev, weight) = [], FIRST_PRIOR
        for k in range(1, self.max_block):
            n = self._reached[k] + weight
            prev = (self._passed[k] + weight * prev) / n
            rates.append(min(1.0, prev + optimism * math.sqrt(prev * (1 - prev) / n)))
            weight = SMOOTHING
        return rates

    def expected_tokens(self, b: int, optimism: float = 0.0) -> float:
        total, survive = 1.0, 1.0
        for r in self.accept_rates(optimism)[: b - 1]:
            survive *= r
            total += survive
        return total

    def estimated_cost(self, b: int) -> float | None:
        """Seconds per cycle at b (b = 1: per plain step); for a size never run, from the others."""
        if b in self._costs:
            return self._cost_of(b)
        return self._interpolated_cost(b)

    def _hopeful_cost(self, b: int) -> float | None:
        """The lower of b's own cost and what the other sizes imply: a size measured only a few times may
        have met a busy machine or a first-time allocation, and must not be locked out by it."""
        own, others = self.estimated_cost(b), self._interpolated_cost(b)
        if b in self._costs and len(self._costs[b]) >= FEW_COST_SAMPLES or others is None:
            return own
        return others if own is None else min(own, others)

    def _interpolated_cost(self, b: int) -> float | None:
        """b's cost from the other measured DFlash sizes: linear between them, a plain step standing
        for size 1 below them, the largest measured cost above them."""
        known = {k: self._cost_of(k) for k in self._costs if 1 < k != b}
        if known and 1 in self._costs and b < min(known):  # a 1-token "cycle" costs about a plain step
            known[1] = self._cost_of(1)
        below = [k for k in known if k < b]
        above = [k for k in known if k > b]
        if below and above:
            lo, hi = max(below), min(above)
            return known[lo] + (known[hi] - known[lo]) * (b - lo) / (hi - lo)
        nearest = below or above
        return known[min(nearest, key=lambda k: abs(k - b))] if nearest else None

    def tokens_per_second(self, b: int, optimism: float = 0.0) -> float | None:
        cost = self.estimated_cost(b)
        if cost is None or cost <= 0:
            return None
        return (1.0 if b == 1 else self.expected_tokens(b, optimism)) / cost

    # -- the choice --------------------------------------------------------------------------------

    def choose(self) -> Choice:
        self.last = self._choose()
        return self.last

    def _choose(self) -> Choice:
        if not self.dflash_sizes:
            return Choice(1, "plain decoding (no DFlash block size to try)", LONGEST_PLAIN_RUN)
        if not self.measured(1):
            return Choice(1, "auto: measuring plain decoding", MEASURE_PLAIN_STEPS)
        largest = self.dflash_sizes[-1]  # the widest probe says the most about acceptance
        if not any(self.measured(b) for b in self.dflash_sizes):
            return Choice(largest, f"auto: probing DFlash b{largest}")
        if self._plain_left > 0:
            if self._opening:
                return Choice(1, self._opening, self._plain_left)
            return Choice(1, self.last.reason if self.last.block_size == 1 else
                          f"auto: plain, re-probe after {self._plain_left} tokens", self._plain_left)
        self._opening = ""
        plain_tps = self.tokens_per_second(1) or 0.0
        best = self._best_size()
        best_tps = self.tokens_per_second(best) or 0.0
        tau = self.expected_tokens(best)
        if self._probe_due:
            self._probe_due = False
            if not self.shadow:  # with shadow probes the stretch already measured acceptance: decide below
                return Choice(best, f"auto: re-probing DFlash b{best} after {self._last_run} plain tokens")
        if best_tps > plain_tps and self._dflash_cycles >= MIN_EVIDENCE_CYCLES:
            self._won = True
        thin = self._dflash_cycles < MIN_EVIDENCE_CYCLES or 0 < self._answer_evidence < ANSWER_EVIDENCE_CYCLES
        if (best_tps > plain_tps or (self.tokens_per_second(best, OPTIMISM) or 0.0) > plain_tps
                or (thin and not self.shadow and self._could_win(best, plain_tps))):
            # Near break-even the acceptance seen so far is too little evidence: keep drafting to learn it.
            self._last_run = 0
            stale = self._stale_size(best)
            if stale is not None:
                return Choice(stale, f"auto: re-measuring b{stale} (best b{best}, est {best_tps / plain_tps:.2f}x "
                                     "plain)")
            return Choice(best, f"auto: b{best}, est {best_tps / plain_tps:.2f}x plain (tau {tau:.2f})")
        if self.shadow:
            run = self._shadow_run(best_tps / plain_tps if plain_tps else 1.0)
            self._plain_left = self._last_run = run
            last = (f"last shadow probe {self._last_shadow[0]:g}/{self._last_shadow[1]} accepted; "
                    if self._last_shadow else "")
            return Choice(1, f"auto: plain, best DFlash b{best} est {best_tps / plain_tps:.2f}x plain "
                             f"(tau {tau:.2f}); {last}shadow-probing b{largest} every {run} tokens", run,
                          shadow=largest)
        # Thin evidence (few DFlash cycles this session) buys shorter stretches: an unlucky start is re-checked soon.
        evidence = min(1.0, self._dflash_cycles / FULL_EVIDENCE_CYCLES)
        run = min(max(int(self._affordable_run(best) * evidence), FIRST_PLAIN_RUN), LONGEST_PLAIN_RUN)
        self._plain_left = self._last_run = run
        return Choice(1, f"auto: plain, best DFlash b{best} est {best_tps / plain_tps:.2f}x plain "
                         f"(tau {tau:.2f}); re-probe after {run} tokens", run)

    def _shadow_run(self, behind: float = 1.0) -> int:
        """Plain tokens per shadow probe, so that probes cost SHADOW_BUDGET of the time (less, the further
        DFlash is behind: `behind` = its estimated tok/s over plain's); never fewer than a block's drafts
        (the stretch checks them)."""
        cost = _lower_quartile(self._shadow_costs) if self._shadow_costs else SHADOW_COST_GUESS
        budget = SHADOW_BUDGET * min(1.0, max(SHADOW_FLOOR, behind) ** SHADOW_FALLOFF)
        return min(max(int(cost / budget), self.max_block - 1), LONGEST_PLAIN_RUN)

    def _could_win(self, b: int, plain_tps: float) -> bool:
        """Whether DFlash at b beats plain decoding if every draft were accepted (b tokens a cycle)."""
        cost = self.estimated_cost(b)
        return bool(cost) and b / cost > plain_tps

    def _best_size(self) -> int:
        """The DFlash size with the best estimated tok/s; a size never run must promise EXPLORE_GAIN more."""
        tps = {b: self.tokens_per_second(b) or 0.0 for b in self.dflash_sizes}
        best = max((b for b in self.dflash_sizes if self.measured(b)), key=tps.get)
        untried = [b for b in self.dflash_sizes if not self.measured(b) and tps[b] > EXPLORE_GAIN * tps[best]]
        return max(untried, key=tps.get) if untried else best

    def _stale_size(self, best: int) -> int | None:
        """A measured size whose cost has gone stale long enough to be worth one cycle's check.

        One cycle at b instead of best loses cost(b) * (1 - tps(b) / tps(best)); that loss is allowed
        once the cycles since b last ran, at REMEASURE_BUDGET of a best cycle each, pay for it.
        """
        best_tps, best_cost = self.tokens_per_second(best) or 0.0, self.estimated_cost(best) or 0.0
        due = []
        for b, idle in self._idle.items():
            if b == best or not best_tps:
                continue
            cost = self._hopeful_cost(b) or 0.0
            tps = self.expected_tokens(b) / cost if cost > 0 else 0.0
            loss = cost * max(0.0, 1 - tps / best_tps)
            if idle * REMEASURE_BUDGET * best_cost >= loss:
                due.append((idle, b))
        return max(due)[1] if due else None

    def _affordable_run(self, b: int) -> int:
        """Plain tokens between probes so that a probe at b that loses costs at most PROBE_BUDGET."""
        plain = self.estimated_cost(1) or 0.0
        loss = (self.estimated_cost(b) or 0.0) - self.expected_tokens(b) * plain
        return int(loss / (PROBE_BUDGET * plain)) + 1 if plain > 0 and loss > 0 else 0

    def summary(self) -> str:
        """What was measured, for the GenerationSummary's reason."""
        parts = []
        for b in [1] + self.dflash_sizes:
            tps = self.tokens_per_second(b)
            if self.measured(b) and tps:
                parts.append(f"{'plain' if b == 1 else f'b{b}'} {tps:.1f} tok/s")
        probes, accepted = self._shadow_stats
        if probes:
            parts.append(f"{probes} shadow probes, {accepted / probes:.1f} drafts accepted on average")
        return "; ".join(parts)
