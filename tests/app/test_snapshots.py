"""Each pane at 80x24 and 120x40, compared as text with tests/app/snapshots/*.txt.

Text (what a user reads) rather than SVG keeps the files reviewable in a diff and
free of a plugin; colours are covered by the theme tests. Run with
UPDATE_SNAPSHOTS=1 to rewrite them after an intended change, then review the diff.
"""

import os
from pathlib import Path

import pytest
from app_helpers import make_app, ready, screen_text, send, wait_until

import dflash_tui.demo

SNAPSHOTS = Path(__file__).parent / "snapshots"
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def without_demo_pair(monkeypatch):
    """The models list would otherwise change whenever the demo pair is retrained."""
    monkeypatch.setattr(dflash_tui.demo, "demo_available", lambda: False)


async def settled_screen(pilot) -> str:
    """The screen once notifications are gone and the footer (drawn last) is there."""
    pilot.app.clear_notifications()
    await wait_until(pilot, lambda: "palette" in screen_text(pilot.app))
    await pilot.pause(0.1)
    return screen_text(pilot.app)


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs (UPDATE_SNAPSHOTS=1 rewrites it)"


async def _screen_after_a_reply(size, pane_key):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await send(pilot, "Show me a Python function")
        await pilot.press(pane_key)
        return await settled_screen(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_chat_pane_snapshot(size):
    check_snapshot(f"chat-{size[0]}x{size[1]}", await _screen_after_a_reply(size, "f1"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_stats_pane_snapshot(size):
    check_snapshot(f"stats-{size[0]}x{size[1]}", await _screen_after_a_reply(size, "f3"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_models_pane_snapshot(size):
    check_snapshot(f"models-{size[0]}x{size[1]}", await _screen_after_a_reply(size, "f2"))


async def test_reopened_conversation_snapshot():
    first = make_app()
    async with first.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "Show me a Python function")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        check_snapshot("chat-reopened-80x24", await settled_screen(pilot))
