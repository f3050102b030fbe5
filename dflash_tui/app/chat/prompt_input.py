"""The multi-line prompt box: configurable send / newline keys and prompt recall.

Up on the first line walks back through earlier prompts, Down on the last line
walks forward again and finally restores what was being typed.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    class Submitted(Message):
        def __init__(self, text: str):
            super().__init__()
            self.text = text

    def __init__(self, send_keys: list[str], newline_keys: list[str], **kwargs):
        placeholder = "Message · " + " · ".join(
            f"{keys[0]} {what}" for keys, what in ((send_keys, "sends"), (newline_keys, "new line")) if keys)
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", placeholder=placeholder,
                         **kwargs)
        self.send_keys = set(send_keys)
        self.newline_keys = set(newline_keys)
        self.prompt_history: list[str] = []
        self._recall_index: int | None = None
        self._draft = ""

    def remember(self, prompt: str) -> None:
        if prompt and (not self.prompt_history or self.prompt_history[-1] != prompt):
            self.prompt_history.append(prompt)
        self._recall_index = None

    async def _on_key(self, event: events.Key) -> None:
        if event.key in self.send_keys:
            self._claim(event)
            self.post_message(self.Submitted(self.text))
        elif event.key in self.newline_keys:
            self._claim(event)
            self.insert("\n")
        elif event.key == "up" and self.cursor_location[0] == 0 and self._recall(-1):
            self._claim(event)
        elif event.key == "down" and self.cursor_location[0] == self.document.line_count - 1 and self._recall(1):
            self._claim(event)
        else:
            await super()._on_key(event)

    @staticmethod
    def _claim(event: events.Key) -> None:
        event.prevent_default()
        event.stop()

    def _recall(self, step: int) -> bool:
        """Move through history; False when there is nowhere to go (the key then moves the cursor)."""
        if not self.prompt_history or (self._recall_index is None and step > 0):
            return False
        if self._recall_index is None:
            self._draft = self.text
            index = len(self.prompt_history) - 1
        else:
            index = self._recall_index + step
        if index < 0:
            return True
        if index >= len(self.prompt_history):
            self._recall_index = None
            self.load_text(self._draft)
        else:
            self._recall_index = index
            self.load_text(self.prompt_history[index])
        self.move_cursor(self.document.end)
        return True
