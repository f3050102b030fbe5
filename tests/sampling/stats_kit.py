"""Goodness-of-fit helpers for the sampling tests (no scipy: CI installs only the test extras)."""

from __future__ import annotations

import math
from collections import Counter


def chi_square_sf(stat: float, df: int) -> float:
    """P(X >= stat) for X ~ chi-square(df), by the Wilson-Hilferty normal approximation."""
    if df <= 0:
        return 1.0
    z = ((stat / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 0.5 * math.erfc(z / math.sqrt(2))


def goodness_of_fit(observed: Counter, expected: dict[int, float],
                    min_expected: float = 5.0) -> tuple[float, int, float]:
    """Chi-square of observed counts against expected counts; bins under min_expected are pooled.

    Returns (statistic, degrees of freedom, p-value).
    """
    big = [t for t, e in expected.items() if e >= min_expected]
    bins = [(observed.get(t, 0), expected[t]) for t in big]
    rest_obs = sum(n for t, n in observed.items() if t not in big)
    rest_exp = sum(e for t, e in expected.items() if t not in big)
    if rest_exp > 0:
        bins.append((rest_obs, rest_exp))
    stat = sum((o - e) ** 2 / e for o, e in bins)
    df = len(bins) - 1
    return stat, df, chi_square_sf(stat, df)


def randomized_pit(probs: list[list[float]], tokens: list[int], seed: int = 0) -> list[float]:
    """Randomized probability integral transform: Uniform(0, 1) values exactly when each token ~ its row.

    Tokens are ranked by descending probability, so a sampler that favours unlikely tokens pushes values
    toward 1 and one that over-favours likely tokens pushes them toward 0.
    """
    import random

    rng = random.Random(seed)
    out = []
    for row, t in zip(probs, tokens):
        below = sum(p for p in row if p > row[t]) + sum(p for i, p in enumerate(row) if p == row[t] and i < t)
        out.append(below + rng.random() * row[t])
    return out


def uniformity(values: list[float], bins: int = 10) -> tuple[float, int, float]:
    """Chi-square of values in [0, 1) against the uniform distribution, over equal bins."""
    counts = Counter(min(int(v * bins), bins - 1) for v in values)
    n = len(values)
    return goodness_of_fit(counts, {b: n / bins for b in range(bins)}, min_expected=0.0)


def poisson_sf(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean): the upper tail of a count of rare independent events."""
    if k <= 0:
        return 1.0
    term = total = math.exp(-mean)
    for i in range(1, k):
        term *= mean / i
        total += term
    return max(0.0, 1.0 - total)
