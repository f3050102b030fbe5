"""The block rule (block verification) is exact and keeps at least as many drafts as rejection sampling.

Exact, not sampled: on a 3-token vocabulary with 3 drafts, every draft
sequence is enumerated with its probability under the draft's per-position
distributions (context-free, as a DFlash block's are), the rule's odds
(`block_verification`) give the chance of every outcome, and the emitted
tokens, continued by the target where the block ends, must have exactly the
target's joint distribution over the next 4 tokens. A rule with the wrong
residual must fail the same check. The sampled path (`accept_block` with its
key stream) gets the one-block chi-square check of the rejection rule.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sampling_kit import PASS_P
from test_lossless_sampling import one_block_fit

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui.engine.sampling import (RULE_BLOCK, KeyStream, SamplingParams, accept_block,  # noqa: E402
                                        block_verification)

V, N = 3, 3


def _pair(seed: int):
    """A context-dependent target p(. | prefix) and a context-free draft q_i(.) per block position."""
    rng = np.random.default_rng(seed)
    table = {prefix: rng.dirichlet(np.full(V, 0.7)) for k in range(N + 2)
             for prefix in itertools.product(range(V), repeat=k)}
    q = rng.dirichlet(np.full(V, 0.7), size=N)
    q[1] = q[1] * 0 + table[()]  # one position drafted from the right marginal, the others off
    return (lambda prefix: table[tuple(prefix)]), q


def _rows(target, drafts):
    return np.stack([target(drafts[:j]) for j in range(len(drafts) + 1)])


def _target_joint(target, length: int) -> dict:
    out = {}
    for seq in itertools.product(range(V), repeat=length):
        out[seq] = float(np.prod([target(seq[:j])[t] for j, t in enumerate(seq)]))
    return out


def _emitted_joint(target, q, odds) -> tuple[dict, float]:
    """Distribution of the first N+1 emitted tokens (the block's, then the target's own), and E[kept]."""
    out = {seq: 0.0 for seq in itertools.product(range(V), repeat=N + 1)}
    kept_mean = 0.0
    for drafts in itertools.product(range(V), repeat=N):
        weight = float(np.prod([q[i][d] for i, d in enumerate(drafts)]))
        h, residuals = odds(_rows(target, list(drafts)), q, list(drafts))
        for a in range(N + 1):
            chance = h[a] * np.prod([1 - h[j] for j in range(a + 1, N + 1)])  # a is the last coin that came up
            if chance == 0:
                continue
            kept_mean += weight * chance * a
            nxt = target(drafts) if a == N else residuals[a] / residuals[a].sum()
            for y in range(V):
                head = tuple(drafts[:a]) + (y,)
                for tail in itertools.product(range(V), repeat=N - a):
                    seq = head + tail
                    tail_p = np.prod([target(seq[:len(head) + j])[t] for j, t in enumerate(tail)])
                    out[seq] += weight * chance * nxt[y] * tail_p
    return out, kept_mean


def _engine_odds(p, q, drafts):
    h, residuals = block_verification(mx.array(p, mx.float32), mx.array(q, mx.float32), drafts)
    return np.array(h.tolist(), np.float64), np.array(residuals.tolist(), np.float64)


def _rejection_kept_mean(target, q) -> float:
    mean = 0.0
    for drafts in itertools.product(range(V), repeat=N):
        weight = float(np.prod([q[i][d] for i, d in enumerate(drafts)]))
        p = _rows(target, list(drafts))
        survive = np.cumprod([min(1.0, p[i][d] / q[i][d]) for i, d in enumerate(drafts)])
        mean += weight * survive.sum()  # P(kept >= i) summed over i
    return mean


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_block_rule_emits_exactly_the_target_joint_distribution(seed):
    target, q = _pair(seed)
    emitted, _ = _emitted_joint(target, q, _engine_odds)
    want = _target_joint(target, N + 1)
    worst = max(abs(emitted[s] - want[s]) for s in want)
    assert worst < 2e-6, f"largest error {worst:.2g} in the joint distribution of the first {N + 1} tokens"


def test_the_exact_check_rejects_rejection_residuals_under_block_odds():
    """Power: the block rule's coins with token-level residuals (max(0, p - q), no surviving weight) is wrong."""
    target, q = _pair(0)

    def broken(p, q_, drafts):
        h, _ = _engine_odds(p, q_, drafts)
        return h, np.maximum(p[:len(drafts)] - q_, 0.0) + 1e-12

    emitted, _ = _emitted_joint(target, q, broken)
    want = _target_joint(target, N + 1)
    assert max(abs(emitted[s] - want[s]) for s in want) > 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_block_rule_keeps_at_least_as_many_drafts_as_rejection(seed):
    target, q = _pair(seed)
    _, block = _emitted_joint(target, q, _engine_odds)
    rejection = _rejection_kept_mean(target, q)
    assert block >= rejection - 1e-9, (block, rejection)
    if seed == 0:
        assert block > rejection * 1.01, (block, rejection)  # strictly more where drafts are often off


def test_sampled_block_rule_emits_p_for_a_far_off_proposal():
    assert one_block_fit(accept_block) > PASS_P


def test_block_is_the_default_rule_without_a_seed():
    assert SamplingParams(temperature=0.7).resolved_rule == RULE_BLOCK


def test_a_draft_the_target_rules_out_is_never_kept_and_later_drafts_cannot_save_it():
    """p(d1) = 0: nothing survives past it, whatever the later drafts are; the next token comes from p - q."""
    p = mx.array([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    q = mx.array([[0.9, 0.05, 0.05], [1e-9, 0.5, 0.5]])
    h, residuals = block_verification(p, q, [0, 2])
    assert h.tolist()[1:] == [0.0, 0.0]
    assert not mx.isnan(residuals).any().item()
    keys = KeyStream(0)
    for _ in range(50):
        a, nxt = accept_block(p, q, [0, 2], keys)
        assert a == 0 and nxt in (1, 2)
