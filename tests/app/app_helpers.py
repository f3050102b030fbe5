"""Shared by the app tests: a running app over the fake engine, and the screen as text."""

from __future__ import annotations

import io
import time

from rich.console import Console

from dflash_tui.app.app import DflashApp
from dflash_tui.fake_engine import FakeEngine
from dflash_tui.service import DecoderService


class RecordingApp(DflashApp):
    """The real app, remembering every notification so tests can read what the user was told."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.notices: list[str] = []

    def notify(self, message, *args, **kwargs):
        self.notices.append(str(message))
        super().notify(message, *args, **kwargs)

    def told(self, fragment: str) -> bool:
        return any(fragment in notice for notice in self.notices)


def make_app(reply: str | None = None, chunk_delay_s: float = 0.0, target: str | None = "fake-target",
             draft: str | None = "fake-draft", engines: list | None = None) -> RecordingApp:
    """An app over the real service with a FakeEngine; engines collects every engine it loads."""
    kwargs = {"chunk_delay_s": chunk_delay_s} | ({"reply": reply} if reply is not None else {})
    load = FakeEngine.loader(**kwargs)

    def loader(*args):
        engine = load(*args)
        if engines is not None:
            engines.append(engine)
        return engine

    return RecordingApp(DecoderService(loader), target=target, draft=draft)


async def wait_until(pilot, condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


async def ready(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.model.ready)


async def send(pilot, text: str) -> None:
    """Type a prompt, press Enter and wait until the reply is finished."""
    await type_text(pilot, text)
    await pilot.press("enter")
    await wait_until(pilot, lambda: not pilot.app.chat.generating)
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.pause()


def screen_text(app) -> str:
    """The screen as plain text (what a user reads), for snapshots and assertions."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
