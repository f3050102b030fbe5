"""Shadow probes under unseeded sampling (the block and rejection rules): estimated, unbiased, and harmless.

A sampled plain stretch cannot say which drafts a cycle would have kept (the
cycle would have drawn other tokens), but it can say how likely keeping them
was: along the plain tokens x ~ p, the running product of min(1, q(x)/p(x)) has
exactly the expectation of P(rejection keeps at least k drafts)
(`sampling.shadow_survival`). The first test checks that identity by
enumerating every path of a small vocabulary; the others check that the engine
uses these probes when it samples without a seed, and that a probe takes
nothing from the random stream (the tokens are those of plain decoding).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sampling_kit import PROMPT
from test_block_verification import N, V, _pair, _rejection_kept_mean

from dflash_tui.engine.policy import BlockPolicy, Choice
from dflash_tui.engine.sampling import SamplingParams, shadow_survival


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_plain_stretch_estimate_of_kept_drafts_is_unbiased(seed):
    target, q = _pair(seed)
    expected = np.zeros(N)
    for path in itertools.product(range(V), repeat=N):
        p_path = [target(path[:i])[t] for i, t in enumerate(path)]
        weight = float(np.prod(p_path))
        expected += weight * np.array(shadow_survival([q[i][t] for i, t in enumerate(path)], p_path))
    # P(rejection keeps >= k), summed over k, is rejection's expected number of kept drafts
    assert expected.sum() == pytest.approx(_rejection_kept_mean(target, q), abs=1e-9)
    assert all(a >= b for a, b in zip(expected, expected[1:]))


def test_unseeded_sampling_shadow_probes_and_says_so(engine, monkeypatch):
    """Where plain decoding wins, an unseeded sampled answer goes plain with estimated shadow probes. Whether it
    wins on this machine depends on its timings and the sampled text, so DFlash is made to look slow here: the
    test is about what the engine does with the policy's verdict, not about the verdict."""
    real = BlockPolicy.tokens_per_second
    monkeypatch.setattr(BlockPolicy, "tokens_per_second",
                        lambda self, b, optimism=0.0: None if (tps := real(self, b, optimism)) is None
                        else tps * (0.3 if b > 1 else 1.0))
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    sampling = SamplingParams(temperature=0.7)
    assert engine.policy(sampling=sampling).shadow
    assert not engine.policy(sampling=SamplingParams(temperature=0.7, repetition_penalty=1.2)).shadow
    assert not engine.policy(sampling=SamplingParams(temperature=0.7, rule="matching")).shadow
    reasons = []
    for _ in range(4):
        engine.reset()
        summary = list(engine.generate(ids, max_tokens=96, mode="auto", sampling=sampling))[-1]
        assert summary.stop_reason in ("length", "stop"), summary.error
        reasons.append(summary.reason)
    probes = engine.policy(sampling=sampling)._shadow_stats[0]
    assert probes > 0, reasons
    assert any("shadow probes" in r for r in reasons)


def test_a_sampled_shadow_probe_leaves_the_tokens_to_plain_decoding(engine, monkeypatch):
    """Every stretch plain with a probe first: the text equals plain decoding's for the same seed and rule."""
    monkeypatch.setattr(BlockPolicy, "choose", lambda self: Choice(1, "test: probe every stretch", 6, shadow=8))
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    for seed in (1, 2):
        sampling = SamplingParams(temperature=0.9, seed=seed, rule="block")
        engine.reset()
        auto = list(engine.generate(ids, max_tokens=40, mode="auto", sampling=sampling))[-1]
        engine.reset()
        plain = list(engine.generate(ids, max_tokens=40, mode="plain", sampling=sampling))[-1]
        assert auto.token_ids == plain.token_ids
        assert engine.policy(sampling=sampling)._shadow_stats[0] >= 5
