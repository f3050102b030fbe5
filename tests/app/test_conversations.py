"""Conversation list, per-conversation settings, copy and export, through the pilot."""

import json

from app_helpers import make_app, ready, send, wait_until

from dflash_tui.app.chat.message_view import MessageView
from dflash_tui.app.dialogs import ConfirmScreen, GenerationSettingsScreen, TextPromptScreen


async def test_new_conversation_starts_empty_and_keeps_the_old_one_in_the_list():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "first chat")
        await pilot.press("ctrl+n")
        assert not app.query(MessageView) and app.chat.conversation is None
        await send(pilot, "second chat")
        titles = [c.title for c in app.store.list_conversations()]
        assert titles == ["second chat", "first chat"]
        assert len(app.query("#conversations ListItem")) == 2


async def test_rename_asks_for_a_name_and_updates_the_list():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "untitled thoughts")
        app.action_rename_conversation()
        await pilot.pause()
        assert isinstance(app.screen, TextPromptScreen)
        app.screen.query_one("Input").value = "Better name"
        await pilot.press("enter")
        await pilot.pause()
        assert app.store.list_conversations()[0].title == "Better name"
        assert "Better name" in str(app.query_one("#conversations ListItem Label").render())


async def test_delete_asks_for_confirmation_and_cancel_keeps_everything():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "keep me")
        app.action_delete_conversation()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "2 messages" in str(app.screen.query_one(".dialog-question").render())
        await pilot.press("escape")
        assert len(app.store.list_conversations()) == 1
        app.action_delete_conversation()
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: app.store.list_conversations() == [])
        assert not app.query(MessageView)


async def test_delete_key_in_the_list_targets_the_highlighted_conversation():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "older")
        await pilot.press("ctrl+n")
        await send(pilot, "newer")
        app.query_one("#conversations").focus()
        await pilot.press("down")  # highlight "older"
        await pilot.press("d")
        await pilot.pause()
        assert "older" in str(app.screen.query_one(".dialog-question").render())
        await pilot.press("y")
        await wait_until(pilot, lambda: [c.title for c in app.store.list_conversations()] == ["newer"])


async def test_search_finds_text_in_any_conversation_and_opens_it():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "about zebras")
        await pilot.press("ctrl+n")
        await send(pilot, "about lions")
        await pilot.press("ctrl+f")
        await pilot.press(*"zebra")
        await wait_until(pilot, lambda: len(app.query("#conversations ListItem")) >= 1
                         and "zebras" in str(app.query_one("#conversations ListItem .title").render()))
        await pilot.press("enter")  # from the search box into the results
        await pilot.press("enter")  # open the highlighted hit
        await wait_until(pilot, lambda: app.chat.conversation.title == "about zebras")
        assert app.query(MessageView).first().message.content == "about zebras"


async def test_conversation_list_collapses_and_the_choice_persists():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("ctrl+b")
        assert not app.query_one("#sidebar").display
    again = make_app()
    async with again.run_test() as pilot:
        assert not again.query_one("#sidebar").display


async def test_chat_settings_are_kept_per_conversation_and_reach_the_engine():
    engines = []
    app = make_app(engines=engines)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await pilot.press("ctrl+g")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, GenerationSettingsScreen)
        screen.query_one("#system_prompt").load_text("You are terse.")
        screen.query_one("#max_tokens").value = "7"
        screen.query_one("#temperature").value = "0.5"
        screen.query_one("#top_p").value = "0.9"
        screen.query_one("#seed").value = "42"
        screen.query_one("#dflash").value = False
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "plain" in str(app.chat.query_one("#status-line").render())
        await send(pilot, "again")
        request = engines[0].requests[-1]
        assert (request["mode"], request["max_tokens"], request["temperature"]) == ("plain", 7, 0.5)
        assert (request["sampling"]["top_p"], request["sampling"]["seed"]) == (0.9, 42)
        assert "seed 42" in str(app.chat.query_one("#status-line").render())
        assert request["messages"][0] == {"role": "system", "content": "You are terse."}
        await pilot.press("ctrl+n")
        await send(pilot, "fresh")
        assert engines[0].requests[-1]["mode"] == "auto"  # a new conversation: DFlash with the drafting policy
        assert app.store.list_conversations()[1].generation.max_tokens == 7


async def test_an_invalid_chat_setting_is_explained_and_nothing_is_saved():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await pilot.press("ctrl+g")
        await pilot.pause()
        app.screen.query_one("#max_tokens").value = "-5"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "max tokens must be between 1 and" in str(app.screen.query_one("#problem").render())
        app.screen.query_one("#max_tokens").value = "64"
        app.screen.query_one("#top_p").value = "1.5"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "top p must be between 0.0 and 1.0" in str(app.screen.query_one("#problem").render())
        await pilot.press("escape")
        assert app.store.list_conversations()[0].generation.max_tokens == 512


async def test_copy_code_puts_only_the_last_code_block_on_the_clipboard():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "code please")
        await pilot.press("f8")
        assert app.clipboard == "def main():\n    return 42\n"
        await pilot.press("f5")
        assert app.clipboard.startswith("Here is a **short** answer.")


async def test_copy_keys_on_a_focused_message_copy_that_message():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "my own words")
        app.query(MessageView).first().focus()
        await pilot.press("c")
        assert app.clipboard == "my own words"


async def test_export_writes_markdown_and_json_of_the_conversation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "export me")
        await pilot.press("ctrl+s")
    markdown = (tmp_path / "export-me-1.md").read_text()
    assert markdown.startswith("# export me") and "## You\n\nexport me" in markdown and "tok/s" in markdown
    data = json.loads((tmp_path / "export-me-1.json").read_text())
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]


async def test_actions_on_a_locked_database_say_so_and_change_nothing():
    import sqlite3

    from dflash_tui import paths

    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "keep this")
        app.store.connection.execute("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(paths.database_path(), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("ctrl+l")
        await pilot.pause()
        app.action_delete_conversation()
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.told("locked by another program") and app.told("Nothing was changed")
        assert len(app.query(MessageView)) == 2 and app.chat.conversation is not None
        other.execute("ROLLBACK")
        other.close()
        assert [m.content for m in app.store.messages(1)][0] == "keep this"
