"""Plain event dataclasses yielded by the decode loops (DFlash and plain).

The app, the CLI and the benchmark consume these; nothing here imports MLX.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODE_DFLASH = "dflash"
MODE_PLAIN = "plain"
MODE_AUTO = "auto"  # a request mode only: the drafting policy picks dflash or plain per cycle


@dataclass
class PrefillDone:
    """The prompt has been processed; generation starts next."""

    prompt_tokens: int  # tokens in the full prompt
    prefilled_tokens: int  # tokens actually run (the rest was reused from the cache)
    prefill_s: float


@dataclass
class TokenChunk:
    """Newly committed tokens and the text they completed (incremental detokenization)."""

    text: str
    token_ids: list[int]


@dataclass
class CycleStats:
    """One draft+verify cycle (DFlash) or one decode step (plain)."""

    cycle: int
    mode: str
    block_size: int  # of this cycle (1 for a plain step)
    drafted: int  # draft tokens proposed (block_size - 1; 0 in plain mode)
    accepted: int  # draft tokens accepted
    committed: int  # tokens emitted by this cycle (accepted + 1)
    draft_s: float
    verify_s: float
    rollback_s: float
    other_s: float
    generated_tokens: int  # running total
    generation_tps: float  # running tok/s since the first generated token's cycle began
    reason: str = ""  # why this mode/block size (drafting policy), empty when fixed


@dataclass
class GenerationSummary:
    """The final event of every generation."""

    mode: str
    stop_reason: str  # "stop" | "length" | "cancelled" | "error"
    prompt_tokens: int
    prefilled_tokens: int
    generated_tokens: int
    prefill_s: float
    ttft_s: float
    generation_s: float  # elapsed minus prefill
    prompt_tps: float
    generation_tps: float
    cycles: int
    drafted: int
    accepted: int
    tau: float  # committed tokens per DFlash cycle (plain steps left out; 1.0 when there was none)
    acceptance: float  # accepted / drafted
    draft_share: float  # accepted / generated
    accept_histogram: list[int] = field(default_factory=list)  # index = accepted length
    phase_s: dict[str, float] = field(default_factory=dict)  # draft, verify, rollback, other
    peak_memory_bytes: int = 0
    block_size: int = 0
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    error: str = ""
    reason: str = ""  # why this mode ran (a fallback to plain decoding, the policy's measurements)
    block_tokens: dict[int, int] = field(default_factory=dict)  # tokens committed per block size (1 = plain)


GenerationEvent = PrefillDone | TokenChunk | CycleStats | GenerationSummary
