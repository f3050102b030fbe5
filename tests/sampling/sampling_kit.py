"""Seeded sampling runs on the tiny pair and their exact goodness of fit (shared by the sampling tests).

`sample_runs` draws many seeded generations of a few tokens after a fixed
prompt; `exact_fit` checks the k-th token of each run against the target's
exact distribution given the tokens before it in that run (one batched
target forward): the randomized probability integral transform of each token
is uniform exactly when tokens follow that distribution, and a chi-square
test over 10 bins checks it. `repeat_fit` counts tokens that repeat an earlier
token of their run against the count the exact distributions predict (a rule
whose noise leaks from one position into the next repeats tokens, which the
PIT, ranking tokens by probability, barely sees). Seeds are fixed, so results
are deterministic.
"""

from __future__ import annotations

from stats_kit import poisson_sf, randomized_pit, uniformity

from dflash_tui.mlx_setup import import_mlx

mx = import_mlx()

from dflash_tui.engine.sampling import SamplingParams, history_rows, token_distribution  # noqa: E402

PROMPT = "The quick brown fox"
RUNS = 240
PASS_P = 1e-3  # a correct sampler fails with this probability per check
BROKEN_P = 1e-6  # a broken one must fall far below the bound


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


def _exact_probs(engine, params: SamplingParams, runs: list[list[int]], position: int):
    """The runs long enough to have a token at `position`, and the target's exact distribution there given
    each run's prefix (one batched forward of the plain target)."""
    ids = engine.encode_chat([{"role": "user", "content": PROMPT}])
    runs = [r for r in runs if len(r) > position]
    seqs = [ids + r[:position] for r in runs]
    logits = engine.target.model(mx.array(seqs))[:, -1]
    C = params.repetition_context
    history = mx.concatenate([history_rows(s[-C:], [], 1, C) for s in seqs], axis=0)
    return runs, token_distribution(logits, params, history).tolist()


def repeat_fit(engine, params: SamplingParams, runs: list[list[int]], position: int) -> tuple[int, float, float]:
    """How often the token at `position` repeats one of the run's earlier generated tokens, against the
    exact probability of that: (observed count, expected count, P(count >= observed) under Poisson)."""
    runs, probs = _exact_probs(engine, params, runs, position)
    observed = sum(r[position] in r[:position] for r in runs)
    expected = sum(sum(row[t] for t in set(r[:position])) for row, r in zip(probs, runs))
    return observed, expected, poisson_sf(observed, expected)


def exact_fit(engine, params: SamplingParams, runs: list[list[int]], position: int) -> tuple[float, int, float]:
    """Uniformity of the randomized PIT of the tokens at `position` under the target's exact distribution
    given each run's prefix."""
    runs, probs = _exact_probs(engine, params, runs, position)
    return uniformity(randomized_pit(probs, [r[position] for r in runs], seed=position))
