"""`dflash-tui bench`: plain decoding (mlx-lm stream_generate) vs DFlash on the same target and prompts.

Prints a table and JSON. Each (prompt, mode) runs N times from a fresh cache;
the median is reported. tok/s excludes prefill. The overhead share is the part
of a cycle spent outside the draft and target passes (acceptance, rollback,
bookkeeping). `--policy` compares the auto drafting policy with plain decoding
and every fixed block size on the same prompts instead.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field

from .engine.events import MODE_AUTO, MODE_DFLASH, MODE_PLAIN, GenerationSummary

DEFAULT_PROMPTS = [
    "Explain what a Python list comprehension is, with an example.",
    "How do I list the files in a directory with ls, including hidden ones?",
    "Write a function that returns the n-th Fibonacci number.",
]


@dataclass
class ModeResult:
    generation_tps: float
    prompt_tps: float
    ttft_s: float
    generated_tokens: int
    tau: float = 0.0
    acceptance: float = 0.0
    phase_share: dict[str, float] = field(default_factory=dict)
    overhead_share: float = 0.0
    peak_memory_mb: float = 0.0
    best_generation_tps: float = 0.0  # the fastest run: the least disturbed by other work on the machine


@dataclass
class PromptResult:
    prompt: str
    plain: ModeResult
    dflash: ModeResult

    @property
    def speedup(self) -> float:
        return self.dflash.generation_tps / self.plain.generation_tps if self.plain.generation_tps else 0.0


def _median_result(runs: list[GenerationSummary]) -> ModeResult:
    med = lambda xs: statistics.median(xs)  # noqa: E731
    phases = {k: med([r.phase_s.get(k, 0.0) for r in runs]) for k in ("draft", "verify", "rollback", "other")}
    total = sum(phases.values()) or 1.0
    share = {k: v / total for k, v in phases.items()}
    return ModeResult(
        generation_tps=med([r.generation_tps for r in runs]),
        prompt_tps=med([r.prompt_tps for r in runs]),
        ttft_s=med([r.ttft_s for r in runs]),
        generated_tokens=int(med([r.generated_tokens for r in runs])),
        tau=med([r.tau for r in runs]),
        acceptance=med([r.acceptance for r in runs]),
        phase_share=share,
        overhead_share=share["rollback"] + share["other"],
        peak_memory_mb=max(r.peak_memory_bytes for r in runs) / 2**20,
        best_generation_tps=max(r.generation_tps for r in runs),
    )


def run_once(engine, ids: list[int], mode: str, max_tokens: int, block_size: int | None,
             temperature: float = 0.0, seed: int | None = None, rule: str | None = None) -> GenerationSummary:
    from .engine.sampling import SamplingParams

    engine.reset()
    summary = None
    sampling = SamplingParams(temperature=temperature, seed=seed, rule=rule)
    for event in engine.generate(ids, max_tokens=max_tokens, mode=mode, block_size=block_size, sampling=sampling):
        summary = event
    if summary.stop_reason == "error":
        raise RuntimeError(summary.error)
    return summary


def run_bench(engine, prompts: list[str], runs: int = 3, max_tokens: int = 128,
              block_size: int | None = None, progress=print, temperature: float = 0.0,
              seed: int | None = None, rule: str | None = None) -> list[PromptResult]:
    results = []
    for prompt in prompts:
        ids = engine.encode_chat([{"role": "user", "content": prompt}])
        run_once(engine, ids, MODE_PLAIN, 8, None)  # warm-up: kernels, allocator
        per_mode = {MODE_PLAIN: [], MODE_DFLASH: []}
        for i in range(runs):  # interleave the modes so drift hits both alike
            for mode in per_mode:
                run_seed = None if seed is None else seed + i
                per_mode[mode].append(run_once(engine, ids, mode, max_tokens, block_size, temperature, run_seed,
                                               rule))
        results.append(PromptResult(prompt, _median_result(per_mode[MODE_PLAIN]),
                                    _median_result(per_mode[MODE_DFLASH])))
        progress(f"  {prompt[:50]!r}: {results[-1].speedup:.2f}x")
    return results


def total_seconds(modes: list[ModeResult]) -> float:
    """Decoding time of a prompt set taken as one job: each answer's tokens over its tok/s, summed."""
    return sum(m.generated_tokens / m.generation_tps for m in modes if m.generation_tps)


def workload_speedup(results: list[PromptResult]) -> float:
    """Plain decoding's total time over DFlash's: long answers weigh more, as in a user's wait."""
    dflash = total_seconds([r.dflash for r in results])
    return total_seconds([r.plain for r in results]) / dflash if dflash else 0.0


