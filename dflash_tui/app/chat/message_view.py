"""One message in the log: who, the text as Markdown, and the reply's stats line.

A streaming reply appends to its own Markdown widget (Textual's MarkdownStream),
so the rest of the history is never re-rendered while tokens arrive. Finished
messages render through Rich's Markdown in a single Static: Textual's Markdown
builds a widget per block, which made a 300-message history take seconds to open.
"""

from __future__ import annotations

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Markdown, Static

from ...store import STATUS_COMPLETE, STATUS_ERROR, STATUS_INTERRUPTED, STATUS_STOPPED, STATUS_STREAMING, Message
from ..stats.reply_stats import format_reply_stats

STATUS_LABELS = {
    STATUS_STREAMING: "● generating",
    STATUS_STOPPED: "■ stopped",
    STATUS_INTERRUPTED: "■ interrupted (the app closed while generating)",
    STATUS_ERROR: "✗ failed",
    STATUS_COMPLETE: "",
}


class MessageView(Vertical, can_focus=True):
    """Focus a message (Tab / Shift+Tab) to copy it or its code."""

    BINDINGS = [
        Binding("c", "app.copy_message", "Copy", id="message.copy"),
        Binding("k", "app.copy_code", "Copy code", id="message.copy_code"),
    ]

    def __init__(self, message: Message):
        super().__init__(classes=f"message {message.role}")
        self.message = message
        self._stream = None

    def compose(self) -> ComposeResult:
        yield Static(self._header_text(), classes="message-header")
        if self.message.role == "user":  # what the user typed, line breaks and all, not Markdown
            yield Static(self.message.content, classes="message-body", markup=False)
        elif self.message.status == STATUS_STREAMING:
            yield Markdown(self.message.content, classes="message-body")
        else:
            code_theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"  # follows the terminal
            yield Static(RichMarkdown(self.message.content, code_theme=code_theme), classes="message-body")
        yield Static(self._footer_text(), classes="message-stats", markup=False)

    def _header_text(self) -> str:
        role = {"user": "You", "assistant": "Assistant", "system": "System"}.get(self.message.role, "")
        label = STATUS_LABELS.get(self.message.status, "")
        return f"[b]{role}[/b]  [i]{label}[/i]" if label else f"[b]{role}[/b]"

    def _footer_text(self) -> str:
        return format_reply_stats(self.message.stats) if self.message.stats else ""

    def on_mount(self) -> None:
        self.query_one(".message-stats").display = bool(self.message.stats)

    async def append(self, text: str) -> None:
        self.message.content += text
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one(Markdown))
        await self._stream.write(text)

    async def finish(self, status: str, stats: dict | None = None, error: str = "") -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.message.status, self.message.stats = status, stats
        self.query_one(".message-header", Static).update(self._header_text())
        footer = self.query_one(".message-stats", Static)
        footer.update(error or self._footer_text())
        footer.display = bool(error or stats)
        footer.set_class(bool(error), "error")


class EarlierMessages(Static, can_focus=True):
    """The marker above a long conversation's newest messages; Enter shows older ones."""

    BINDINGS = [Binding("enter", "app.load_earlier", "Load earlier", id="chat.load_earlier")]

    count: reactive[int] = reactive(0)

    def __init__(self, count: int):
        super().__init__(id="earlier-messages", markup=False)
        self.set_reactive(EarlierMessages.count, count)

    def render(self) -> str:
        return f"↑ {self.count} earlier messages · Enter here (or Ctrl+P “Load earlier messages”) shows more"
