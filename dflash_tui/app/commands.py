"""The command palette (Ctrl+P): every app action by name, with its key.

Titles are what users type to find an action; the key shown is the binding's
current key, so a remapped key in settings.toml shows up here too.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Iterator

from textual.app import SystemCommand

if TYPE_CHECKING:
    from .app import DflashApp

COMMANDS: tuple[tuple[str, str, str], ...] = (
    # (title, help, action)
    ("New conversation", "Start an empty chat", "new_conversation"),
    ("Rename conversation", "Rename the open (or highlighted) conversation", "rename_conversation"),
    ("Delete conversation", "Delete the open (or highlighted) conversation, after confirmation",
     "delete_conversation"),
    ("Search conversations", "Full-text search across every conversation", "search"),
    ("Load earlier messages", "Show older messages of a long conversation", "load_earlier"),
    ("Toggle conversation list", "Show or hide the sidebar", "toggle_sidebar"),
    ("Stop generating", "Stop the reply and keep what was generated", "stop"),
    ("Regenerate last reply", "Discard the last reply and generate it again", "regenerate"),
    ("Edit last message", "Take your last message back into the input box to resend it", "edit_last"),
    ("Chat settings", "System prompt, max tokens, temperature, block size, DFlash on/off", "generation_settings"),
    ("Copy reply", "Copy the focused (or last) reply to the clipboard", "copy_message"),
    ("Copy code block", "Copy the last code block of the focused (or last) reply", "copy_code"),
    ("Export conversation", "Write the conversation as Markdown and JSON to the current folder", "export"),
    ("Measure speedup vs plain decoding", "Rerun the last prompt without DFlash and compare tok/s", "compare"),
    ("Show chat", "The chat pane", "show_pane('chat')"),
    ("Show models", "Choose, download and delete models", "show_pane('models')"),
    ("Show live stats", "tok/s, acceptance, phases, speedup", "show_pane('stats')"),
)

MODEL_COMMANDS: tuple[tuple[str, str, str], ...] = (
    # run on the models pane, like its own keys
    ("Use highlighted model as target", "Its draft is proposed when one fits", "choose_target"),
    ("Use highlighted model as draft", "Refused with the reason when it does not fit the target", "choose_draft"),
    ("Load chosen model pair", "Load on the decoder thread, with progress", "load"),
    ("Pull a model from the hub", "The highlighted search result or the typed repo id", "pull"),
    ("Cancel the download", "Partial files stay; pulling again resumes", "cancel_pull"),
    ("Delete highlighted model", "Shows the space freed and asks first", "delete_model"),
    ("Search the hub", "Find models and DFlash drafts on Hugging Face", "focus_search"),
    ("Refresh local models", "Rescan the Hugging Face cache and your folders", "refresh"),
    ("Add a model folder", "List the models in a folder of yours too (kept in settings.toml)", "add_folder"),
)


def _key_for(app: "DflashApp", node, action: str) -> str:
    for _, binding in node._bindings:
        if binding.action == action:
            return app.get_key_display(binding)
    return ""


def app_commands(app: "DflashApp") -> Iterator[SystemCommand]:
    for node, commands in ((app, COMMANDS), (app.models_pane, MODEL_COMMANDS)):
        for title, help_text, action in commands:
            key = _key_for(app, node, action)
            yield SystemCommand(f"{title} ({key})" if key else title, help_text,
                                partial(app.run_action, action, node))
