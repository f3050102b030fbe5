"""DFlash sampling emits tokens distributed exactly as plain sampling from the target.

Each test draws many seeded generations of a few tokens after a fixed prompt
and checks the k-th token against the target's exact distribution given the
tokens before it in that run (one batched target forward per position): the
randomized probability integral transform of each token is uniform exactly
when tokens follow that distribution; a chi-square test over 10 bins checks it.
Seeds are fixed, so results are deterministic. The bound (p-value 1e-3) is
checked for power: the same test must reject deliberately broken acceptance
rules by a wide margin.
"""

from __future__ import annotations

from collections import Counter

import pytest
from stats_kit import goodness_of_fit, randomized_pit, uniformity

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui.engine import decode  # noqa: E402
from dflash_tui.engine.sampling import (KeyStream, SamplingParams, draw, history_rows,  # noqa: E402
                                        token_distribution)

ACCEPT_REJECTION = decode.accept_rejection  # the real rule, whatever a test patches into decode

PROMPT = "The quick brown fox"
RUNS = 240
PASS_P = 1e-3  # a correct sampler fails with this probability per check
BROKEN_P = 1e-6  # a broken one must fall far below the bound

WARM = SamplingParams(temperature=0.5)
FILTERED = SamplingParams(temperature=0.8, top_k=40, top_p=0.95, min_p=0.02, repetition_penalty=1.3)


def sample_runs(engine, params: SamplingParams, mode: str, block_size: int | None, first_seed: int,
                runs: int = RUNS, max_tokens: int = 3) -> list[list[int]]:
    """The first max_tokens tokens of each seeded run (a stop token included, as the target chose it)."""
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    eos = sorted(engine.tokenizer.eos_token_ids)[0]
    out = []
    for seed in range(first_seed, first_seed + runs):
        *_, summary = engine.generate(ids, max_tokens=max_tokens, mode=mode, block_size=block_size,
                                      sampling=SamplingParams(**{**params.__dict__, "seed": seed}))
        assert summary.stop_reason in ("length", "stop"), summary.error
        out.append(summary.token_ids + ([eos] if summary.stop_reason == "stop" else []))
    return out


def exact_fit(engine, params: SamplingParams, runs: list[list[int]], position: int) -> tuple[float, int, float]:
    """Uniformity of the randomized PIT of the tokens at `position` under the target's exact distribution
    given each run's prefix (one batched forward of the plain target)."""
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    runs = [r for r in runs if len(r) > position]
    seqs = [ids + r[:position] for r in runs]
    logits = engine.target.model(mx.array(seqs))[:, -1]
    C = params.repetition_context
    history = mx.concatenate([history_rows(s[-C:], [], 1, C) for s in seqs], axis=0)
    probs = token_distribution(logits, params, history).tolist()
    return uniformity(randomized_pit(probs, [r[position] for r in runs], seed=position))


@pytest.mark.parametrize("params,block_size", [(WARM, 4), (WARM, 2), (FILTERED, 4)],
                         ids=["t0.5-b4", "t0.5-b2", "filtered-b4"])
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


def test_rejection_sampling_accepts_more_than_sample_and_match(engine):
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    accepted = {}
    for rule in ("rejection", "matching"):
        summaries = [list(engine.generate(ids, max_tokens=16, mode="dflash", block_size=8,
                                          sampling=SamplingParams(temperature=0.7, seed=s, rule=rule)))[-1]
                     for s in range(40)]
        accepted[rule] = sum(s.accepted for s in summaries) / sum(s.drafted for s in summaries)
    assert accepted["rejection"] > 1.5 * accepted["matching"], accepted


def test_greedy_with_repetition_penalty_is_the_same_in_both_modes(engine):
    """Temperature 0 + penalty runs the sampling path with one-hot distributions: p and q histories must align."""
    ids = engine.encode_chat([{"role": "user", "content": "def main(): return 42"}])
    plain = list(engine.generate(ids, max_tokens=40, mode="plain", repetition_penalty=1.5))[-1]
    dflash = list(engine.generate(ids, max_tokens=40, mode="dflash", block_size=8, repetition_penalty=1.5))[-1]
    unpenalized = list(engine.generate(ids, max_tokens=40, mode="plain"))[-1]
    assert dflash.token_ids == plain.token_ids
    assert plain.token_ids != unpenalized.token_ids  # the penalty did something


