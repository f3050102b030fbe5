"""Shadow probes and the policy replay: what the replay records is what real cycles accept, a shadow probe
measures exactly that, and on the demo pair's recorded traces the policy with shadow probes beats it without."""

import json
from pathlib import Path

import pytest

from dflash_tui.demo import demo_draft_path, demo_heldout_prompts_path, demo_target_path
from dflash_tui.engine.policy import BlockPolicy, Choice
from dflash_tui.policy_replay import (Trace, accepted_lengths, geometric_mean, load_traces, replay_answer, replay_bench,
                                      workloads)
from dflash_tui.train.evaluate import load_prompts

TRACES = Path(__file__).parents[1] / "data" / "demo_policy_traces.json"
TRACES_512 = Path(__file__).parents[1] / "data" / "demo_policy_traces_512.json"  # session 7, answers up to 512 tokens
COSTS = {1: 1.0, 4: 2.9, 8: 2.8, 16: 3.0, 0: 1.4}  # plain steps per cycle (0: a shadow probe), as measured here


@pytest.fixture(scope="module")
def demo():
    from dflash_tui.engine.session import Engine

    engine = Engine.load(demo_target_path(), demo_draft_path())
    prompt = load_prompts(demo_heldout_prompts_path(), 2)[1]  # 128 tokens, a loop the draft predicts
    ids = engine.encode_chat(prompt["messages"])
    answer = list(engine.generate(ids, max_tokens=64, mode="plain"))[-1].token_ids
    return engine, ids, answer


def test_recorded_acceptance_is_what_real_cycles_accept(demo):
    engine, ids, answer = demo
    recorded = accepted_lengths(engine, ids, answer, [16])[16]
    engine.reset()
    cycles = [e for e in engine.generate(ids, max_tokens=64, mode="dflash", block_size=16)
              if getattr(e, "mode", "") == "dflash" and hasattr(e, "committed")]
    checked = 0
    for c in cycles:
        j = c.generated_tokens - c.committed  # the staged token's index in the answer (the prefill's is 0)
        if j + c.accepted + 2 < len(answer):  # not cut by max_tokens
            assert c.accepted == recorded[j], f"cycle at answer position {j}"
            checked += 1
    assert checked >= 3


def test_a_shadow_probe_measures_what_a_cycle_there_would_accept_and_output_stays_plain(demo, monkeypatch):
    engine, ids, answer = demo
    recorded = accepted_lengths(engine, ids, answer, [16])[16]
    engine.reset()
    policy = engine.policy()
    assert policy.shadow  # greedy decoding shadow-probes
    seen = []
    monkeypatch.setattr(policy, "choose", lambda: Choice(1, "test: plain, shadow probe", plain_steps=20, shadow=16))
    monkeypatch.setattr(policy, "observe_shadow", lambda b, a, checked, seconds: seen.append((a, checked, seconds)))
    summary = list(engine.generate(ids, max_tokens=64, mode="auto"))[-1]
    assert summary.token_ids == answer  # shadow probes never change the tokens
    starts = range(0, 63, 20)  # the first token comes from the prefill; stretches of 20 from there
    assert [checked for _, checked, _ in seen] == [min(15, 63 - j) for j in starts]
    assert [a for a, _, _ in seen] == [min(recorded[j], 15, 63 - j) for j in starts]
    assert any(a > 0 for a, _, _ in seen) and all(seconds > 0 for _, _, seconds in seen)


