"""The collapsible sidebar: every conversation, and full-text search across them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, ListItem, ListView

from ...store import Conversation, SearchHit


class ConversationList(Vertical):
    BINDINGS = [
        Binding("n", "app.new_conversation", "New", id="conversations.new"),
        Binding("r", "app.rename_conversation", "Rename", id="conversations.rename"),
        Binding("d,delete", "app.delete_conversation", "Delete", id="conversations.delete"),
    ]

    class Chosen(Message):
        def __init__(self, conversation_id: int):
            super().__init__()
            self.conversation_id = conversation_id

    class SearchChanged(Message):
        def __init__(self, text: str):
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search all chats", id="search")
        yield ListView(id="conversations")

    async def show_conversations(self, conversations: list[Conversation], current_id: int | None) -> None:
        await self._fill([(c.id, c.title, "") for c in conversations], current_id)

    async def show_hits(self, hits: list[SearchHit], current_id: int | None) -> None:
        await self._fill([(h.conversation_id, h.title, h.snippet if h.message_id else "") for h in hits],
                         current_id)

    async def _fill(self, rows: list[tuple[int, str, str]], current_id: int | None) -> None:
        view = self.query_one(ListView)
        await view.clear()
        items = []
        for conversation_id, title, snippet in rows:
            labels = [Label(title, markup=False, classes="title")]
            if snippet:
                labels.append(Label(snippet.replace("\n", " "), markup=False, classes="snippet"))
            items.append(ListItem(*labels, name=str(conversation_id)))
        await view.extend(items)
        ids = [row[0] for row in rows]
        if ids:
            view.index = ids.index(current_id) if current_id in ids else 0

    @property
    def highlighted_id(self) -> int | None:
        item = self.query_one(ListView).highlighted_child
        return int(item.name) if item is not None and item.name else None

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        if event.item.name:
            self.post_message(self.Chosen(int(event.item.name)))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.SearchChanged(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(ListView).focus()
