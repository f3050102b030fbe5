"""The drafting policy: measured costs and acceptance in, block size (or plain decoding) out.

The simulated tests drive BlockPolicy with a cost model and a per-position
acceptance rate and compare the policy's throughput with plain decoding and
with every fixed block size over the same number of tokens.
"""

from __future__ import annotations

import pytest

from dflash_tui.engine.policy import BlockPolicy
from policy_sim import fixed_tps, simulate


SCENARIOS = {
    # name: (plain step, cycle cost at b, acceptance per position)
    "random draft, slow verify (CPU)": (1.0, lambda b: 1.3 + 0.12 * b, 0.02),
    "good draft, flat verify (GPU)": (1.0, lambda b: 1.25 + 0.01 * b, 0.9),
    "middling draft, linear verify": (1.0, lambda b: 1.1 + 0.08 * b, 0.6),
    "weak draft, near break-even": (1.0, lambda b: 1.15 + 0.02 * b, 0.25),
    "tiny model on a CPU": (1.0, lambda b: 3.5 + 0.2 * b, 0.02),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_policy_is_within_3_percent_of_plain_and_5_percent_of_the_best_fixed_size(name):
    step, cycle, rate = SCENARIOS[name]
    got = simulate(BlockPolicy(16), step, cycle, rate, tokens=20000)
    plain = 1 / step
    best_fixed = max(fixed_tps(b, step, cycle, rate) for b in (4, 8, 16))
    assert got >= 0.97 * plain, f"{got:.3f} tok/s vs plain {plain:.3f}"
    assert got >= 0.95 * best_fixed or best_fixed < plain, f"{got:.3f} vs best fixed {best_fixed:.3f}"


def test_a_draft_that_never_pays_sends_the_policy_to_plain_with_a_visible_reason():
    policy = BlockPolicy(16)
    simulate(policy, 1.0, lambda b: 2.0 + 0.1 * b, 0.0, tokens=200)
    choice = policy.choose()
    assert choice.block_size == 1
    assert "plain" in choice.reason and "re-probe after" in choice.reason


def test_plain_stretches_grow_while_plain_keeps_winning_and_probes_come_back():
    policy = BlockPolicy(16)
    sizes = []
    for _ in range(12):
        c = policy.choose()
        sizes.append((c.block_size, c.plain_steps))
        if c.block_size == 1:
            policy.observe_plain(c.plain_steps, [1.0] * (c.plain_steps - 1))
        else:
            policy.observe_cycle(c.block_size, 0, 1.5)
    stretches = [n for b, n in sizes[2:] if b == 1]
    probes = [b for b, _ in sizes[2:] if b > 1]
    assert probes, "plain decoding must be re-probed"
    assert stretches == sorted(stretches) and stretches[-1] > stretches[0]


def test_a_good_draft_settles_on_the_largest_block():
    policy = BlockPolicy(16)
    simulate(policy, 1.0, lambda b: 1.2 + 0.01 * b, 0.95, tokens=400)
    assert policy.choose().block_size == 16


def test_expected_tokens_follow_the_observed_acceptance():
    policy = BlockPolicy(8)
    for _ in range(200):
        policy.observe_cycle(8, 3, 1.0)  # always exactly 3 of 7 accepted
    assert policy.expected_tokens(8) == pytest.approx(4.0, abs=0.1)
    assert policy.expected_tokens(4) == pytest.approx(4.0, abs=0.1)
    assert policy.expected_tokens(2) == pytest.approx(2.0, abs=0.05)


def test_a_pinned_size_is_the_only_dflash_choice():
    policy = BlockPolicy(16, pinned=8)
    assert policy.dflash_sizes == [8]
    seen = set()
    for _ in range(6):
        c = policy.choose()
        seen.add(c.block_size)
        if c.block_size == 1:
            policy.observe_plain(c.plain_steps, [1.0] * c.plain_steps)
        else:
            policy.observe_cycle(c.block_size, 7, 1.2)
    assert seen == {1, 8}


def test_costs_are_low_quantiles_so_one_spike_does_not_flip_the_choice():
    policy = BlockPolicy(16, pinned=4)
    policy.observe_plain(9, [1.0] * 8)
    for _ in range(4):
        policy.observe_cycle(4, 3, 1.5)
    assert policy.choose().block_size == 4
    policy.observe_cycle(4, 3, 50.0)  # another process took the CPU for a moment
    assert policy.choose().block_size == 4


def test_auto_mode_on_a_useless_draft_falls_back_to_plain_visibly_and_keeps_greedy_output(engine):
    from dflash_tui.engine.events import CycleStats

    ids = engine.encode_chat([{"role": "user", "content": "def main(): return 42"}])
    plain = list(engine.generate(ids, max_tokens=48, mode="plain"))[-1]
    events = list(engine.generate(ids, max_tokens=48, mode="auto"))
    summary = events[-1]
    cycles = [e for e in events if isinstance(e, CycleStats)]
    assert summary.token_ids == plain.token_ids
    assert all(c.reason.startswith("auto") for c in cycles)
    assert {c.mode for c in cycles} == {"plain", "dflash"}  # measured plain, probed DFlash
    assert all((c.block_size == 1) == (c.mode == "plain") for c in cycles)
    assert summary.reason and "plain" in summary.reason
    assert sum(summary.block_tokens.values()) == summary.generated_tokens - 1  # the first comes from prefill


def test_auto_mode_with_a_perfect_draft_settles_on_the_largest_block(engine):
    """A proposer that knows the target's greedy continuation: DFlash must win and grow to the full block."""
    from dflash_tui.engine.decode import dflash_generate
    from dflash_tui.engine.events import CycleStats
    from dflash_tui.engine.policy import BlockPolicy

    ids = engine.encode_chat([{"role": "user", "content": "The quick brown fox"}])
    reference = list(engine.generate(ids, max_tokens=400, mode="plain"))[-1].token_ids
    engine.reset()
    full = ids + reference + [0] * 32

    def oracle(staged, offset, block_size):
        return full[offset + 1:offset + block_size]

    policy = BlockPolicy(16)
    policy.observe_plain(9, [1.0] * 8)  # plain is slow here: only the expected tokens pick the size
    gen = dflash_generate(engine.target, engine.draft, engine.tokenizer, engine._state, ids, len(ids),
                          max_tokens=len(reference), block_size=16, stop_ids=set(), cancel=None,
                          propose=oracle, policy=policy)
    sizes = [e.block_size for e in gen if isinstance(e, CycleStats)]
    assert sizes[-1] == 16 and sizes.count(16) > len(sizes) // 2, sizes


def test_one_unlucky_measurement_does_not_lock_a_block_size_out():
    policy = BlockPolicy(16)
    policy.observe_plain(9, [1.0] * 8)
    policy.observe_cycle(16, 15, 100.0)  # the first b16 cycle met a busy machine
    simulate(policy, 1.0, lambda b: 1.2 + 0.01 * b, 0.95, tokens=3000)
    assert policy.choose().block_size == 16
