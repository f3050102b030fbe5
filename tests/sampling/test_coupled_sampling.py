"""The coupled rule (the default with a seed): the same seed gives the same text in every mode, block size and
drafting-policy choice, and every token is still distributed exactly as plain sampling from the target.

The token at absolute position t is argmax(log p_t + G_t) with Gumbel noise keyed by (seed, t); drafts are
argmax(log q_t + G_t) and kept iff equal. The statistical checks use sampling_kit (randomized PIT against
the target's exact distribution given each run's prefix), and each is shown to have power against broken
variants of the rule.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest
from sampling_kit import BROKEN_P, PASS_P, PROMPT, exact_fit, repeat_fit, sample_runs
from stats_kit import goodness_of_fit

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui.engine import decode  # noqa: E402
from dflash_tui.engine.events import CycleStats  # noqa: E402
from dflash_tui.engine.policy import BlockPolicy, Choice  # noqa: E402
from dflash_tui.engine.sampling import (RULE_BLOCK, RULE_COUPLED, RULE_MATCHING, RULE_REJECTION, PositionNoise,  # noqa: E402
                                        SamplingParams, coupled_tokens, position_key)

TOP_P = SamplingParams(temperature=0.7, top_p=0.9)
FILTERED = SamplingParams(temperature=0.8, top_k=40, top_p=0.95, min_p=0.02, repetition_penalty=1.3)


def fresh(engine):
    from dflash_tui.engine.session import Engine

    return Engine(engine.target, engine.tokenizer, engine.draft)


class ScriptedPolicy(BlockPolicy):
    """A drafting policy that cycles through fixed choices, plain stretches included."""

    def __init__(self, script: list[Choice]):
        super().__init__(16)
        self._script = itertools.cycle(script)

    def choose(self) -> Choice:
        self.last = next(self._script)
        return self.last


SCRIPT = [Choice(5, "scripted"), Choice(1, "scripted", plain_steps=3), Choice(16, "scripted"),
          Choice(2, "scripted"), Choice(1, "scripted", plain_steps=1), Choice(8, "scripted")]


def run(engine, ids, sampling, mode, block_size=None, max_tokens=48):
    events = list(engine.generate(ids, max_tokens=max_tokens, mode=mode, block_size=block_size, sampling=sampling))
    summary = events[-1]
    assert summary.stop_reason in ("length", "stop"), summary.error
    return summary, [e for e in events if isinstance(e, CycleStats)]


# -- the rule's resolution -------------------------------------------------------------------------------------


def test_the_summary_says_which_rule_kept_the_drafts(engine):
    """The stats pane's "why" line names the acceptance rule when DFlash sampled; greedy and plain say nothing."""
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    block, _ = run(engine, ids, SamplingParams(temperature=0.7), "dflash", 4, max_tokens=12)
    assert "sampling at T 0.7: drafts kept by block verification (lossless)" in block.reason
    coupled, _ = run(engine, ids, SamplingParams(temperature=0.7, seed=3), "dflash", 4, max_tokens=12)
    assert "the coupled rule" in coupled.reason
    for sampling, mode in ((SamplingParams(), "dflash"), (SamplingParams(temperature=0.7), "plain")):
        summary, _ = run(engine, ids, sampling, mode, 4 if mode == "dflash" else None, max_tokens=12)
        assert "drafts kept by" not in summary.reason


def test_a_seed_selects_the_coupled_rule_and_an_explicit_rule_wins():
    assert SamplingParams(temperature=0.7, seed=1).resolved_rule == RULE_COUPLED
    assert SamplingParams(temperature=0.7).resolved_rule == RULE_BLOCK
    assert SamplingParams(temperature=0.7, seed=1, rule="rejection").resolved_rule == RULE_REJECTION
    assert SamplingParams(temperature=0.7, seed=1, rule="matching").resolved_rule == RULE_MATCHING
    assert SamplingParams(temperature=0.7, rule="coupled").resolved_rule == RULE_COUPLED  # a random seed then
    assert not SamplingParams(seed=1).coupled  # temperature 0: the argmax, no noise needed
    with pytest.raises(ValueError, match="rule must be one of 'coupled', 'block', 'rejection', 'matching'"):
        SamplingParams(rule="gumbel")