def test_seeded_sampling_shadow_probes_exactly(demo, monkeypatch):
    """Under the coupled rule (a seed) plain sampling and a cycle choose by the same position-keyed noise, so
    a shadow probe accepts what a cycle there would (without a seed it estimates: test_sampled_shadow.py)."""
    from dflash_tui.engine.sampling import SamplingParams

    engine, ids, _ = demo
    sampling = SamplingParams(temperature=0.7, seed=3)
    engine.reset()
    fixed = list(engine.generate(ids, max_tokens=64, mode="dflash", block_size=16, sampling=sampling))
    at = {c.generated_tokens - c.committed: c.accepted for c in fixed
          if getattr(c, "mode", "") == "dflash" and hasattr(c, "committed") and c.generated_tokens < 50}
    policy = engine.policy(sampling=sampling)
    assert policy.shadow
    seen = []
    monkeypatch.setattr(policy, "choose", lambda: Choice(1, "test: plain, shadow probe", plain_steps=20, shadow=16))
    monkeypatch.setattr(policy, "observe_shadow", lambda b, a, checked, seconds: seen.append(a))
    engine.reset()
    auto = list(engine.generate(ids, max_tokens=64, mode="auto", sampling=sampling))[-1]
    assert auto.token_ids == fixed[-1].token_ids  # the seed's text, whatever the mode
    shared = [j for j in range(0, 63, 20) if j in at]
    assert 0 in shared and all(seen[j // 20] == at[j] for j in shared)


def hard_then_looping(tokens: int, turns_at: int) -> Trace:
    """An answer the draft misses until it falls into a loop it predicts perfectly (the demo target's habit)."""
    hard = [0, 1, 0, 2, 1, 0, 0, 1]
    accepted = [hard[j % len(hard)] if j < turns_at else min(15, tokens - 1 - j) for j in range(tokens)]
    return Trace("loops halfway", "test", tokens, {b: [min(a, b - 1) for a in accepted] for b in (4, 8, 16)})


def test_an_answer_that_turns_easy_halfway_is_caught_within_the_answer():
    """After answers where DFlash lost, a later answer that loops from token 60 on is drafted within the
    answer: without shadow probes the one probe an answer gets lands in the hard part."""
    results = {}
    for shadow in (True, False):
        policy = BlockPolicy(16, shadow=shadow)
        for _ in range(3):
            replay_answer(policy, hard_then_looping(128, 128), COSTS)
        blocks: dict[int, int] = {}
        turning = hard_then_looping(200, 60)
        results[shadow] = turning.fixed_cost(1, COSTS)[1] / replay_answer(policy, turning, COSTS, block_tokens=blocks)
        if shadow:  # probes thin out while DFlash is far behind (SHADOW_FALLOFF), so the loop is found late
            assert blocks.get(16, 0) >= 50  # of the 140 looping tokens
    assert results[True] > 1.2 and results[True] > 1.15 * results[False]


def test_a_short_answer_pays_no_probe():
    """Answers that end within SHADOW_OPENING tokens run plain from start to end, whatever came before."""
    policy = BlockPolicy(16, shadow=True)
    for _ in range(3):  # a session where DFlash lost: it learnt costs and a poor acceptance
        replay_answer(policy, Trace("hard", "test", 128, {b: [0] * 128 for b in (4, 8, 16)}), COSTS)
    short = Trace("short", "test", 20, {b: [1] * 20 for b in (4, 8, 16)})
    blocks: dict[int, int] = {}
    assert replay_answer(policy, short, COSTS, block_tokens=blocks) == short.fixed_cost(1, COSTS)[1]
    assert set(blocks) == {1}


def test_on_the_demo_pairs_recorded_traces_shadow_probes_beat_real_probes():
    """`python -m dflash_tui.policy_replay replay tests/data/demo_policy_traces.json` (and `--no-shadow`):
    80 held-out prompts, each answered 7 times in one session, at the cycle costs measured on this CPU."""
    traces, costs = load_traces(TRACES)
    assert len(traces) == 80 and json.loads(TRACES.read_text())["max_tokens"] == 128
    shadow = replay_bench(traces, costs, policy=BlockPolicy(16, shadow=True))
    real = replay_bench(traces, costs, policy=BlockPolicy(16))
    for results in (shadow, real):
        assert all(r.auto_vs_plain > 0.75 for r in results)
    gain = geometric_mean([r.auto_vs_plain for r in shadow]) / geometric_mean([r.auto_vs_plain for r in real])
    assert gain > 1.05
    assert min(r.auto_vs_plain for r in shadow) > min(r.auto_vs_plain for r in real)
    assert min(r.auto_vs_best_fixed for r in shadow) > min(r.auto_vs_best_fixed for r in real)


def test_bench_replay_prints_the_table_and_writes_json(tmp_path, capsys):
    from dflash_tui.cli import main

    out = tmp_path / "replay.json"
    assert main(["bench", "--replay", str(TRACES), "--runs", "2", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "auto/plain" in table and "geometric mean" in table and "workload all (80 prompts" in table
    data = json.loads(out.read_text())
    rows = data["prompts"]
    assert len(rows) == 80 and all(r["auto_vs_plain"] > 0 and r["best_fixed"] in (4, 8, 16) for r in rows)
    assert [w["name"] for w in data["workloads"]] == ["c-function", "general", "python-api", "unix-command", "all"]


@pytest.mark.parametrize("path", [TRACES, TRACES_512], ids=["128 tokens", "512 tokens"])
def test_every_workload_beats_plain_and_the_best_single_block_size(path):
    """Taken as workloads (each category's 20 prompts, then all 80, total time), the policy is within the
    issue's bounds of plain decoding and of the one fixed block size that would have served the workload best,
    with shadow probes; prompt by prompt it is not yet (short answers, near-break-even prompts). Also on answers
    of up to 512 tokens (the app's default), where loops end and hard text follows: the policy was tuned on the
    128-token traces."""
    traces, costs = load_traces(path)
    assert len(traces) == 80
    for w in workloads(replay_bench(traces, costs, policy=BlockPolicy(16, shadow=True))):
        assert w.auto_vs_plain >= 0.97 and w.auto_vs_best_fixed >= 0.95, (w.name, w.auto_vs_plain,
                                                                         w.auto_vs_best_fixed)


def test_a_slow_first_plain_measurement_does_not_lock_a_session_into_dflash():
    """Every DFlash cost is counted in plain steps: if the first plain steps ran on a busy machine (3x slow),
    a losing draft looks like a winner. Answers must keep re-measuring plain steps, so the session recovers."""
    policy = BlockPolicy(16, shadow=True)
    policy.observe_plain(8, [3.0] * 7)  # the session's first plain steps, measured while the machine was busy
    losing = Trace("losing", "test", 128, {b: [1] * 128 for b in (4, 8, 16)})  # tau 2 at 3 steps a cycle
    costs = []
    for _ in range(12):
        blocks: dict[int, int] = {}
        costs.append(replay_answer(policy, losing, COSTS, block_tokens=blocks))
    plain = losing.fixed_cost(1, COSTS)[1]
    assert costs[0] > 1.4 * plain  # fooled at first: every cycle looked 3x cheaper than it was
    assert costs[-1] < 1.15 * plain, costs  # (without re-measuring plain steps: 1.51x, every answer)


def test_shadow_probes_are_visible_in_the_reasons():
    policy = BlockPolicy(16, shadow=True)
    for _ in range(3):
        replay_answer(policy, Trace("hard", "test", 128, {b: [1] * 128 for b in (4, 8, 16)}), COSTS)
    assert "last shadow probe 1/15 accepted" in policy.last.reason and "shadow-probing b16 every" in policy.last.reason
    assert "shadow probes, 1.0 drafts accepted on average" in policy.summary()


def test_an_answers_opening_says_why_it_runs_plain():
    policy = BlockPolicy(16, shadow=True)
    replay_answer(policy, Trace("hard", "test", 64, {b: [0] * 64 for b in (4, 8, 16)}), COSTS)
    policy.start_answer()
    choice = policy.choose()
    assert choice.block_size == 1 and choice.plain_steps == 32 and "first 32 tokens" in choice.reason
