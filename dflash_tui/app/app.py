"""DflashApp: the three panes, the decoder service clock, settings, themes and actions.

Every user action is an `action_*` here, so the same name serves a key binding
(remappable by id in settings.toml [keys]), the command palette and the panes.
The service is polled on a 10 Hz timer: one coalesced UI update per tick at most.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, TabbedContent, TabPane

from .. import paths
from ..service import DecoderService, LoadFailed, LoadProgress, ModelReady, RequestUpdate, coalesce
from ..settings import DEFAULT_THEME, GenerationSettings, LoadedSettings, load_settings, save_settings
from ..store import Conversation, Store, StoreError
from .chat.code_blocks import code_blocks
from .chat.export import export_conversation
from .chat.message_view import MessageView
from .chat.pane import ChatPane
from .clipboard import copy_with_local_tool
from .commands import app_commands
from .dialogs import ConfirmScreen, GenerationSettingsScreen, TextPromptScreen
from .library_logs import route_library_logs
from .model_state import FAILED, LOADING, READY, ModelState, short_name
from .models.pane import ModelsPane
from .stats.pane import StatsPane
from .store_errors import reports_store_errors
from .themes import load_themes

# Redraws while a reply streams. Textual's layout and rendering hold the GIL and a core the decoder wants: on
# 2 CPU cores the demo pair decoded 1.12x and 1.21x faster at 10 Hz than at 20 Hz, no faster at 5 Hz
# (scripts/cpu/ui_tick_ab.py, interleaved runs); 10 Hz still reads as smooth streaming.
UI_TICK_S = 1 / 10


class DflashApp(App):
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute, so subclasses elsewhere find it
    TITLE = "dflash-tui"
    BINDINGS = [
        Binding("f1", "show_pane('chat')", "Chat", id="pane.chat"),
        Binding("f2", "show_pane('models')", "Models", id="pane.models"),
        Binding("f3", "show_pane('stats')", "Stats", id="pane.stats"),
        Binding("escape", "stop", "Stop", id="stop", show=False),
        Binding("ctrl+n", "new_conversation", "New", id="new"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding("ctrl+l", "edit_last", "Edit last", id="edit_last", show=False),
        Binding("ctrl+g", "generation_settings", "Chat settings", id="settings"),
        Binding("ctrl+b", "toggle_sidebar", "Chats", id="toggle_sidebar", show=False),
        Binding("ctrl+f", "search", "Search chats", id="search", show=False),
        Binding("ctrl+s", "export", "Export", id="export", show=False),
        Binding("f5", "copy_message", "Copy reply", id="copy_message", show=False),
        Binding("f8", "copy_code", "Copy code", id="copy_code", show=False),
        Binding("ctrl+t", "compare", "Measure vs plain", id="compare", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, service: DecoderService, *, target: str | None = None, draft: str | None = None,
                 no_draft: bool = False):
        super().__init__()
        self.service = service
        self.requested_pair = (target, draft, no_draft)
        self.loaded_settings = load_settings()
        self.settings = self.loaded_settings.settings
        self.model = ModelState()
        self._request_ids = itertools.count(1)
        self._startup_notices: list[tuple[str, str]] = []
        if self.loaded_settings.notice:
            self._startup_notices.append((self.loaded_settings.notice, "warning"))
        self.store, self.store_is_persistent = self._open_store()

    def _open_store(self) -> tuple[Store, bool]:
        try:
            return Store.open(paths.database_path()), True
        except StoreError as error:
            self._startup_notices.append(
                (f"{error} Conversations of this session are kept in memory only.", "error"))
            return Store.in_memory(), False

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="chat-tab", id="panes"):
            with TabPane("Chat (F1)", id="chat-tab"):
                yield ChatPane(id="chat")
            with TabPane("Models (F2)", id="models-tab"):
                yield ModelsPane(id="models")
            with TabPane("Stats (F3)", id="stats-tab"):
                yield StatsPane(id="stats")
        yield Footer()

    @property
    def chat(self) -> ChatPane:
        return self.query_one(ChatPane)

    @property
    def stats_pane(self) -> StatsPane:
        return self.query_one(StatsPane)

    @property
    def models_pane(self) -> ModelsPane:
        return self.query_one(ModelsPane)

    async def on_mount(self) -> None:
        self._undo_library_logs = route_library_logs(self._library_log)
        self._register_themes()
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        for message, severity in self._startup_notices:
            self.notify(message, severity=severity, timeout=20)
        conversations = self.store.list_conversations()
        await self.chat.show_conversation(conversations[0] if conversations else None)
        await self.chat.refresh_sidebar()
        self.chat.prompt.prompt_history = self.store.recent_prompts()
        self.chat.prompt.focus()
        self.set_interval(UI_TICK_S, self.drain_service)
        self.models_pane.start_with(*self.requested_pair)

    def on_unmount(self) -> None:
        self._undo_library_logs()

    def _library_log(self, name: str, level: int, message: str) -> None:
        """A library's warning (huggingface_hub retrying a request, say), from whichever thread logged it:
        shown on the models pane's hub status line, never written over the screen."""
        if not self.is_running:
            return
        if self._thread_id == threading.get_ident():
            self.models_pane.hub_message(message)
        else:
            self.call_from_thread(self.models_pane.hub_message, message)

    def _register_themes(self) -> None:
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        for problem in problems:
            self.notify(problem, severity="warning", timeout=20)
        wanted = self.settings.theme
        if wanted not in self.available_themes:
            self.notify(f"Theme “{wanted}” is not installed; using {DEFAULT_THEME}. Pick one with Ctrl+P → Theme.",
                        severity="warning", timeout=20)
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
            self.settings = replace(self.settings, theme=wanted)  # in memory only: the file is the user's
        self.theme = wanted
        self.theme_changed_signal.subscribe(self, lambda theme: self.save_setting(theme=theme.name))

    def save_setting(self, **changes) -> None:
        if all(getattr(self.settings, k) == v for k, v in changes.items()):
            return
        self.settings = replace(self.settings, **changes)
        try:
            save_settings(self.settings, keep_backup=self.loaded_settings.file_was_invalid)
        except OSError as error:
            self.notify(f"Could not save settings to {paths.settings_path()}: {error}", severity="error")
            return
        self.loaded_settings = LoadedSettings(self.settings, None)

    def default_generation(self) -> GenerationSettings:
        return replace(self.settings.generation)

    def next_request_id(self) -> int:
        return next(self._request_ids)

    # the decoder service

    async def drain_service(self) -> None:
        for item in coalesce(self.service.poll()):
            if not self.is_running:  # shutting down: the panes are being taken apart
                return
            if isinstance(item, RequestUpdate):
                await self.chat.apply_update(item)
                self.stats_pane.apply_update(item)
            elif isinstance(item, LoadProgress):
                self.model = replace(self.model, status=LOADING, message=item.message)
            elif isinstance(item, ModelReady):
                self.model = ModelState(READY, item.target_name, item.draft_name, item.block_size)
                self.notify(f"Ready: {self.model.describe()}", timeout=4)
            elif isinstance(item, LoadFailed):
                self.model = replace(self.model, status=FAILED, message=item.message)
                self.notify(item.message, title="Model not loaded", severity="error", timeout=30)
            if not isinstance(item, RequestUpdate):
                self.chat.update_status()
                self.models_pane.show_model_state(self.model)

    def load_model(self, target: str, draft: str | None) -> None:
        """Ask the decoder thread to load a pair; progress arrives through drain_service."""
        if self.chat.generating:
            self.notify("A reply is being generated: press Esc to stop it before switching models.",
                        severity="warning")
            return
        self.model = ModelState(LOADING, target, draft, message=f"loading {short_name(target)}…")
        self.chat.update_status()
        self.service.load(target, draft)

    # actions

    def action_show_pane(self, pane: str) -> None:
        self.query_one(TabbedContent).active = f"{pane}-tab"
        # Focus must move into the shown pane, or Textual refocuses the hidden one and switches back.
        {"chat": self.chat.prompt, "models": self.models_pane.query_one("#local-models"),
         "stats": self.stats_pane}[pane].focus()

    def action_stop(self) -> None:
        """Stop the reply or the comparison run; with neither, Esc returns to the prompt."""
        if self.chat.stop():
            return
        if self.stats_pane.comparing:
            self.service.cancel()
        elif self.query_one(TabbedContent).active == "chat-tab":
            self.chat.prompt.focus()

    @reports_store_errors
    async def action_new_conversation(self) -> None:
        if self.chat.generating:
            self.notify("A reply is being generated: press Esc to stop it first.", severity="warning")
            return
        await self.chat.show_conversation(None)
        await self.chat.refresh_sidebar()
        self.action_show_pane("chat")

    async def action_load_earlier(self) -> None:
        await self.chat.load_earlier()

    @reports_store_errors
    async def action_regenerate(self) -> None:
        await self.chat.regenerate()

    @reports_store_errors
    async def action_edit_last(self) -> None:
        await self.chat.edit_last()

    def action_toggle_sidebar(self) -> None:
        sidebar = self.chat.query_one("#sidebar")
        sidebar.display = not sidebar.display
        self.save_setting(chat=replace(self.settings.chat, show_conversations=sidebar.display))

    def action_search(self) -> None:
        self.action_show_pane("chat")
        self.chat.query_one("#sidebar").display = True
        self.chat.query_one("#search").focus()

    def _chosen_conversation(self):
        """The conversation highlighted in the sidebar when it has focus, else the open one."""
        sidebar = self.chat.query_one("#sidebar")
        if sidebar.has_focus_within and sidebar.highlighted_id is not None:
            return self.store.get_conversation(sidebar.highlighted_id)
        return self.chat.conversation

    def action_rename_conversation(self) -> None:
        conversation = self._chosen_conversation()
        if conversation is None:
            self.notify("There is no conversation to rename yet: send a message first.")
            return
        self.push_screen(TextPromptScreen("Rename conversation", conversation.title),
                         partial(self._rename, conversation))

    @reports_store_errors
    async def _rename(self, conversation: Conversation, title: str | None) -> None:
        if not title:
            return
        self.store.rename_conversation(conversation.id, title)
        if self.chat.conversation and self.chat.conversation.id == conversation.id:
            self.chat.conversation.title = title
        await self.chat.refresh_sidebar()

    def action_delete_conversation(self) -> None:
        conversation = self._chosen_conversation()
        if conversation is None:
            self.notify("There is no conversation to delete.")
            return
        count = len(self.store.messages(conversation.id))
        self.push_screen(ConfirmScreen(f"Delete “{conversation.title}” and its {count} messages? "
                                       "This cannot be undone."), partial(self._delete, conversation))

    @reports_store_errors
    async def _delete(self, conversation: Conversation, confirmed: bool | None) -> None:
        if not confirmed:
            return
        is_open = self.chat.conversation is not None and self.chat.conversation.id == conversation.id
        if is_open and self.chat.generating:
            self.notify("A reply is being generated here: press Esc first.", severity="warning")
            return
        self.store.delete_conversation(conversation.id)
        if is_open:
            await self.chat.show_conversation(None)
        await self.chat.refresh_sidebar()
        self.notify(f"Deleted “{conversation.title}”.")

    def action_generation_settings(self) -> None:
        chat = self.chat
        current = chat.conversation.generation if chat.conversation else self.default_generation()
        title = chat.conversation.title if chat.conversation else "the next conversation"
        self.push_screen(GenerationSettingsScreen(current, title), self._apply_generation)

    @reports_store_errors
    def _apply_generation(self, generation: GenerationSettings | None) -> None:
        if generation is not None:
            self.chat.set_generation(generation)
            self.notify("Chat settings saved.", timeout=3)

    @reports_store_errors
    def action_export(self) -> None:
        conversation = self.chat.conversation
        if conversation is None:
            self.notify("Nothing to export yet: send a message first.")
            return
        folder = Path.cwd()
        try:
            written = export_conversation(conversation, self.store.messages(conversation.id), folder)
        except OSError as error:
            self.notify(f"Could not export to {folder}: {error}", severity="error")
            return
        self.notify("Exported to " + " and ".join(str(p) for p in written), timeout=10)

    def _message_to_copy(self):
        focused = self.focused
        if isinstance(focused, MessageView):
            return focused.message
        return self.chat.last_message("assistant")

    def copy_text(self, text: str, what: str) -> None:
        self.copy_to_clipboard(text)  # OSC 52: reaches the user's terminal even over SSH
        tool = copy_with_local_tool(text)
        self.notify(f"Copied {what} ({len(text):,} characters" + (f", also via {tool})" if tool else ")"),
                    timeout=3)

    def action_copy_message(self) -> None:
        message = self._message_to_copy()
        if message is None or not message.content:
            self.notify("No reply to copy yet.")
            return
        self.copy_text(message.content, "the message")

    def action_copy_code(self) -> None:
        message = self._message_to_copy()
        blocks = code_blocks(message.content) if message else []
        if not blocks:
            self.notify("That message has no code block.")
            return
        self.copy_text(blocks[-1], "the last code block")

    def action_compare(self) -> None:
        """Run plain decoding on the last prompt to measure DFlash's speedup on it."""
        context = self.chat.context_for_last_prompt()
        if context is None:
            self.notify("Send a prompt first: the comparison reruns your last prompt with plain decoding.")
            return
        if self.chat.generating or self.stats_pane.comparing:
            self.notify("Generation is running: wait for it (or Esc) before comparing.", severity="warning")
            return
        if not self.model.ready:
            self.notify(self.model.explain_not_ready(), severity="warning")
            return
        request_id = self.next_request_id()
        self.stats_pane.start_comparison(request_id)
        self.service.generate(request_id, context, self.chat.conversation.generation, mode="plain")
        self.action_show_pane("stats")
        self.notify("Measuring plain decoding on your last prompt…", timeout=3)

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        if screen is self.screen_stack[0]:  # not from inside a dialog, where the panes are not reachable
            yield from app_commands(self)


def run_app(args) -> int:
    """Run the full-screen app; args has .target and .draft (paths or repo ids, may be None), optional .no_draft."""
    service = DecoderService()
    app = DflashApp(service, target=getattr(args, "target", None), draft=getattr(args, "draft", None),
                    no_draft=getattr(args, "no_draft", False))
    try:
        app.run()
    finally:
        service.shutdown()
    return app.return_code or 0