def test_position_noise_depends_only_on_seed_and_position():
    a = PositionNoise(7).rows(10, 4, 50)
    b = mx.concatenate([PositionNoise(7).rows(t, 1, 50) for t in range(10, 14)])
    noise = PositionNoise(7)
    noise.rows(12, 3, 50)  # cached rows come back the same
    assert mx.array_equal(a, b) and mx.array_equal(a[2:], noise.rows(12, 2, 50))
    assert not mx.array_equal(a, PositionNoise(8).rows(10, 4, 50))
    assert not mx.array_equal(a[0], a[1])
    assert position_key(7, 3).tolist() == position_key(7, 3).tolist() != position_key(7, 4).tolist()


# -- same seed, same text --------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [TOP_P, FILTERED], ids=["t0.7-top-p0.9", "filtered-penalty1.3"])
def test_a_seed_gives_the_same_text_in_every_mode_block_size_and_policy_choice(engine, monkeypatch, params):
    sampling = replace(params, seed=21)
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    reference, _ = run(fresh(engine), ids, sampling, "auto")
    texts, accepted = {}, 0
    texts["auto, fresh engine again"] = run(fresh(engine), ids, sampling, "auto")[0].token_ids
    learnt = fresh(engine)  # its policy has measured two generations: it may choose differently now
    for i in range(3):
        texts[f"auto, policy after {i} runs"] = run(learnt, ids, sampling, "auto")[0].token_ids
    for b in (4, 16):
        texts[f"auto pinned {b}"] = run(fresh(engine), ids, sampling, "auto", b)[0].token_ids
    for b in (2, 4, 16):
        summary, _ = run(fresh(engine), ids, sampling, "dflash", b)
        texts[f"dflash {b}"] = summary.token_ids
        accepted += summary.accepted
    texts["plain"] = run(fresh(engine), ids, sampling, "plain")[0].token_ids
    scripted = fresh(engine)
    monkeypatch.setattr(scripted, "policy", lambda block_size=None, sampling=None: ScriptedPolicy(SCRIPT))
    summary, cycles = run(scripted, ids, sampling, "auto")
    texts["scripted policy"] = summary.token_ids
    assert {c.block_size for c in cycles} == {1, 2, 5, 8, 16}
    assert len(reference.token_ids) >= 16
    for name, tokens in texts.items():
        assert tokens == reference.token_ids, name
    assert accepted > 0  # drafts were really kept, not only corrected


def test_different_seeds_give_different_text_and_the_rejection_rule_depends_on_the_block_size(engine):
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    for mode, b in (("dflash", 4), ("plain", None)):
        texts = [tuple(run(engine, ids, replace(TOP_P, seed=s), mode, b, max_tokens=24)[0].token_ids)
                 for s in range(4)]
        assert len(set(texts)) == 4, mode
    # Control: the coupled rule is what makes block sizes agree; the same seed under "rejection" does not.
    rejection = replace(TOP_P, seed=21, rule="rejection")
    texts = {tuple(run(engine, ids, rejection, "dflash", b, max_tokens=24)[0].token_ids) for b in (2, 4, 16)}
    assert len(texts) > 1


# -- lossless ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params,mode,block_size,positions,first_seed", [
    (TOP_P, "dflash", 2, (0, 1, 2, 3), 3000),  # one host sync per cycle from the second cycle on
    (FILTERED, "dflash", 4, (1, 2), 3000),  # penalty: drafts chosen in order, acceptance on the host
    (FILTERED, "plain", None, (0, 1, 2), 6000),  # other seeds: plain would repeat the dflash runs exactly
], ids=["top-p-dflash-b2", "filtered-dflash-b4", "filtered-plain"])
def test_coupled_sampling_matches_the_target_distribution(engine, params, mode, block_size, positions, first_seed):
    assert replace(params, seed=0).resolved_rule == RULE_COUPLED
    runs = sample_runs(engine, params, mode, block_size, first_seed=first_seed, max_tokens=max(positions) + 1)
    for position in positions:
        stat, df, p = exact_fit(engine, params, runs, position)
        assert p > PASS_P, f"token {position}: chi2 {stat:.1f} on {df} df, p={p:.2g}"
        if position > 0:
            seen, expected, p = repeat_fit(engine, params, runs, position)
            assert p > PASS_P, f"token {position}: {seen} repeats, {expected:.1f} expected, p={p:.2g}"


