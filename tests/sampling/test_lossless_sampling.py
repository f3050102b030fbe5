"""DFlash sampling under the "rejection" and "block" rules emits tokens distributed exactly as plain sampling from the target.

Each test draws many seeded generations of a few tokens and checks the k-th
token against the target's exact distribution given the tokens before it
(sampling_kit.exact_fit: a randomized PIT, chi-square over 10 bins). The
bound (p-value 1e-3) is checked for power: the same test must reject
deliberately broken acceptance rules by a wide margin. The rule is explicit
here: a seed alone selects the coupled rule (test_coupled_sampling.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from sampling_kit import BROKEN_P, PASS_P, PROMPT, exact_fit, sample_runs
from stats_kit import goodness_of_fit

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui.engine import decode  # noqa: E402
from dflash_tui.engine.sampling import KeyStream, SamplingParams, draw  # noqa: E402

ACCEPT_REJECTION = decode.accept_rejection  # the real rule, whatever a test patches into decode

WARM = SamplingParams(temperature=0.5, rule="rejection")
FILTERED = SamplingParams(temperature=0.8, top_k=40, top_p=0.95, min_p=0.02, repetition_penalty=1.3,
                          rule="rejection")


BLOCK_RULE = replace(FILTERED, rule="block")


@pytest.mark.parametrize("params,block_size", [(WARM, 4), (WARM, 2), (FILTERED, 4), (BLOCK_RULE, 4)],
                         ids=["t0.5-b4", "t0.5-b2", "filtered-b4", "block-rule-filtered-b4"])
def test_dflash_sampling_matches_the_target_distribution(engine, params, block_size):
    runs = sample_runs(engine, params, "dflash", block_size, first_seed=1000)
    for position in (1, 2):  # position 0 comes from the prefill, sampled like plain decoding
        stat, df, p = exact_fit(engine, params, runs, position)
        assert p > PASS_P, f"token {position}: chi2 {stat:.1f} on {df} df, p={p:.2g}"


def test_plain_sampling_matches_the_target_distribution(engine):
    """The same check on plain decoding: both modes draw from one processed distribution."""
    runs = sample_runs(engine, FILTERED, "plain", None, first_seed=5000)
    for position in (0, 1, 2):
        stat, df, p = exact_fit(engine, FILTERED, runs, position)
        assert p > PASS_P, f"token {position}: chi2 {stat:.1f} on {df} df, p={p:.2g}"


def _accept_every_draft(p, q, drafts, keys):
    return len(drafts), int(draw(p[len(drafts):], keys.next()).item())


def _correct_from_target(p, q, drafts, keys):
    """The right acceptance test with the wrong correction: p instead of normalize(max(0, p - q))."""
    a, _ = ACCEPT_REJECTION(p, q, drafts, keys)
    return a, int(draw(p[a:a + 1], keys.next()).item())


def test_the_bound_rejects_accepting_every_draft(engine, monkeypatch):
    monkeypatch.setattr(decode, "accept_rejection", _accept_every_draft)
    runs = sample_runs(engine, WARM, "dflash", 4, first_seed=1000)
    worst = min(exact_fit(engine, WARM, runs, position)[2] for position in (1, 2))
    assert worst < BROKEN_P, f"a broken sampler passed (p={worst:.2g}): the test has no power"


def one_block_fit(accept, n: int = 3000) -> float:
    """Draw one draft from q, accept it against p; the first token must follow p[0], the bonus p[1].

    Returns the smaller p-value of the two chi-square tests.
    """
    p = mx.array([[0.5, 0.3, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4]])
    q = mx.array([[0.3, 0.05, 0.05, 0.6]])
    keys = KeyStream(3)
    first, bonus = Counter(), Counter()
    for _ in range(n):
        d = int(draw(q, keys.next()).item())
        a, nxt = accept(p, q, [d], keys)
        first[d if a else nxt] += 1
        if a:
            bonus[nxt] += 1
    n_bonus = sum(bonus.values())
    return min(goodness_of_fit(first, {t: n * v for t, v in enumerate(p[0].tolist()) if v})[2],
               goodness_of_fit(bonus, {t: n_bonus * v for t, v in enumerate(p[1].tolist()) if v})[2])


def test_rejection_rule_emits_p_for_a_far_off_proposal():
    assert one_block_fit(ACCEPT_REJECTION) > PASS_P


@pytest.mark.parametrize("broken", [_accept_every_draft, _correct_from_target], ids=["accept-all", "correct-from-p"])
def test_the_one_block_check_rejects_broken_rules(broken):
    assert one_block_fit(broken) < BROKEN_P


def test_seeded_runs_are_reproducible(engine):
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    for mode in ("dflash", "plain"):
        a = [e for e in engine.generate(ids, max_tokens=24, mode=mode, temperature=0.8, seed=7)][-1]
        b = [e for e in engine.generate(ids, max_tokens=24, mode=mode, temperature=0.8, seed=7)][-1]
        c = [e for e in engine.generate(ids, max_tokens=24, mode=mode, temperature=0.8, seed=8)][-1]
        assert a.token_ids == b.token_ids, mode
        assert a.token_ids != c.token_ids, mode


def test_greedy_with_repetition_penalty_is_the_same_in_both_modes(engine):
    """Temperature 0 + penalty runs the sampling path with one-hot distributions: p and q histories must align."""
    ids = engine.encode_chat([{"role": "user", "content": "def main(): return 42"}])
    plain = list(engine.generate(ids, max_tokens=40, mode="plain", repetition_penalty=1.5))[-1]
    dflash = list(engine.generate(ids, max_tokens=40, mode="dflash", block_size=8, repetition_penalty=1.5))[-1]
    unpenalized = list(engine.generate(ids, max_tokens=40, mode="plain"))[-1]
    assert dflash.token_ids == plain.token_ids
    assert plain.token_ids != unpenalized.token_ids  # the penalty did something
