"""The chat pane and the life of a conversation: send, stream, stop, regenerate, edit.

Every message is written to the store before generation starts; the reply row
is updated at most once a second while it streams and finally on its summary,
so a crash or a stop keeps what was generated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from ...service import RequestUpdate
from ...settings import GenerationSettings
from ...store import (STATUS_COMPLETE, STATUS_ERROR, STATUS_INTERRUPTED, STATUS_STOPPED, STATUS_STREAMING,
                      Conversation, Message, StoreError)
from ..stats.reply_stats import summary_to_stats
from ..store_errors import reports_store_errors
from .conversation_list import ConversationList
from .message_view import EarlierMessages, MessageView
from .prompt_input import PromptInput

if TYPE_CHECKING:
    from ..app import DflashApp

SAVE_EVERY_S = 1.0
HISTORY_WINDOW = 40  # messages mounted when a conversation opens; older ones load on request
TITLE_CHARS = 40
CONTEXT_STATUSES = (STATUS_COMPLETE, STATUS_STOPPED, STATUS_INTERRUPTED)  # what the model sees again
EMPTY_HELP = (
    "Type a message and press Enter to send; Ctrl+J starts a new line (Shift+Enter and Alt+Enter too, "
    "where the terminal reports them).\n"
    "Esc stops a reply · Ctrl+R regenerates · Ctrl+L edits your last message · Ctrl+G chat settings\n"
    "F1 chat · F2 models · F3 live stats · Ctrl+P every command"
)


@dataclass
class ActiveReply:
    request_id: int
    view: MessageView
    saved_at: float


class ChatPane(Horizontal):
    app: "DflashApp"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conversation: Conversation | None = None
        self.active: ActiveReply | None = None
        self._unmounted: list[Message] = []  # older messages of the open conversation not shown yet

    def compose(self) -> ComposeResult:
        chat = self.app.settings.chat
        sidebar = ConversationList(id="sidebar")
        sidebar.display = chat.show_conversations
        yield sidebar
        with Vertical(id="chat-main"):
            with VerticalScroll(id="log"):
                yield Static(EMPTY_HELP, id="empty-help", markup=False)
            yield PromptInput(chat.send_keys, chat.newline_keys, id="prompt")
            yield Static("", id="status-line", markup=False)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def log_view(self) -> VerticalScroll:
        return self.query_one("#log", VerticalScroll)

    @property
    def generating(self) -> bool:
        return self.active is not None

    # conversations

    async def refresh_sidebar(self) -> None:
        search = self.query_one("#search").value
        sidebar = self.query_one(ConversationList)
        current = self.conversation.id if self.conversation else None
        if search.strip():
            await sidebar.show_hits(self.app.store.search(search), current)
        else:
            await sidebar.show_conversations(self.app.store.list_conversations(), current)

    async def show_conversation(self, conversation: Conversation | None) -> None:
        self.conversation = conversation
        messages = self.app.store.messages(conversation.id) if conversation else []
        self._unmounted, shown = messages[:-HISTORY_WINDOW], messages[-HISTORY_WINDOW:]
        log = self.log_view
        with self.app.batch_update():
            await log.remove_children()
            help_text = Static(EMPTY_HELP, id="empty-help", markup=False)
            help_text.display = not messages
            earlier = EarlierMessages(len(self._unmounted))
            earlier.display = bool(self._unmounted)
            await log.mount(help_text, earlier, *[MessageView(m) for m in shown])
        log.scroll_end(animate=False)
        replies = [m for m in shown if m.role == "assistant" and m.stats]
        self.app.stats_pane.show_saved(replies[-1].stats if replies else None)
        self.update_status()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, MessageView) and event.widget.message.stats:
            self.app.stats_pane.show_saved(event.widget.message.stats)

    async def load_earlier(self) -> None:
        """Mount the next HISTORY_WINDOW older messages above the ones shown."""
        if not self._unmounted:
            self.app.notify("The whole conversation is already shown.")
            return
        self._unmounted, batch = self._unmounted[:-HISTORY_WINDOW], self._unmounted[-HISTORY_WINDOW:]
        earlier = self.query_one(EarlierMessages)
        await self.log_view.mount(*[MessageView(m) for m in batch], after=earlier)
        earlier.count = len(self._unmounted)
        earlier.display = bool(self._unmounted)

    @reports_store_errors
    async def on_conversation_list_chosen(self, event: ConversationList.Chosen) -> None:
        if self.generating:
            self.app.notify("A reply is being generated: press Esc to stop it first.", severity="warning")
            return
        await self.show_conversation(self.app.store.get_conversation(event.conversation_id))
        self.prompt.focus()

    @reports_store_errors
    async def on_conversation_list_search_changed(self, event: ConversationList.SearchChanged) -> None:
        await self.refresh_sidebar()

    def _ensure_conversation(self, first_prompt: str) -> Conversation:
        if self.conversation is None:
            title = first_prompt.strip().splitlines()[0][:TITLE_CHARS] if first_prompt.strip() else "New chat"
            self.conversation = self.app.store.create_conversation(title, self.app.default_generation())
        return self.conversation

    def messages_for_engine(self) -> list[dict]:
        """The conversation as the model sees it: system prompt, then every kept message."""
        conversation = self.conversation
        turns = []
        if conversation.generation.system_prompt:
            turns.append({"role": "system", "content": conversation.generation.system_prompt})
        turns += [{"role": m.role, "content": m.content} for m in self.app.store.messages(conversation.id)
                  if m.status in CONTEXT_STATUSES and m.content]
        return turns

    def context_for_last_prompt(self) -> list[dict] | None:
        """The context that produced the last reply (for the plain-decoding comparison), or None."""
        turns = self.messages_for_engine() if self.conversation else []
        while turns and turns[-1]["role"] == "assistant":
            turns.pop()
        return turns if turns and turns[-1]["role"] == "user" else None

    # sending and streaming

    async def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        await self.send(event.text)

    async def send(self, text: str) -> None:
        problem = self._why_not_send(text)
        if problem:
            self.app.notify(problem, severity="warning" if text.strip() else "information")
            return
        try:
            conversation = self._ensure_conversation(text)
            message = self.app.store.add_message(conversation.id, "user", text)
        except StoreError as error:
            self.app.notify(str(error), severity="error", timeout=15)
            return
        typed = self.prompt.text  # keys pressed after Enter, before this ran, must survive
        self.prompt.load_text(typed[len(text):] if typed.startswith(text) else typed)
        self.prompt.remember(text)
        await self._mount_message(message)
        await self._start_reply()
        await self.refresh_sidebar()

    def _why_not_send(self, text: str) -> str | None:
        if not text.strip():
            return "Type a message first: an empty prompt is not sent."
        limit = self.app.settings.chat.max_prompt_chars
        if len(text) > limit:
            return (f"Your message is {len(text):,} characters; the limit is {limit:,} "
                    "(chat.max_prompt_chars in settings.toml). Shorten it: it is still in the input box.")
        if self.generating:
            return "A reply is still being generated: press Esc to stop it, then send again."
        if not self.app.model.ready:
            return self.app.model.explain_not_ready() + " Your message is still in the input box."
        return None

    async def _mount_message(self, message: Message) -> MessageView:
        view = MessageView(message)
        self.query_one("#empty-help").display = False
        await self.log_view.mount(view)
        self.log_view.scroll_end(animate=False)
        return view

    async def _start_reply(self) -> None:
        conversation = self.conversation
        context = self.messages_for_engine()
        try:
            reply = self.app.store.add_message(conversation.id, "assistant", "", status=STATUS_STREAMING)
        except StoreError as error:
            self.app.notify(str(error), severity="error", timeout=15)
            return
        view = await self._mount_message(reply)
        request_id = self.app.next_request_id()
        self.active = ActiveReply(request_id, view, time.monotonic())
        self.app.stats_pane.start_reply(request_id)
        self.app.service.generate(request_id, context, conversation.generation)
        self.update_status()

    async def apply_update(self, update: RequestUpdate) -> None:
        active = self.active
        if active is None or update.request_id != active.request_id:
            return
        log = self.log_view
        following = log.scroll_offset.y >= log.max_scroll_y - 1
        if update.text:
            await active.view.append(update.text)
            if time.monotonic() - active.saved_at >= SAVE_EVERY_S:
                self._save(active, content=active.view.message.content)
        if update.summary or update.error:
            await self._finish(active, update)
        if following:
            log.scroll_end(animate=False)

    async def _finish(self, active: ActiveReply, update: RequestUpdate) -> None:
        self.active = None
        content = active.view.message.content
        if update.error:
            self._save(active, content=content, status=STATUS_ERROR)
            await active.view.finish(STATUS_ERROR, error=update.error)
            self.app.notify(update.error, severity="error", timeout=15)
        else:
            summary = update.summary
            status = STATUS_STOPPED if summary.stop_reason == "cancelled" else STATUS_COMPLETE
            stats = summary_to_stats(summary)
            self._save(active, content=content, status=status, stats=stats)
            await active.view.finish(status, stats)
        self.update_status()

    def _save(self, active: ActiveReply, **changes) -> None:
        try:
            self.app.store.update_message(active.view.message.id, **changes)
        except StoreError as error:
            self.app.notify(str(error), severity="error", timeout=15)
        active.saved_at = time.monotonic()

    def on_unmount(self) -> None:
        """Quitting mid-reply keeps what was generated, marked stopped."""
        if self.active is not None:
            self._save(self.active, content=self.active.view.message.content, status=STATUS_STOPPED)
            self.app.service.cancel()

    def stop(self) -> bool:
        """Stop the reply being generated; False when there is none."""
        if self.active is None:
            return False
        self.app.service.cancel()
        return True

    # regenerate, edit

    def _views(self) -> list[MessageView]:
        return list(self.log_view.query(MessageView))

    async def regenerate(self) -> None:
        if self.generating:
            self.app.notify("A reply is still being generated: press Esc first.", severity="warning")
            return
        views = self._views()
        if not views:
            self.app.notify("Nothing to regenerate yet: send a message first.")
            return
        if not self.app.model.ready:
            self.app.notify(self.app.model.explain_not_ready(), severity="warning")
            return
        if views[-1].message.role == "assistant":
            self.app.store.delete_message(views[-1].message.id)
            await views[-1].remove()
        await self._start_reply()

    async def edit_last(self) -> None:
        """Take the last user message (and the reply after it) back into the input box."""
        if self.generating:
            self.app.notify("A reply is still being generated: press Esc first.", severity="warning")
            return
        views = self._views()
        users = [i for i, v in enumerate(views) if v.message.role == "user"]
        if not users:
            self.app.notify("There is no message of yours to edit in this conversation.")
            return
        if self.prompt.text.strip():
            self.app.notify("The input box is not empty: send or clear it before editing your last message.",
                            severity="warning")
            return
        last = users[-1]
        text = views[last].message.content
        for view in views[last:]:
            self.app.store.delete_message(view.message.id)
            await view.remove()
        self.prompt.load_text(text)
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.focus()

    def last_message(self, role: str | None = None) -> Message | None:
        views = [v for v in self._views() if role is None or v.message.role == role]
        return views[-1].message if views else None

    # generation settings and the status line

    def set_generation(self, generation: GenerationSettings) -> None:
        conversation = self._ensure_conversation("")
        self.app.store.set_generation(conversation.id, generation)
        conversation.generation = generation
        self.update_status()

    def update_status(self) -> None:
        model = self.app.model
        generation = self.conversation.generation if self.conversation else self.app.default_generation()
        parts = ["● generating (Esc stops)"] if self.generating else []  # first: long paths must not hide it
        if not self.app.store_is_persistent:
            parts.append("⚠ not saving")
        parts.append(model.describe())
        if model.ready:
            mode = "DFlash" if generation.dflash and model.draft else "plain"
            if mode == "DFlash" and generation.auto_block:
                mode += " auto" + (f" ≤b{generation.block_size}" if generation.block_size else "")
            elif mode == "DFlash":
                mode += f" b{generation.block_size or model.block_size or '?'}"
            sampling = f"T {generation.temperature:g}"
            if generation.temperature > 0 and generation.seed >= 0:
                sampling += f" seed {generation.seed}"  # reproducible: the same text in every mode
            parts += [mode, sampling, f"max {generation.max_tokens}"]
        self.query_one("#status-line", Static).update(" · ".join(parts))
