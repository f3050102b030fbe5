"""`dflash-tui bench`: plain decoding (mlx-lm stream_generate) vs DFlash on the same target and prompts.

Prints a table and JSON. Each (prompt, mode) runs N times from a fresh cache;
the median is reported. tok/s excludes prefill. The overhead share is the part
of a cycle spent outside the draft and target passes (acceptance, rollback,
bookkeeping).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field

from .engine.events import MODE_DFLASH, MODE_PLAIN, GenerationSummary

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
    )


def run_once(engine, ids: list[int], mode: str, max_tokens: int, block_size: int | None) -> GenerationSummary:
    engine.reset()
    summary = None
    for event in engine.generate(ids, max_tokens=max_tokens, mode=mode, block_size=block_size):
        summary = event
    if summary.stop_reason == "error":
        raise RuntimeError(summary.error)
    return summary


def run_bench(engine, prompts: list[str], runs: int = 3, max_tokens: int = 128,
              block_size: int | None = None, progress=print) -> list[PromptResult]:
    results = []
    for prompt in prompts:
        ids = engine.encode_chat([{"role": "user", "content": prompt}])
        run_once(engine, ids, MODE_PLAIN, 8, None)  # warm-up: kernels, allocator
        per_mode = {MODE_PLAIN: [], MODE_DFLASH: []}
        for _ in range(runs):  # interleave the modes so drift hits both alike
            for mode in per_mode:
                per_mode[mode].append(run_once(engine, ids, mode, max_tokens, block_size))
        results.append(PromptResult(prompt, _median_result(per_mode[MODE_PLAIN]),
                                    _median_result(per_mode[MODE_DFLASH])))
        progress(f"  {prompt[:50]!r}: {results[-1].speedup:.2f}x")
    return results


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
                     f"median tau {statistics.median(r.dflash.tau for r in results):.2f}")
    return "\n".join(lines)


def to_json(results: list[PromptResult], meta: dict) -> str:
    return json.dumps({
        "meta": meta,
        "results": [{"prompt": r.prompt, "speedup": r.speedup, "plain": asdict(r.plain),
                     "dflash": asdict(r.dflash)} for r in results],
        "median_speedup": statistics.median(r.speedup for r in results) if results else None,
    }, indent=2)
