"""Live numbers of one reply, built from coalesced service updates (no Textual).

Kept apart from the widgets so the arithmetic is tested on its own and the pane
only draws what is here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ...engine.events import GenerationSummary
from ...service import RequestUpdate

MIX_SHOWN = 2  # block sizes named in a reply's mix (the line under a reply is narrow; the stats pane has the rest)
SERIES_LIMIT = 400  # points kept for sparklines: enough for the widest terminal


@dataclass
class ReplyStats:
    tps_series: list[float] = field(default_factory=list)
    acceptance_series: list[float] = field(default_factory=list)
    histogram: list[int] = field(default_factory=list)
    phase_s: dict[str, float] = field(default_factory=lambda: {"draft": 0.0, "verify": 0.0, "rollback": 0.0})
    current_tps: float = 0.0
    generated_tokens: int = 0
    mode: str = ""
    block_size: int = 0
    reason: str = ""  # why the drafting policy chose this mode and block size
    prompt_tps: float | None = None
    ttft_s: float | None = None
    summary: GenerationSummary | None = None
    draft_cycles: int = 0  # cycles that drafted so far (an auto-mode reply mixes in plain steps)
    draft_cycle_tokens: int = 0  # tokens they committed: tau while the reply streams

    def add(self, update: RequestUpdate) -> None:
        if update.prefill and update.prefill.prefill_s > 0:
            self.prompt_tps = update.prefill.prefilled_tokens / update.prefill.prefill_s
        for cycle in update.cycles:
            self.mode, self.block_size = cycle.mode, cycle.block_size
            self.reason = cycle.reason or self.reason
            self.current_tps = cycle.generation_tps
            self.generated_tokens = cycle.generated_tokens
            self.tps_series.append(cycle.generation_tps)
            if cycle.drafted:  # a plain step accepts nothing because it drafts nothing: not a 0 in the histogram
                self.acceptance_series.append(cycle.accepted / cycle.drafted)
                self.draft_cycles += 1
                self.draft_cycle_tokens += cycle.committed
                if len(self.histogram) <= cycle.accepted:
                    self.histogram.extend([0] * (cycle.accepted + 1 - len(self.histogram)))
                self.histogram[cycle.accepted] += 1
            for phase in self.phase_s:
                self.phase_s[phase] += getattr(cycle, f"{phase}_s")
        del self.tps_series[:-SERIES_LIMIT], self.acceptance_series[:-SERIES_LIMIT]
        if update.summary:
            self.finish(update.summary)

    def finish(self, summary: GenerationSummary) -> None:
        self.summary = summary
        self.mode, self.block_size = summary.mode, summary.block_size or self.block_size
        self.reason = summary.reason or self.reason
        self.generated_tokens = summary.generated_tokens
        self.prompt_tps, self.ttft_s = summary.prompt_tps, summary.ttft_s
        if summary.accept_histogram:
            self.histogram = list(summary.accept_histogram)
        if summary.phase_s:
            self.phase_s = {k: summary.phase_s.get(k, 0.0) for k in self.phase_s}

    @property
    def drafted(self) -> bool:
        """Whether any DFlash cycle ran (an auto reply the policy decoded mostly plainly still counts)."""
        return self.draft_cycles > 0 or bool(self.summary and self.summary.drafted)

    @property
    def tau(self) -> float | None:
        """Tokens per draft-verify cycle: the summary's once the reply ended, else from the cycles so far."""
        if self.summary is not None:
            return self.summary.tau
        return self.draft_cycle_tokens / self.draft_cycles if self.draft_cycles else None

    @property
    def decoding(self) -> str:
        """How the reply was decoded: 'dflash b16', 'plain', or the policy's mix once it ended with several sizes."""
        mix = block_mix(self.summary.block_tokens) if self.summary is not None else None
        return mix or (f"{self.mode} b{self.block_size}" if self.mode == "dflash" else (self.mode or "–"))

    @property
    def average_tps(self) -> float:
        return self.summary.generation_tps if self.summary else self.current_tps


def summary_to_stats(summary: GenerationSummary) -> dict:
    """What a saved reply keeps of its summary (the text lives in the message itself)."""
    stats = asdict(summary)
    del stats["text"], stats["token_ids"]
    return stats


def stats_to_summary(stats: dict) -> GenerationSummary | None:
    """A saved reply's stats back as a summary; None when they predate a field it needs."""
    known = {f.name for f in fields(GenerationSummary)}
    try:
        return GenerationSummary(**{k: v for k, v in stats.items() if k in known})
    except TypeError:
        return None


def saved_reply_stats(stats: dict) -> ReplyStats | None:
    """The numbers of a finished, saved reply (no per-cycle series: those are not kept)."""
    summary = stats_to_summary(stats)
    if summary is None:
        return None
    reply = ReplyStats()
    reply.finish(summary)
    reply.current_tps = summary.generation_tps
    return reply


def format_reply_stats(stats: dict) -> str:
    """The compact line under a reply, e.g. '41.8 tok/s · τ 3.52 · 62% accepted · 128 tok · 3.1 s · dflash';
    a reply the drafting policy decoded with several block sizes ends with its mix instead of one mode
    ('auto: plain 61%, b16 39%'), and shows τ whenever any DFlash cycle ran."""
    parts = [f"{stats.get('generation_tps', 0.0):.1f} tok/s"]
    if stats.get("drafted", 1 if stats.get("mode") == "dflash" else 0):
        parts.append(f"τ {stats.get('tau', 0.0):.2f}")
        parts.append(f"{stats.get('acceptance', 0.0):.0%} accepted")
    parts.append(f"{stats.get('generated_tokens', 0)} tok")
    parts.append(f"{stats.get('prefill_s', 0.0) + stats.get('generation_s', 0.0):.1f} s")
    parts.append(block_mix(stats.get("block_tokens") or {}) or stats.get("mode", ""))
    return " · ".join(p for p in parts if p)


def block_mix(block_tokens: dict) -> str | None:
    """'auto: plain 61%, b16 39%': the share of a reply's tokens each block size committed, when there were
    several (saved stats come back from JSON with the sizes as strings); None for a single size."""
    tokens = {int(b): n for b, n in block_tokens.items() if n}
    if len(tokens) < 2:
        return None
    total = sum(tokens.values())
    mix = sorted(tokens.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{'plain' if b == 1 else f'b{b}'} {_share(n / total)}" for b, n in mix[:MIX_SHOWN])
    return "auto: " + shown + (", …" if len(mix) > MIX_SHOWN else "")


def _share(x: float) -> str:
    return "<1%" if 0 < x < 0.005 else f"{x:.0%}"
