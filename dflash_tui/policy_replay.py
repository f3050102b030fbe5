"""The drafting policy replayed on recorded acceptance traces: its choices judged without a clock.

Timing the policy on this CPU is noisy (plain decoding measured twice in one
bench differs by up to 10%), too noisy to check a 3% bound. With greedy
decoding, though, what a cycle accepts depends only on where it starts: the
draft's block at answer position j against the target's greedy answer. So:

- `record` stores per prompt the greedy answer's length and, for every answer
  position and block size, the accepted length of a cycle starting there
  (the engine's own draft pass over the target's real tap features), plus the
  measured cost of a cycle at each size in plain steps;
- `replay` runs BlockPolicy through those traces as `bench --policy` does
  (one session; each prompt answered several times after a short warm-up),
  charging the measured costs and the switch costs the policy cannot see, and
  reports it against plain decoding and every fixed block size, prompt by prompt.

    python -m dflash_tui.policy_replay record --target T --draft D --prompts P.jsonl --out traces.json
    python -m dflash_tui.policy_replay replay traces.json [--json out.json]

The replay is pure Python (no MLX), so tests run it on a committed trace.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .engine.policy import BlockPolicy

# Costs the policy does not observe (measured on this CPU in session 4, demo pair, in plain steps): the first
# plain step after a DFlash cycle takes 2.2x a steady one (it waits for the cycle's queued work and refills the
# pipeline), and a cycle after plain steps takes about 1.16x a steady one (the draft catches up on the plain
# tokens' context). Neither lands in a timed interval the policy is fed.
SWITCH_TO_PLAIN = 1.2
SWITCH_TO_DFLASH = 0.5
SHADOW_COST = 1.1  # a shadow probe's draft pass and the context it needs, in plain steps, until measured
BENCH_RUNS = 7
WARMUP_TOKENS = 8


@dataclass
class Trace:
    prompt: str
    category: str
    tokens: int  # answer length, the first token (from the prefill) included
    accepted: dict[int, list[int]]  # block size -> accepted length of a cycle staged at answer position j

    def fixed_cost(self, b: int, costs: dict[int, float], limit: int | None = None) -> tuple[int, float]:
        """(tokens, cost in plain steps) of decoding the answer at fixed block size b (1 = plain)."""
        n = min(self.tokens, limit or self.tokens)
        if b == 1:
            return n, float(n - 1)
        j, cost = 0, 0.0
        while j + 1 < n:
            j += self.accepted[b][j] + 1
            cost += costs[b]
        return n, cost


class AutoAgainstFixed:
    """auto_cost and fixed (block size, 1 = plain -> cost of the same runs) compared: auto against plain and
    against the fixed size that cost least."""
    auto_cost: float
    fixed: dict[int, float]

    @property
    def auto_vs_plain(self) -> float:
        return self.fixed[1] / self.auto_cost

    @property
    def best_fixed(self) -> int:
        return min((b for b in self.fixed if b > 1), key=self.fixed.get)

    @property
    def auto_vs_best_fixed(self) -> float:
        return self.fixed[self.best_fixed] / self.auto_cost


@dataclass
class ReplayResult(AutoAgainstFixed):
    prompt: str
    auto_cost: float
    fixed: dict[int, float]
    block_tokens: dict[int, int] = field(default_factory=dict)
    category: str = ""


def replay_answer(policy: BlockPolicy, trace: Trace, costs: dict[int, float], limit: int | None = None,
                  switch_to_plain: float = SWITCH_TO_PLAIN, switch_to_dflash: float = SWITCH_TO_DFLASH,
                  block_tokens: dict[int, int] | None = None) -> float:
    """One answer decoded under the policy, as decode.dflash_generate drives it; returns its cost in plain
    steps. Cycle costs are fed in seconds of a 1 s plain step, without the switch costs (as the engine
    times them)."""
    n = min(trace.tokens, limit or trace.tokens)
    policy.start_answer()
    j, cost, previous = 0, 0.0, None
    while j + 1 < n:
        choice = policy.choose()
        b = choice.block_size
        if b == 1:
            steps = min(choice.plain_steps, n - 1 - j)
            cost += steps + (switch_to_plain if previous not in (None, 1) else 0.0)
            if choice.shadow:  # drafted at j, checked against the tokens the stretch decodes
                checked = min(choice.shadow - 1, steps, n - 1 - j)
                shadow = costs.get(0, SHADOW_COST)
                cost += shadow
                policy.observe_shadow(choice.shadow, min(trace.accepted[choice.shadow][j], checked), checked,
                                      shadow)
            policy.observe_plain(steps, [1.0] * (steps - 1))
            committed = steps
        else:
            a = min(trace.accepted[b][j], n - 2 - j) if j + 2 <= n else 0
            cost += costs[b] + (switch_to_dflash if previous == 1 else 0.0)
            policy.observe_cycle(b, a, costs[b])
            committed = a + 1
        j += committed
        if block_tokens is not None:
            block_tokens[b] = block_tokens.get(b, 0) + committed
        previous = b
    return cost


def replay_bench(traces: list[Trace], costs: dict[int, float], runs: int = BENCH_RUNS,
                 policy: BlockPolicy | None = None, **switch) -> list[ReplayResult]:
    """`bench --policy` replayed: one policy session over all prompts, each answered `runs` times after a
    WARMUP_TOKENS warm-up answer; the fixed sizes and plain decoding cost what their own runs cost.
    costs: block size -> plain steps per cycle (1: 1.0; 0: a shadow probe)."""
    sizes = sorted(b for b in costs if b > 1)
    policy = policy or BlockPolicy(max(sizes), shadow=True)
    results = []
    for trace in traces:
        replay_answer(policy, trace, costs, limit=WARMUP_TOKENS, **switch)
        blocks: dict[int, int] = {}
        auto = sum(replay_answer(policy, trace, costs, block_tokens=blocks, **switch) for _ in range(runs))
        fixed = {b: runs * trace.fixed_cost(b, costs)[1] for b in [1] + sizes}
        results.append(ReplayResult(trace.prompt, auto, fixed, blocks, trace.category))
    return results


@dataclass
class Workload(AutoAgainstFixed):
    """A set of prompts taken as one job (a category, or all of them): total time under each decoding; its
    best_fixed is the one block size that would have served the whole workload best."""
    name: str
    prompts: int
    auto_cost: float
    fixed: dict[int, float]


def workloads(results: list[ReplayResult]) -> list[Workload]:
    """Each category's prompts, then all prompts, as workloads: what a user running such prompts waits in all,
    against plain decoding and against the best single fixed block size (chosen knowing the results)."""
    groups: dict[str, list[ReplayResult]] = {}
    for r in results:
        groups.setdefault(r.category or "all", []).append(r)
    if len(groups) > 1:
        groups["all"] = list(results)
    return [Workload(name, len(rs), sum(r.auto_cost for r in rs),
                     {b: sum(r.fixed[b] for r in rs) for b in rs[0].fixed}) for name, rs in groups.items()]


def geometric_mean(xs: list[float]) -> float:
    return statistics.geometric_mean(xs) if xs else float("nan")


def format_replay(results: list[ReplayResult]) -> str:
    sizes = sorted(b for b in results[0].fixed if b > 1) if results else []
    lines = [f"{'prompt':<40} {'auto/plain':>10} {'auto/best':>9} {'best':>5} " + " ".join(
        f"{f'b{b}/plain':>9}" for b in sizes) + "  auto tokens per block size (all runs)"]
    for r in results:
        lines.append(f"{r.prompt[:40]:<40} {r.auto_vs_plain:>9.3f}x {r.auto_vs_best_fixed:>8.3f}x "
                     f"{f'b{r.best_fixed}':>5} " + " ".join(f"{r.fixed[1] / r.fixed[b]:>8.3f}x" for b in sizes)
                     + "  " + ", ".join(f"{'plain' if b == 1 else f'b{b}'}:{n}"
                                        for b, n in sorted(r.block_tokens.items())))
    vs_plain = [r.auto_vs_plain for r in results]
    vs_best = [r.auto_vs_best_fixed for r in results]
    lines.append(f"geometric mean: auto/plain {geometric_mean(vs_plain):.3f}x, auto/best fixed "
                 f"{geometric_mean(vs_best):.3f}x; worst auto/plain {min(vs_plain):.3f}x, worst auto/best fixed "
                 f"{min(vs_best):.3f}x; prompts within bounds (>= 0.97x plain, >= 0.95x best fixed): "
                 f"{sum(p >= 0.97 and b >= 0.95 for p, b in zip(vs_plain, vs_best))}/{len(results)}")
    for w in workloads(results):
        lines.append(f"workload {w.name} ({w.prompts} prompts, total time): auto/plain {w.auto_vs_plain:.3f}x, "
                     f"auto/best fixed size (b{w.best_fixed}) {w.auto_vs_best_fixed:.3f}x")
    return "\n".join(lines)


# -- recording (MLX) ---------------------------------------------------------------------------------

def accepted_lengths(engine, prompt_ids: list[int], answer: list[int], sizes: list[int]) -> dict[int, list[int]]:
    """For each answer position j (the staged token answer[j]) and size b: how many of the draft's b-1 tokens
    match answer[j+1:] from the start. One target pass gives the tap features of every position; a cycle at
    j sees the draft context of positions before it, as in the engine."""
    from .mlx_setup import import_mlx

    from .engine.decode import accept_greedy

    mx = import_mlx()
    target, draft = engine.target, engine.draft
    taps, mask_id = draft.config.target_layer_ids, draft.config.mask_token_id
    sequence = prompt_ids + answer
    _, feats, _ = target.forward(mx.array([sequence]), target.make_cache(), taps)
    context = draft.context_kv(draft.fuse(feats), 0)
    mx.eval(context)
    out: dict[int, list[int]] = {b: [] for b in sizes}
    for j in range(len(answer)):
        offset = len(prompt_ids) + j
        ctx = [(k[:, :, :offset], v[:, :, :offset]) for k, v in context]
        for b in sizes:
            block = mx.array([[answer[j]] + [mask_id] * (b - 1)])
            hidden = draft(target.embed(block), ctx, offset)
            drafts = mx.argmax(target.logits(hidden[:, 1:])[0], axis=-1).tolist()
            out[b].append(accept_greedy(drafts, answer[j + 1:]))
    return out


def measure_costs(engine, prompt_ids: list[list[int]], sizes: list[int], max_tokens: int,
                  rounds: int = 5) -> dict[int, float]:
    """Seconds per cycle at each size over seconds per plain step: the median over rounds of a size's cycle
    over the plain step of the same round. A round's runs sit next to each other in time and their order
    rotates, so the machine's drift (this CPU's speed swings 2x within a minute) mostly cancels."""
    from .bench import run_once
    from .engine.events import MODE_DFLASH, MODE_PLAIN

    ratios: dict[int, list[float]] = {b: [] for b in sizes}
    variants = [1] + list(sizes)
    for ids in prompt_ids:
        for b in variants:  # warm-up: every verify shape
            run_once(engine, ids, MODE_PLAIN if b == 1 else MODE_DFLASH, 8, None if b == 1 else b)
        for i in range(rounds):
            seconds = {}
            for b in variants[i % len(variants):] + variants[:i % len(variants)]:
                s = run_once(engine, ids, MODE_PLAIN if b == 1 else MODE_DFLASH, max_tokens, None if b == 1 else b)
                seconds[b] = s.generation_s / max(1, s.generated_tokens - 1 if b == 1 else s.cycles)
            for b in sizes:
                ratios[b].append(seconds[b] / seconds[1])
    return {1: 1.0, **{b: round(statistics.median(r), 3) for b, r in ratios.items() if r}}


def measure_shadow_cost(engine, prompt_ids: list[list[int]], max_tokens: int) -> float | None:
    """Plain steps per shadow probe, as the engine's own policy measured them in greedy auto runs (the
    median), or None when no run probed."""
    from .bench import run_once
    from .engine.events import MODE_AUTO

    policy, seen = engine.policy(), []
    observe = policy.observe_shadow

    def recording(block_size, accepted, checked, seconds):
        seen.append(seconds / policy._plain_step())
        observe(block_size, accepted, checked, seconds)

    policy.observe_shadow = recording
    try:
        for ids in prompt_ids:
            run_once(engine, ids, MODE_AUTO, max_tokens, None)
    finally:
        policy.observe_shadow = observe
    return round(statistics.median(seen), 3) if seen else None


def record(engine, prompts: list[dict], max_tokens: int, sizes: list[int], cost_prompts: int = 6,
           progress=print) -> dict:
    from .bench import run_once
    from .engine.events import MODE_PLAIN

    traces = []
    for i, p in enumerate(prompts):
        ids = engine.encode_chat(p["messages"])
        answer = run_once(engine, ids, MODE_PLAIN, max_tokens, None).token_ids
        accepted = accepted_lengths(engine, ids, answer, sizes)
        traces.append({"prompt": p["messages"][0]["content"], "category": p["category"], "tokens": len(answer),
                       "accepted": {str(b): a for b, a in accepted.items()}})
        progress(f"  {i + 1}/{len(prompts)} {len(answer)} tokens, mean accepted at b{max(sizes)} "
                 f"{statistics.mean(accepted[max(sizes)]) if answer else 0:.2f}")
    progress("measuring cycle costs ...")
    cost_ids = [engine.encode_chat(p["messages"]) for p in prompts[:cost_prompts]]
    costs = measure_costs(engine, cost_ids, sizes, max_tokens)
    shadow = measure_shadow_cost(engine, cost_ids * 2, max_tokens)
    if shadow is not None:
        costs[0] = shadow
    return {"max_tokens": max_tokens, "costs": {str(b): c for b, c in costs.items()},
            "switch": {"to_plain": SWITCH_TO_PLAIN, "to_dflash": SWITCH_TO_DFLASH}, "prompts": traces}


def load_traces(path: Path) -> tuple[list[Trace], dict[int, float]]:
    data = json.loads(Path(path).read_text())
    traces = [Trace(t["prompt"], t["category"], t["tokens"], {int(b): a for b, a in t["accepted"].items()})
              for t in data["prompts"]]
    return traces, {int(b): c for b, c in data["costs"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="greedy answers, acceptance at every position, measured cycle costs")
    rec.add_argument("--target", required=True)
    rec.add_argument("--draft", required=True)
    rec.add_argument("--prompts", type=Path, required=True)
    rec.add_argument("--limit", type=int)
    rec.add_argument("--max-tokens", type=int, default=128)
    rec.add_argument("--out", type=Path, required=True)
    rep = sub.add_parser("replay", help="the policy against plain and fixed sizes on recorded traces")
    rep.add_argument("traces", type=Path)
    rep.add_argument("--runs", type=int, default=BENCH_RUNS)
    rep.add_argument("--json", type=Path)
    rep.add_argument("--no-shadow", action="store_true", help="the policy without shadow probes (as when sampling)")
    args = parser.parse_args(argv)
    if args.command == "record":
        from .engine.session import Engine
        from .train.evaluate import load_prompts

        engine = Engine.load(args.target, args.draft)
        sizes = sorted(b for b in BlockPolicy(engine.block_size).dflash_sizes)
        data = record(engine, load_prompts(args.prompts, args.limit), args.max_tokens, sizes,
                      progress=lambda m: print(m, file=sys.stderr))
        args.out.write_text(json.dumps(data, separators=(",", ":")))
        print(f"{len(data['prompts'])} traces, costs {data['costs']} -> {args.out}")
        return 0
    traces, costs = load_traces(args.traces)
    sizes = sorted(b for b in costs if b > 1)
    results = replay_bench(traces, costs, runs=args.runs, policy=BlockPolicy(max(sizes), shadow=not args.no_shadow))
    print(f"costs (plain steps per cycle): {costs}; switch costs: to plain {SWITCH_TO_PLAIN}, to DFlash "
          f"{SWITCH_TO_DFLASH}")
    print(format_replay(results))
    if args.json:
        args.json.write_text(json.dumps({
            "prompts": [{"prompt": r.prompt, "category": r.category, "auto_vs_plain": r.auto_vs_plain,
                         "auto_vs_best_fixed": r.auto_vs_best_fixed, "best_fixed": r.best_fixed,
                         "block_tokens": r.block_tokens} for r in results],
            "workloads": [{"name": w.name, "prompts": w.prompts, "auto_vs_plain": w.auto_vs_plain,
                           "auto_vs_best_fixed": w.auto_vs_best_fixed, "best_fixed": w.best_fixed}
                          for w in workloads(results)]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