def _one_noise_row(self, first, n, vocab):
    """Broken: the same noise at every position (tokens are no longer independent of their history's noise)."""
    return mx.broadcast_to(mx.random.gumbel(shape=(vocab,), key=position_key(self.seed, 0)), (n, vocab))


def _keep_every_draft(monkeypatch):
    """Broken: drafts kept whatever the target chose (emits the draft's perturbed argmax, distributed as q)."""
    monkeypatch.setattr(decode, "accept_greedy", lambda drafts, posterior: len(drafts))

    def accept_all(logits, params, drafts, noise, history=None):
        n = len(drafts)
        return n, int(coupled_tokens(logits[n:], params, noise[n:]).item())

    monkeypatch.setattr(decode, "accept_coupled", accept_all)


@pytest.mark.parametrize("broken", ["one-noise-row", "keep-every-draft"])
def test_the_bound_rejects_broken_coupled_rules(engine, monkeypatch, broken):
    if broken == "one-noise-row":
        monkeypatch.setattr(PositionNoise, "rows", _one_noise_row)
    else:
        _keep_every_draft(monkeypatch)
    runs = sample_runs(engine, TOP_P, "dflash", 2, first_seed=3000, max_tokens=4)
    worst = min(min(exact_fit(engine, TOP_P, runs, position)[2], repeat_fit(engine, TOP_P, runs, position)[2])
                for position in (1, 2, 3))
    assert worst < BROKEN_P, f"a broken sampler passed (p={worst:.2g}): the test has no power"


def test_perturbed_argmax_follows_p_at_every_position():
    """The rule itself on fixed distributions: over many seeds the choice at each position follows p_t,
    and the choices at two positions are independent (one shared noise row would correlate them)."""
    p = mx.array([[0.5, 0.3, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4]])
    params = SamplingParams(temperature=1.0)
    logits = mx.log(p)
    n = 3000
    first, second, pairs = Counter(), Counter(), Counter()
    for seed in range(n):
        a, b = coupled_tokens(logits, params, PositionNoise(seed).rows(5, 2, 4)).tolist()
        first[a] += 1
        second[b] += 1
        pairs[a, b] += 1
    joint = {(i, j): n * x * y for i, x in enumerate(p[0].tolist()) for j, y in enumerate(p[1].tolist()) if x * y}
    for counts, expected in ((first, {t: n * v for t, v in enumerate(p[0].tolist()) if v}),
                             (second, {t: n * v for t, v in enumerate(p[1].tolist()) if v}), (pairs, joint)):
        assert goodness_of_fit(counts, expected)[2] > PASS_P, counts
    assert first[3] == 0  # a token with p = 0 is never chosen


# -- acceptance ---------------------------------------------------------------------------------------------------


def test_coupled_acceptance_is_at_least_sample_and_match(engine):
    """Measured on the same prompts, seeds and block size: block >= rejection >= coupled >> matching here."""
    accepted = {}
    for rule in (RULE_COUPLED, RULE_BLOCK, RULE_REJECTION, RULE_MATCHING):
        kept = drafted = 0
        for prompt in (PROMPT, "def main(): return 42"):
            ids = engine.encode_chat([{"role": "user", "content": prompt}])
            for s in range(20):
                summary, _ = run(engine, ids, SamplingParams(temperature=0.7, seed=s, rule=rule), "dflash", 8,
                                 max_tokens=16)
                kept, drafted = kept + summary.accepted, drafted + summary.drafted
        accepted[rule] = kept / drafted
    print("acceptance per draft at t=0.7, block 8:", {k: round(v, 4) for k, v in accepted.items()})
    assert accepted[RULE_COUPLED] >= accepted[RULE_MATCHING], accepted
    assert accepted[RULE_COUPLED] > 1.5 * accepted[RULE_MATCHING] + 0.01, accepted
    assert accepted[RULE_REJECTION] > 1.5 * accepted[RULE_MATCHING], accepted
    assert accepted[RULE_BLOCK] > 1.5 * accepted[RULE_MATCHING], accepted
