"""A simulated decoder for the drafting-policy tests: a cost model and acceptance rates in, tok/s out."""

from __future__ import annotations

import random
from typing import Callable

from dflash_tui.engine.policy import BlockPolicy


def simulate(policy: BlockPolicy, step_cost: float, cycle_cost, accept_rate: float | Callable[[int], float],
             tokens: int = 3000, seed: int = 0) -> float:
    """Tokens per second of the policy when a cycle at b costs cycle_cost(b) and each draft position
    is accepted with probability accept_rate (given the ones before were); a callable accept_rate
    gives the rate of the i-th DFlash cycle."""
    rate_of = accept_rate if callable(accept_rate) else (lambda _i: accept_rate)
    rng = random.Random(seed)
    done, elapsed, cycles = 0, 0.0, 0
    while done < tokens:
        choice = policy.choose()
        if choice.block_size == 1:
            n = min(choice.plain_steps, tokens - done)
            policy.observe_plain(n, [step_cost] * (n - 1))
            done, elapsed = done + n, elapsed + n * step_cost
            continue
        b = choice.block_size
        a = 0
        while a < b - 1 and rng.random() < rate_of(cycles):
            a += 1
        cycles += 1
        policy.observe_cycle(b, a, cycle_cost(b))
        done, elapsed = done + a + 1, elapsed + cycle_cost(b)
    return done / elapsed


def fixed_tps(b: int, step_cost: float, cycle_cost, accept_rate: float) -> float:
    expected = sum(accept_rate ** k for k in range(b))
    return expected / cycle_cost(b)