def format_table(results: list[PromptResult]) -> str:
    head = f"{'prompt':<34} {'plain tok/s':>11} {'dflash tok/s':>12} {'speedup':>8} {'tau':>5} {'accept':>7} " \
           f"{'draft':>6} {'verify':>6} {'rollbk':>6} {'other':>6} {'peak MB':>8}"
    lines = [head, "-" * len(head)]
    for r in results:
        d = r.dflash
        lines.append(
            f"{r.prompt[:34]:<34} {r.plain.generation_tps:>11.1f} {d.generation_tps:>12.1f} {r.speedup:>7.2f}x "
            f"{d.tau:>5.2f} {d.acceptance:>6.1%} {d.phase_share['draft']:>6.1%} {d.phase_share['verify']:>6.1%} "
            f"{d.phase_share['rollback']:>6.1%} {d.phase_share['other']:>6.1%} {d.peak_memory_mb:>8.1f}"
        )
    if results:
        lines.append("-" * len(head))
        lines.append(f"median speedup {statistics.median(r.speedup for r in results):.2f}x, "
                     f"median tau {statistics.median(r.dflash.tau for r in results):.2f}; "
                     f"workload (all {len(results)} prompts, total time) {workload_speedup(results):.2f}x")
    return "\n".join(lines)


def to_json(results: list[PromptResult], meta: dict) -> str:
    return json.dumps({
        "meta": meta,
        "results": [{"prompt": r.prompt, "speedup": r.speedup, "plain": asdict(r.plain),
                     "dflash": asdict(r.dflash)} for r in results],
        "median_speedup": statistics.median(r.speedup for r in results) if results else None,
        "workload_speedup": workload_speedup(results) if results else None,
    }, indent=2)


# -- the drafting policy against fixed block sizes (`bench --policy`) ------------------------------

@dataclass
class PolicyResult:
    prompt: str
    plain: ModeResult
    auto: ModeResult
    fixed: dict[int, ModeResult]  # block size -> result
    auto_blocks: dict[int, int] = field(default_factory=dict)  # tokens per block size in auto's median run
    stat: str = "median"  # which tok/s the ratios compare: "median" or "best" (fastest run)
    control: ModeResult | None = None  # plain decoding again: how far two identical variants drift apart
    paired: dict[str, float] = field(default_factory=dict)  # variant -> median over rounds of its tok/s / plain's

    def tps(self, result: ModeResult) -> float:
        return result.best_generation_tps if self.stat == "best" else result.generation_tps

    @property
    def best_fixed(self) -> int:
        return max(self.fixed, key=lambda b: self.tps(self.fixed[b]))

    @property
    def auto_vs_plain(self) -> float:
        return self.tps(self.auto) / self.tps(self.plain) if self.tps(self.plain) else 0.0

    @property
    def auto_vs_best_fixed(self) -> float:
        best = self.tps(self.fixed[self.best_fixed])
        return self.tps(self.auto) / best if best else 0.0

    @property
    def control_vs_plain(self) -> float:
        """The noise floor: plain decoding measured twice, interleaved (1.0 on a quiet machine)."""
        return self.tps(self.control) / self.tps(self.plain) if self.control and self.tps(self.plain) else 0.0


def policy_block_sizes(engine) -> list[int]:
    from .engine.policy import BLOCK_CANDIDATES

    return sorted({b for b in BLOCK_CANDIDATES if b < engine.block_size} | {engine.block_size})


