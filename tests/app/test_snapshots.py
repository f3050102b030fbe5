"""Each pane at 80x24 and 120x40, compared with tests/app/snapshots/: as text (what a
user reads, reviewable in a diff) and as Textual's SVG screenshot (colours and styles).

No plugin needed. Run with UPDATE_SNAPSHOTS=1 to rewrite them after an intended
change, then review the .txt diff and open the .svg files in a browser.
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


async def settled_screen(pilot) -> tuple[str, str]:
    """(text, svg) of the screen once notifications are gone and the footer (drawn last) is there."""
    pilot.app.clear_notifications()
    await wait_until(pilot, lambda: "palette" in screen_text(pilot.app))
    # On a loaded machine a theme's restyle can land after the text is drawn: wait until two screenshots
    # 0.1 s apart agree (seen once: same text, stale colours).
    shot = pilot.app.export_screenshot(title="dflash-tui")
    for _ in range(30):
        await pilot.pause(0.1)
        previous, shot = shot, pilot.app.export_screenshot(title="dflash-tui")
        if shot == previous:
            break
    return screen_text(pilot.app), shot


def check_snapshot(name: str, screen: tuple[str, str]) -> None:
    for suffix, content in zip((".txt", ".svg"), screen):
        path = SNAPSHOTS / f"{name}{suffix}"
        if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_text(content)
        assert content == path.read_text(), f"{path} differs (UPDATE_SNAPSHOTS=1 rewrites it)"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_each_pane_snapshot(size):
    """Chat after a reply, then the live stats of that reply, then the models pane."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await send(pilot, "Show me a Python function")
        for pane, key in (("chat", "f1"), ("stats", "f3"), ("models", "f2")):
            await pilot.press(key)
            check_snapshot(f"{pane}-{size[0]}x{size[1]}", await settled_screen(pilot))


async def test_reopened_conversation_snapshot():
    first = make_app()
    async with first.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "Show me a Python function")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        check_snapshot("chat-reopened-80x24", await settled_screen(pilot))


async def test_ansi_theme_snapshot():
    """The 16-colour theme for plain SSH terminals."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = "ansi-16"
        await ready(pilot)
        await send(pilot, "Show me a Python function")
        check_snapshot("chat-ansi-80x24", await settled_screen(pilot))
