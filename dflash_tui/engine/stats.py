"""Accumulates the numbers a user sees: phase times, acceptance, tau, tok/s."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .events import MODE_DFLASH, MODE_PLAIN, CycleStats, GenerationSummary

PHASES = ("draft", "verify", "rollback", "other")


@dataclass
class StatsRecorder:
    mode: str
    block_size: int
    prompt_tokens: int = 0
    prefilled_tokens: int = 0
    start: float = field(default_factory=time.perf_counter)
    prefill_s: float = 0.0
    ttft_s: float = 0.0
    gen_start: float = 0.0
    generated: int = 0
    cycles: int = 0
    cycle_tokens: int = 0  # tokens emitted by cycles (excludes the prefill's first token)
    draft_cycles: int = 0  # cycles that drafted (not the plain steps an auto-mode reply mixes in)
    draft_cycle_tokens: int = 0  # tokens those cycles emitted
    drafted: int = 0
    accepted: int = 0
    phase_s: dict[str, float] = field(default_factory=lambda: {p: 0.0 for p in PHASES})
    histogram: list[int] = field(default_factory=list)
    block_tokens: dict[int, int] = field(default_factory=dict)  # block size (1 = plain step) -> tokens
    reason: str = ""

    def __post_init__(self):
        self.histogram = [0] * max(self.block_size, 1)

    def prefill_done(self, prompt_tokens: int, prefilled: int) -> None:
        now = time.perf_counter()
        self.prompt_tokens, self.prefilled_tokens = prompt_tokens, prefilled
        self.prefill_s = now - self.start
        self.gen_start = now

    def first_token(self) -> None:
        self.ttft_s = time.perf_counter() - self.start

    def generation_elapsed(self) -> float:
        return max(time.perf_counter() - self.gen_start, 1e-9)

    def cycle(self, drafted: int, accepted: int, committed: int, phases: dict[str, float],
              reason: str = "", mode: str | None = None, block_size: int | None = None) -> CycleStats:
        """Record one cycle; mode and block_size default to the recorder's (a policy varies them)."""
        mode = mode or self.mode
        block_size = block_size or self.block_size
        self.block_tokens[block_size] = self.block_tokens.get(block_size, 0) + committed
        self.cycles += 1
        self.drafted += drafted
        self.accepted += accepted
        self.generated += committed
        self.cycle_tokens += committed
        if drafted:
            self.histogram[min(accepted, len(self.histogram) - 1)] += 1
            self.draft_cycles += 1
            self.draft_cycle_tokens += committed
        for k, v in phases.items():
            self.phase_s[k] += v
        return CycleStats(
            cycle=self.cycles, mode=mode, block_size=block_size, drafted=drafted,
            accepted=accepted, committed=committed, draft_s=phases.get("draft", 0.0),
            verify_s=phases.get("verify", 0.0), rollback_s=phases.get("rollback", 0.0),
            other_s=phases.get("other", 0.0), generated_tokens=self.generated,
            generation_tps=self.generated / self.generation_elapsed(), reason=reason,
        )

    def tau(self) -> float:
        """Tokens per draft-verify cycle: what a draft earns when it runs. An auto-mode reply's plain steps are
        left out (mixed in, 200 plain steps beside 30 cycles of 13 tokens showed a tau of 2.7 next to 89%
        accepted); a reply with no DFlash cycle reports its plain steps' 1.0."""
        if self.draft_cycles:
            return self.draft_cycle_tokens / self.draft_cycles
        return self.cycle_tokens / self.cycles if self.cycles else 0.0

    def summary(self, stop_reason: str, text: str, token_ids: list[int], peak_memory: int,
                error: str = "") -> GenerationSummary:
        gen_s = self.generation_elapsed() if self.gen_start else 0.0
        cycles = max(self.cycles, 1)
        mode, block_size = self.mode, self.block_size
        dflash_tokens = {b: n for b, n in self.block_tokens.items() if b > 1}
        if self.mode == MODE_DFLASH and self.block_tokens.get(1, 0) > sum(dflash_tokens.values()):
            mode, block_size = MODE_PLAIN, 1  # a policy chose plain decoding for most tokens
        elif self.mode == MODE_DFLASH and dflash_tokens:
            block_size = max(dflash_tokens, key=dflash_tokens.get)  # the size that committed most
        return GenerationSummary(
            mode=mode, stop_reason=stop_reason, prompt_tokens=self.prompt_tokens,
            prefilled_tokens=self.prefilled_tokens, generated_tokens=len(token_ids),
            prefill_s=self.prefill_s, ttft_s=self.ttft_s, generation_s=gen_s,
            prompt_tps=self.prefilled_tokens / self.prefill_s if self.prefill_s else 0.0,
            generation_tps=len(token_ids) / gen_s if gen_s else 0.0,
            cycles=self.cycles, drafted=self.drafted, accepted=self.accepted,
            tau=self.tau(),
            acceptance=self.accepted / self.drafted if self.drafted else 0.0,
            draft_share=self.accepted / len(token_ids) if token_ids else 0.0,
            accept_histogram=list(self.histogram), phase_s=dict(self.phase_s),
            peak_memory_bytes=peak_memory, block_size=block_size, text=text,
            token_ids=list(token_ids), error=error, reason=self.reason, block_tokens=dict(self.block_tokens),
        )