def run_policy_bench(engine, prompts: list[str], runs: int = 3, max_tokens: int = 128,
                     block_sizes: list[int] | None = None, progress=print, temperature: float = 0.0,
                     seed: int | None = None, stat: str = "median", rule: str | None = None) -> list[PolicyResult]:
    """Plain, auto and each fixed block size on the same prompts, interleaved run by run.

    The engine's drafting policy is per session, so it carries what it learnt from one run (and prompt)
    to the next, as it does across the turns of a chat; the warm-up runs are its first session cycles.
    """
    block_sizes = block_sizes or policy_block_sizes(engine)
    variants = [("plain", MODE_PLAIN, None), ("auto", MODE_AUTO, None)] + \
        [(f"b{b}", MODE_DFLASH, b) for b in block_sizes] + [("control", MODE_PLAIN, None)]
    results = []
    for prompt in prompts:
        ids = engine.encode_chat([{"role": "user", "content": prompt}])
        for _, mode, b in variants:  # warm-up: kernels, allocator, every verify shape (and auto's policy)
            run_once(engine, ids, mode, 8, b)
        per = {label: [] for label, _, _ in variants}
        for i in range(runs):
            # Rotate the order each round: a run can be slowed by the one before it (caches, allocator).
            for label, mode, b in variants[i % len(variants):] + variants[:i % len(variants)]:
                run_seed = None if seed is None else seed + i
                per[label].append(run_once(engine, ids, mode, max_tokens, b, temperature, run_seed, rule))
        autos = sorted(per["auto"], key=lambda r: r.generation_tps)
        # Round i's runs sit next to each other in time: the median of their ratios to plain's run of the same
        # round cancels most of a machine's drift (this CPU's speed was seen to halve within a minute).
        paired = {label: statistics.median(r.generation_tps / p.generation_tps for r, p in zip(runs, per["plain"])
                                           if p.generation_tps)
                  for label, runs in per.items() if label != "plain"}
        result = PolicyResult(prompt, _median_result(per["plain"]), _median_result(per["auto"]),
                              {b: _median_result(per[f"b{b}"]) for b in block_sizes},
                              dict(autos[len(autos) // 2].block_tokens), stat, _median_result(per["control"]),
                              paired)
        results.append(result)
        progress(f"  {prompt[:50]!r}: auto {result.auto_vs_plain:.2f}x plain, "
                 f"{result.auto_vs_best_fixed:.2f}x best fixed (b{result.best_fixed})")
    return results


def workload_seconds(results: list[PolicyResult]) -> dict[str, float]:
    """The whole prompt set taken as one job: each variant's total decoding time (answer tokens over its tok/s,
    at the table's statistic), so a prompt weighs by how long it takes, as in a user's wait."""
    def total(pick) -> float:
        return sum(pick(r).generated_tokens / r.tps(pick(r)) for r in results if r.tps(pick(r)))

    out = {"plain": total(lambda r: r.plain), "auto": total(lambda r: r.auto)}
    for b in (sorted(results[0].fixed) if results else []):
        out[f"b{b}"] = total(lambda r, b=b: r.fixed[b])
    return out


def format_policy_table(results: list[PolicyResult]) -> str:
    sizes = sorted(results[0].fixed) if results else []
    head = f"{'prompt':<30} {'plain':>7} {'auto':>7} " + " ".join(f"{'b' + str(b):>7}" for b in sizes) + \
        f" {'auto/plain':>10} {'auto/best':>9} {'ctrl/plain':>10}  auto tokens per block size"
    stat = results[0].stat if results else "median"
    lines = [f"tok/s ({'fastest run' if stat == 'best' else 'median'})", head, "-" * len(head)]
    for r in results:
        fixed = " ".join(f"{r.tps(r.fixed[b]):>7.1f}" for b in sizes)
        used = ", ".join(f"{'plain' if b == 1 else 'b' + str(b)}:{n}" for b, n in sorted(r.auto_blocks.items()))
        lines.append(f"{r.prompt[:30]:<30} {r.tps(r.plain):>7.1f} {r.tps(r.auto):>7.1f} {fixed} "
                     f"{r.auto_vs_plain:>9.3f}x {r.auto_vs_best_fixed:>8.3f}x {r.control_vs_plain:>9.3f}x  {used}")
    if results:
        lines.append("-" * len(head))
        geo = lambda xs: math.exp(statistics.fmean(math.log(x) for x in xs)) if all(xs) else 0.0  # noqa: E731
        lines.append(f"geometric mean over prompts: auto/plain {geo([r.auto_vs_plain for r in results]):.3f}x, "
                     f"auto/best fixed {geo([r.auto_vs_best_fixed for r in results]):.3f}x, "
                     f"plain/plain {geo([r.control_vs_plain for r in results]):.3f}x")
        if all(r.paired for r in results):
            lines.append("paired by round (median over rounds of a run's tok/s over plain's run in the same round): "
                         + "; ".join(f"{r.prompt[:16]} auto {r.paired['auto']:.3f}x ctrl {r.paired['control']:.3f}x"
                                     for r in results))
            controls = [r.paired["control"] for r in results]
            lines.append(f"paired: worst auto/plain {min(r.paired['auto'] for r in results):.3f}x, noise floor "
                         f"{min(controls):.3f}x..{max(controls):.3f}x")
        seconds = workload_seconds(results)
        best = min((k for k in seconds if k.startswith("b")), key=seconds.get)
        lines.append(f"workload (all {len(results)} prompts, total time): auto/plain "
                     f"{seconds['plain'] / seconds['auto']:.3f}x, auto/best fixed size ({best}) "
                     f"{seconds[best] / seconds['auto']:.3f}x")
        lines.append(f"worst auto/plain {min(r.auto_vs_plain for r in results):.3f}x, "
                     f"worst auto/best fixed {min(r.auto_vs_best_fixed for r in results):.3f}x; "
                     f"noise floor (plain measured twice): {min(r.control_vs_plain for r in results):.3f}x.."
                     f"{max(r.control_vs_plain for r in results):.3f}x")
    return "\n".join(lines)


def policy_to_json(results: list[PolicyResult], meta: dict) -> str:
    return json.dumps({
        "meta": meta,
        "results": [{"prompt": r.prompt, "plain": asdict(r.plain), "auto": asdict(r.auto),
                     "control": asdict(r.control) if r.control else None, "control_vs_plain": r.control_vs_plain,
                     "fixed": {str(b): asdict(m) for b, m in r.fixed.items()},
                     "auto_block_tokens": {str(b): n for b, n in r.auto_blocks.items()},
                     "auto_vs_plain": r.auto_vs_plain, "auto_vs_best_fixed": r.auto_vs_best_fixed,
                     "best_fixed": r.best_fixed, "stat": r.stat, "paired_vs_plain": r.paired} for r in results],
        "worst_auto_vs_plain": min((r.auto_vs_plain for r in results), default=None),
        "worst_auto_vs_best_fixed": min((r.auto_vs_best_fixed for r in results), default=None),
        "workload_seconds": workload_seconds(results),
    }, indent=2)
