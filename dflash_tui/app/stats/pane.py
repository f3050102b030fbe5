"""Live stats: tok/s in large digits, sparklines, acceptance, phases, speedup.

The pane redraws only from coalesced updates (at most one per UI tick, ~20/s),
so a fast decoder never waits on it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Digits, Label, Sparkline, Static

from ...hub.units import format_size
from ...service import RequestUpdate
from .histogram import histogram_lines
from .reply_stats import ReplyStats, saved_reply_stats


class StatsPane(VerticalScroll):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.reply: ReplyStats | None = None
        self.request_id: int | None = None
        self.compare_request_id: int | None = None
        self.comparison: ReplyStats | None = None
        self.plain_tps: float | None = None  # the latest plain-decoding measurement of this model
        self.speedup_note = "Press Ctrl+T after a reply to measure the speedup against plain decoding."

    def compose(self) -> ComposeResult:
        with Horizontal(id="speed"):
            with Vertical(classes="big-number"):
                yield Label("tok/s now")
                yield Digits("0.0", id="current-tps")
            with Vertical(classes="big-number"):
                yield Label("tok/s average")
                yield Digits("0.0", id="average-tps")
        yield Label("tok/s over the reply")
        yield Sparkline([], id="tps-sparkline")
        yield Static("", id="prompt-line", markup=False)
        yield Static("", id="policy-line", markup=False)
        yield Static("", id="acceptance-line", markup=False)
        yield Sparkline([], id="acceptance-sparkline")
        yield Label("cycles per accepted length")
        yield Static("", id="histogram", markup=False)
        yield Static("", id="phase-line", markup=False)
        yield Static("", id="speedup-line", markup=False)

    def on_mount(self) -> None:
        self.redraw()

    def start_reply(self, request_id: int) -> None:
        self.request_id, self.reply = request_id, ReplyStats()
        self.redraw()

    def show_saved(self, stats: dict | None) -> None:
        """Show a finished reply's kept numbers (when a conversation opens or a reply is focused)."""
        if self.request_id is not None and self.reply and self.reply.summary is None:
            return  # a reply is streaming: its live numbers win
        saved = saved_reply_stats(stats) if stats else None
        self.request_id, self.reply = None, saved
        self.redraw()

    @property
    def comparing(self) -> bool:
        return self.comparison is not None and self.comparison.summary is None and "failed" not in self.speedup_note

    def start_comparison(self, request_id: int) -> None:
        self.compare_request_id, self.comparison = request_id, ReplyStats()
        self.speedup_note = "Measuring plain decoding on the same prompt…"
        self.redraw()

    def apply_update(self, update: RequestUpdate) -> None:
        if update.request_id == self.request_id and self.reply:
            self.reply.add(update)
        elif update.request_id == self.compare_request_id and self.comparison:
            self.comparison.add(update)
            if update.error:
                self.speedup_note = f"The comparison failed: {update.error}"
            elif update.summary and update.summary.stop_reason == "cancelled":
                self.speedup_note = "The comparison was stopped; Ctrl+T runs it again."
            elif update.summary:
                self.plain_tps = update.summary.generation_tps
                self.speedup_note = ""
        else:
            return
        self.redraw()

    def redraw(self) -> None:
        reply = self.reply or ReplyStats()
        self.query_one("#current-tps", Digits).update(f"{reply.current_tps:.1f}")
        self.query_one("#average-tps", Digits).update(f"{reply.average_tps:.1f}")
        self.query_one("#tps-sparkline", Sparkline).data = reply.tps_series
        ttft = f"{reply.ttft_s:.2f} s" if reply.ttft_s is not None else "–"
        prompt = f"{reply.prompt_tps:,.0f} tok/s" if reply.prompt_tps is not None else "–"
        self.query_one("#prompt-line", Static).update(
            f"prompt {prompt} · first token {ttft} · {reply.generated_tokens} tokens · {reply.decoding}")
        self.query_one("#policy-line", Static).update(f"why: {reply.reason}" if reply.reason else "")
        self.query_one("#acceptance-line", Static).update(self._acceptance_text(reply))
        self.query_one("#acceptance-sparkline", Sparkline).data = reply.acceptance_series
        self.query_one("#histogram", Static).update("\n".join(histogram_lines(reply.histogram)) or "–")
        self.query_one("#phase-line", Static).update(self._phase_text(reply))
        self.query_one("#speedup-line", Static).update(self._speedup_text(reply))

    @staticmethod
    def _acceptance_text(reply: ReplyStats) -> str:
        summary = reply.summary
        if summary and summary.drafted:
            return f"acceptance {summary.acceptance:.0%} · τ {summary.tau:.2f} tokens per cycle"
        if reply.acceptance_series and reply.tau is not None:
            return (f"acceptance {sum(reply.acceptance_series) / len(reply.acceptance_series):.0%} · "
                    f"τ {reply.tau:.2f} tokens per cycle")
        return "acceptance – (plain decoding drafts nothing)" if reply.mode == "plain" else "acceptance –"

    @staticmethod
    def _phase_text(reply: ReplyStats) -> str:
        total = sum(reply.phase_s.values()) or 1.0
        phases = " · ".join(f"{name} {seconds:.2f} s ({seconds / total:.0%})"
                            for name, seconds in reply.phase_s.items())
        memory = format_size(reply.summary.peak_memory_bytes) if reply.summary else "–"
        return f"{phases} · peak memory {memory}"

    def _speedup_text(self, reply: ReplyStats) -> str:
        if self.speedup_note:
            return self.speedup_note
        speed = reply.average_tps
        if (reply.mode == "dflash" or reply.drafted) and self.plain_tps and speed:
            # an auto reply the policy decoded mostly plainly ends with mode "plain" but drafted too: compare it
            return (f"speedup {speed / self.plain_tps:.2f}× vs plain decoding ({self.plain_tps:.1f} tok/s, "
                    f"measured) · {reply.decoding}")
        if speed and self.plain_tps:
            return (f"plain decoding measured at {self.plain_tps:.1f} tok/s; this reply drafted nothing "
                    f"({speed:.1f} tok/s) · Ctrl+T measures again")
        return f"plain decoding measured at {self.plain_tps:.1f} tok/s (Ctrl+T measures again)"
