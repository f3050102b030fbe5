"""Modal dialogs shared by the panes: confirm, ask for a line of text, generation settings.

Each returns its answer through dismiss(); Escape always cancels without changing anything.
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, Switch, TextArea

from ..settings import GenerationSettings


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("y", "dismiss(True)", "Yes", show=False)]

    def __init__(self, question: str, confirm_label: str = "Delete"):
        super().__init__(classes="dialog-screen")
        self.question, self.confirm_label = question, confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, markup=False, classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", id="confirm")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")


class TextPromptScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, value: str = ""):
        super().__init__(classes="dialog-screen")
        self.title_text, self.value = title, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text)
            yield Input(self.value, id="value")
            yield Static("Enter to save · Esc to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            self.notify("Type something first, or press Esc to cancel.", severity="warning")
            return
        self.dismiss(value)


# (label, GenerationSettings field, Input type): the sampling rows of the settings dialog
SAMPLING_FIELDS = (
    ("Top-p (1 = off)", "top_p", "number"),
    ("Top-k (0 = off)", "top_k", "integer"),
    ("Min-p (0 = off)", "min_p", "number"),
    ("Rep. penalty (1 = off)", "repetition_penalty", "number"),
    ("Seed (-1 = random)", "seed", "integer"),
)


class GenerationSettingsScreen(ModalScreen[GenerationSettings | None]):
    """System prompt and sampling for one conversation; Ctrl+S saves."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, settings: GenerationSettings, title: str):
        super().__init__(classes="dialog-screen")
        self.settings, self.title_text = settings, title

    def compose(self) -> ComposeResult:
        s = self.settings
        # compact widgets; on a terminal under ~30 rows the dialog scrolls (Ctrl+S saves from anywhere)
        with VerticalScroll(classes="dialog wide"):
            yield Label(f"Settings for “{self.title_text}”", markup=False)
            yield Label("System prompt")
            yield TextArea(s.system_prompt, id="system_prompt", classes="system-prompt", compact=True)
            with Grid(classes="settings-grid"):
                yield Label("Max tokens")
                yield Input(str(s.max_tokens), id="max_tokens", type="integer", compact=True)
                yield Label("Temperature")
                yield Input(str(s.temperature), id="temperature", type="number", compact=True)
                yield Label("Block size (0 = draft's)")
                yield Input(str(s.block_size), id="block_size", type="integer", compact=True)
                yield Label("DFlash")
                yield Switch(s.dflash, id="dflash")
                yield Label("Auto block size")
                yield Switch(s.auto_block, id="auto_block")
            with Grid(classes="settings-grid sampling-grid"):  # two per row, to keep the dialog short
                for label, field, kind in SAMPLING_FIELDS:
                    yield Label(label)
                    yield Input(str(getattr(s, field)), id=field, type=kind, compact=True)
            yield Static("", id="problem", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (Ctrl+S)", variant="primary", id="save", compact=True)
                yield Button("Cancel (Esc)", id="cancel", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        try:
            settings = self._read()
        except ValueError as error:
            self.query_one("#problem", Static).update(str(error))
            return
        self.dismiss(settings)

    def _read(self) -> GenerationSettings:
        def number(field: str, kind, low, high):
            text = self.query_one(f"#{field}", Input).value.strip()
            try:
                value = kind(text)
            except ValueError:
                raise ValueError(f"{field.replace('_', ' ')} must be a number, got “{text}”") from None
            if not low <= value <= high:
                raise ValueError(f"{field.replace('_', ' ')} must be between {low} and {high}, got {value}")
            return value

        return replace(
            self.settings,
            system_prompt=self.query_one("#system_prompt", TextArea).text,
            max_tokens=number("max_tokens", int, 1, 131072),
            temperature=number("temperature", float, 0.0, 5.0),
            block_size=number("block_size", int, 0, 64),
            dflash=self.query_one("#dflash", Switch).value,
            auto_block=self.query_one("#auto_block", Switch).value,
            top_p=number("top_p", float, 0.0, 1.0),
            top_k=number("top_k", int, 0, 1_000_000),
            min_p=number("min_p", float, 0.0, 1.0),
            repetition_penalty=number("repetition_penalty", float, 0.01, 10.0),
            seed=number("seed", int, -1, 2**31 - 1),
        )
