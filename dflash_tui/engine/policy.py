"""The drafting policy: which block size (1 = plain decoding) the next cycle should use.

It keeps two kinds of measurements from the real cycles of one generation:

- cost: running averages of the seconds a cycle takes at each block size,
  and of a plain decode step. A size never run is estimated from the sizes
  that were (linear between measured sizes; beyond them, optimistically, the
  nearest measured cost), so trying it costs at most a cycle or two; a size
  measured once is trusted only where that measurement is not worse than the
  estimate (first cycles at a new shape pay one-time costs).
- acceptance: per block position k, how often a draft reaching position k was
  accepted there (exponentially decayed so the estimate follows the context).
  P(accepted length >= k) is the product of those rates, positions never
  reached inherit the rate of the previous one, and the expected tokens of a
  cycle at block size b are 1 + sum_{k<b} P(accepted length >= k).

The choice maximises expected tokens / cost. It starts by measuring a few
plain steps, then one DFlash cycle at the smallest size, and re-decides
every cycle. When plain decoding wins it runs a stretch of plain tokens and
then re-probes DFlash once (the context grows, so the answer can change);
stretches double while plain keeps winning, so a draft that never pays costs
little. Nothing here imports MLX.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK_CANDIDATES = (4, 8, 16)
MEASURE_PLAIN_STEPS = 8
FIRST_PLAIN_RUN = 16
LONGEST_PLAIN_RUN = 256
COST_AVERAGING = 0.3  # weight of the newest cycle in the running cost
ACCEPT_DECAY = 0.97  # per observed cycle; about the last 30 cycles count
PRIOR_WEIGHT = 0.5  # pseudo-cycles pulling a position's rate toward the previous position's


@dataclass
class Choice:
    block_size: int  # 1 = plain decoding
    reason: str
    plain_steps: int = 0  # for block_size 1: how many plain tokens to decode before asking again


class BlockPolicy:
    """Chooses block sizes for one generation; feed it every cycle with observe_*()."""

    def __init__(self, max_block: int, pinned: int | None = None):
        if pinned is not None:
            sizes = [pinned] if pinned > 1 else []
        else:
            sizes = sorted({b for b in BLOCK_CANDIDATES if b < max_block} | {max_block})
        self.dflash_sizes = [b for b in sizes if b > 1]
        self.max_block = max(self.dflash_sizes, default=1)
        self.cost: dict[int, float] = {}  # block size -> seconds per cycle (1: per plain step)
        self.runs: dict[int, int] = {}
        self._reached = [0.0] * self.max_block  # index k: cycles whose draft k was checked
        self._passed = [0.0] * self.max_block  # index k: ... and accepted
        self._plain_run = FIRST_PLAIN_RUN
        self._reprobe_due = False
        self.last = Choice(1, "")

    # -- measurements ------------------------------------------------------------------------------

    def observe_cycle(self, block_size: int, accepted: int, seconds: float) -> None:
        self._record_cost(block_size, seconds)
        self._reached = [x * ACCEPT_DECAY for x in self._reached]
        self._passed = [x * ACCEPT_DECAY for x in self._passed]
        for k in range(1, min(accepted + 1, block_size - 1) + 1):
            self._reached[k] += 1
        for k in range(1, accepted + 1):
            self._passed[k] += 1

    def observe_plain(self, steps: int, seconds: float) -> None:
        """steps plain decode steps took seconds (steady state: the caller leaves out the pipeline's fill)."""
        if steps > 0:
            self._record_cost(1, seconds / steps)

    def _record_cost(self, b: int, seconds: float) -> None:
        n = self.runs.get(b, 0)
        # The first cycle at a size is replaced, not averaged: it often pays one-time costs.
        self.cost[b] = seconds if n <= 1 else (1 - COST_AVERAGING) * self.cost[b] + COST_AVERAGING * seconds
        self.runs[b] = n + 1

    # -- estimates ---------------------------------------------------------------------------------

    def accept_rates(self) -> list[float]:
        """Per-position acceptance rates r_1..r_{max-1} (smoothed toward the previous position)."""
        rates, prev = [], 0.5
        for k in range(1, self.max_block):
            prev = (self._passed[k] + PRIOR_WEIGHT * prev) / (self._reached[k] + PRIOR_WEIGHT)
            rates.append(prev)
        return rates

    def expected_tokens(self, b: int) -> float:
        total, survive = 1.0, 1.0
        for r in self.accept_rates()[: b - 1]:
            survive *= r
            total += survive
        return total

    def estimated_cost(self, b: int) -> float | None:
        return self.cost[b] if b in self.cost else self._interpolated_cost(b)

    def _interpolated_cost(self, b: int) -> float | None:
        known = {k: v for k, v in self.cost.items() if k not in (1, b)}  # DFlash sizes only
        below = [k for k in known if k < b]
        above = [k for k in known if k > b]
        if below and above:
            lo, hi = max(below), min(above)
            return known[lo] + (known[hi] - known[lo]) * (b - lo) / (hi - lo)
        nearest = below or above
        if nearest:
            return known[min(nearest, key=lambda k: abs(k - b))]
        return None

    def tokens_per_second(self, b: int) -> float | None:
        cost = self.estimated_cost(b)
        if cost is None or cost <= 0:
            return None
        return (1.0 if b == 1 else self.expected_tokens(b)) / cost

    # -- the choice --------------------------------------------------------------------------------

    def choose(self) -> Choice:
        self.last = self._choose()
        return self.last

    def _choose(self) -> Choice:
        if not self.dflash_sizes:
            return Choice(1, "plain decoding (no DFlash block size to try)", LONGEST_PLAIN_RUN)
        if 1 not in self.cost:
            return Choice(1, "auto: measuring plain decoding", MEASURE_PLAIN_STEPS)
        smallest = self.dflash_sizes[0]
        if not any(b in self.cost for b in self.dflash_sizes):
            return Choice(smallest, f"auto: probing DFlash b{smallest}")
        plain_tps = self.tokens_per_second(1) or 0.0
        measured = [b for b in self.dflash_sizes if b in self.cost]
        best = max(measured, key=lambda b: self.tokens_per_second(b) or 0.0)
        if (self.tokens_per_second(best) or 0.0) > plain_tps and not self._reprobe_due:
            # DFlash pays at a measured size: sizes not tried yet compete with their estimated cost.
            best = max(self.dflash_sizes, key=lambda b: self.tokens_per_second(b) or 0.0)
        best_tps = self.tokens_per_second(best) or 0.0
        tau = self.expected_tokens(best)
        if self._reprobe_due:
            self._reprobe_due = False
            return Choice(best, f"auto: re-probing DFlash b{best} after a plain stretch")
        if best_tps > plain_tps:
            self._plain_run = FIRST_PLAIN_RUN
            return Choice(best, f"auto: b{best}, est {best_tps / plain_tps:.2f}x plain (tau {tau:.2f})")
        run = self._plain_run
        self._plain_run = min(run * 2, LONGEST_PLAIN_RUN)
        self._reprobe_due = True
        ratio = best_tps / plain_tps if plain_tps else 0.0
        return Choice(1, f"auto: plain, best DFlash b{best} est {ratio:.2f}x plain (tau {tau:.2f}); "
                         f"re-probe after {run} tokens", run)

    def summary(self) -> str:
        """One line for the GenerationSummary: what was measured and what won."""
        parts = []
        for b in [1] + self.dflash_sizes:
            tps = self.tokens_per_second(b)
            if b in self.cost and tps:
                label = "plain" if b == 1 else f"b{b}"
                parts.append(f"{label} {tps:.1f} tok/s")
        return "; ".join(parts)
