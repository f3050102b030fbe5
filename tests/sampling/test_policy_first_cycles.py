"""The policy does not judge a draft by the first cycles of a session.

The first block after a prompt is often rejected even by a draft that is
excellent afterwards (seen on a real pair: one b4 probe accepting nothing sent
the policy to plain decoding for 280 tokens while DFlash ran 4x faster).
"""

from __future__ import annotations

import random

from dflash_tui.engine.policy import MIN_EVIDENCE_CYCLES, BlockPolicy


def run(policy: BlockPolicy, step_cost: float, cycle_cost, rates, tokens: int, seed: int = 0) -> float:
    """Tokens per second; rates(i) is the per-position acceptance of the i-th DFlash cycle."""
    rng = random.Random(seed)
    done, elapsed, cycles = 0, 0.0, 0
    while done < tokens:
        choice = policy.choose()
        if choice.block_size == 1:
            n = min(choice.plain_steps, tokens - done)
            policy.observe_plain(n, [step_cost] * (n - 1))
            done, elapsed = done + n, elapsed + n * step_cost
            continue
        b, a = choice.block_size, 0
        while a < b - 1 and rng.random() < rates(cycles):
            a += 1
        cycles += 1
        policy.observe_cycle(b, a, cycle_cost(b))
        done, elapsed = done + a + 1, elapsed + cycle_cost(b)
    return done / elapsed


def cpu_cycle(b: int) -> float:
    return 2.2 + 0.2 * b  # a tiny model on this CPU: a b16 cycle costs about 5.4 plain steps


def test_a_rejected_first_probe_does_not_send_a_good_draft_to_plain_decoding():
    good_after_first = lambda i: 0.0 if i == 0 else 0.92  # noqa: E731
    best_fixed = sum(0.92 ** k for k in range(16)) / cpu_cycle(16)
    got = run(BlockPolicy(16), 1.0, cpu_cycle, good_after_first, tokens=400)
    assert got >= 0.85 * best_fixed, f"{got:.3f} tok/s vs b16 {best_fixed:.3f}"  # 400 tokens incl. the cold start


def test_a_draft_that_cannot_win_even_when_always_right_is_not_kept_for_evidence():
    slow = lambda b: 2.0 * b  # noqa: E731  (b tokens at best, for the time of 2b plain steps)
    policy = BlockPolicy(16)
    run(policy, 1.0, slow, lambda i: 0.0, tokens=200)
    assert policy._dflash_cycles < MIN_EVIDENCE_CYCLES


def test_a_useless_draft_costs_little_for_its_evidence_cycles():
    got = run(BlockPolicy(16), 1.0, cpu_cycle, lambda i: 0.0, tokens=1000)
    assert got >= 0.97, f"{got:.3f} tok/s vs plain 1.0"


def answers(policy, step_cost: float, cycle_cost, rate_at, n_answers: int, length: int, fixed: int | None = None,
            seed: int = 0) -> float:
    """Tokens per second over n answers of `length` tokens; rate_at(g) is the per-position acceptance
    when the answer has g tokens. fixed: run that block size instead of asking the policy."""
    rng = random.Random(seed)
    done, elapsed = 0, 0.0
    for _ in range(n_answers):
        g = 0
        while g < length:
            choice = policy.choose(generated=g) if fixed is None else None
            if choice is not None and choice.block_size == 1:
                n = min(choice.plain_steps, length - g)
                policy.observe_plain(n, [step_cost] * (n - 1))
                g, elapsed = g + n, elapsed + n * step_cost
                continue
            b, a = (fixed or choice.block_size), 0
            while a < b - 1 and rng.random() < rate_at(g + a):
                a += 1
            if fixed is None:
                policy.observe_cycle(b, a, cycle_cost(b), generated=g)
            g, elapsed = g + a + 1, elapsed + cycle_cost(b)
        done += g
    return done / elapsed


def test_answers_that_start_unpredictably_still_get_dflash_once_they_settle():
    """A draft that misses an answer's first dozen tokens and then predicts well (a real pair did this):
    plain decoding for the start, DFlash after, within 5% of the best fixed block size over many answers."""
    rate_at = lambda g: 0.0 if g < 12 else 0.92  # noqa: E731
    policy = BlockPolicy(16)
    got = answers(policy, 1.0, cpu_cycle, rate_at, n_answers=30, length=128)
    best = max(answers(BlockPolicy(16), 1.0, cpu_cycle, rate_at, 30, 128, fixed=b) for b in (4, 8, 16))
    assert got >= 0.95 * best, f"{got:.3f} tok/s vs best fixed {best:.3f}"


def test_answers_from_a_useless_draft_stay_within_3_percent_of_plain():
    got = answers(BlockPolicy(16), 1.0, cpu_cycle, lambda g: 0.02, n_answers=30, length=128)
    assert got >= 0.97, f"{got:.3f} tok/s vs plain 1.0"
