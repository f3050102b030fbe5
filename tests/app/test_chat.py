"""The chat pane driven through the pilot: real widgets, real SQLite, fake engine."""

import time

from app_helpers import make_app, ready, send, type_text, wait_until

import dflash_tui.demo
from dflash_tui import paths
from dflash_tui.app.chat.message_view import MessageView
from dflash_tui.store import STATUS_COMPLETE, STATUS_STOPPED, Store


async def test_enter_sends_and_the_reply_streams_into_the_log_and_the_database():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "How do I write Python?")
        views = list(app.query(MessageView))
        assert [v.message.role for v in views] == ["user", "assistant"]
        assert "return 42" in views[1].message.content
        [conversation] = app.store.list_conversations()
        assert conversation.title == "How do I write Python?"
        saved = app.store.messages(conversation.id)
        assert saved[1].status == STATUS_COMPLETE and saved[1].stats["generation_tps"] > 0
        assert "tok/s" in str(views[1].query_one(".message-stats").render())


async def test_shift_enter_alt_enter_and_ctrl_j_insert_newlines_instead_of_sending():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await type_text(pilot, "a")
        for key in ("shift+enter", "alt+enter", "ctrl+j"):
            await pilot.press(key)
        assert app.chat.prompt.text == "a\n\n\n"
        assert app.store.list_conversations() == []


async def test_send_and_newline_keys_can_be_swapped_in_settings():
    app = make_app()
    app.settings.chat.send_keys, app.settings.chat.newline_keys = ["ctrl+s"], ["enter"]
    async with app.run_test() as pilot:
        await ready(pilot)
        await type_text(pilot, "line one")
        await pilot.press("enter")
        await type_text(pilot, "line two")
        assert app.chat.prompt.text == "line one\nline two"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: len(app.query(MessageView)) == 2 and not app.chat.generating)
        assert app.query(MessageView).first().message.content == "line one\nline two"


async def test_up_recalls_earlier_prompts_and_down_returns_to_the_draft():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "first")
        await pilot.press("ctrl+n")
        await send(pilot, "second")
        await type_text(pilot, "draft")
        await pilot.press("up")
        assert app.chat.prompt.text == "second"
        await pilot.press("up")
        assert app.chat.prompt.text == "first"
        await pilot.press("down", "down")
        assert app.chat.prompt.text == "draft"
    again = make_app()
    async with again.run_test() as pilot:
        await pilot.press("up")
        assert again.chat.prompt.text == "second"


async def test_escape_stops_generation_and_keeps_the_partial_reply_marked_stopped():
    app = make_app(reply=" ".join(f"word{i}" for i in range(2000)), chunk_delay_s=0.02)
    async with app.run_test() as pilot:
        await ready(pilot)
        await type_text(pilot, "tell me everything")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "word20" in (app.chat.last_message("assistant").content or ""))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.generating)
        reply = app.store.messages(1)[-1]
        assert reply.status == STATUS_STOPPED and reply.content.startswith("word0 word1")
        assert "word1999" not in reply.content
        header = str(app.query(MessageView).last().query_one(".message-header").render())
        assert "stopped" in header


async def test_empty_prompt_is_not_sent_and_the_user_is_told():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await type_text(pilot, "   \n ")
        await pilot.press("enter")
        assert app.told("empty prompt is not sent")
        assert app.store.list_conversations() == []


async def test_a_100000_character_paste_is_refused_with_the_limit_and_stays_in_the_input():
    app = make_app()
    huge = "x" * 100_000
    async with app.run_test() as pilot:
        await ready(pilot)
        await type_text(pilot, huge)
        await pilot.press("enter")
        assert app.told("100,000 characters; the limit is 50,000")
        assert app.chat.prompt.text == huge
        assert app.store.list_conversations() == []


async def test_without_a_model_sending_explains_how_to_get_one_and_keeps_the_text(monkeypatch):
    monkeypatch.setattr(dflash_tui.demo, "demo_available", lambda: False)  # an install without the demo pair
    app = make_app(target=None)
    async with app.run_test() as pilot:
        assert app.told("No model is available yet")
        await type_text(pilot, "hello?")
        await pilot.press("enter")
        assert app.told("No model is loaded") and app.told("dflash-tui --target")
        assert app.chat.prompt.text == "hello?"


async def test_a_model_that_fails_to_load_is_reported_with_its_reason():
    app = make_app(target="/models/missing-model")
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.model.status == "failed")
        assert app.told("does not exist")
        assert "failed to load" in str(app.chat.query_one("#status-line").render())


async def test_regenerate_replaces_the_last_reply():
    engines = []
    app = make_app(engines=engines)
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "question")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(engines[0].requests) == 2 and not app.chat.generating)
        roles = [m.role for m in app.store.messages(1)]
        assert roles == ["user", "assistant"]
        assert engines[0].requests[1]["messages"] == [{"role": "user", "content": "question"}]


async def test_edit_last_takes_the_message_back_into_the_input_and_resend_replaces_it():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "frist try")
        await pilot.press("ctrl+l")
        assert app.chat.prompt.text == "frist try"
        assert app.store.messages(1) == [] and not app.query(MessageView)
        app.chat.prompt.load_text("first try")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.generating and len(app.store.messages(1)) == 2)
        assert app.store.messages(1)[0].content == "first try"


async def test_history_is_mounted_once_and_not_re_rendered_while_a_new_reply_streams():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "one")
        before = list(app.query(MessageView))
        markdown_before = [v.query_one(".message-body") for v in before]
        await send(pilot, "two")
        after = list(app.query(MessageView))
        assert after[:2] == before and [v.query_one(".message-body") for v in after[:2]] == markdown_before


async def test_ui_updates_from_a_fast_decoder_are_coalesced_to_about_20_per_second():
    app = make_app(reply=" ".join(["tok"] * 3000), chunk_delay_s=0.002)
    calls = []
    async with app.run_test() as pilot:
        await ready(pilot)
        original = app.chat.apply_update

        async def counting(update):
            calls.append(update)
            await original(update)

        app.chat.apply_update = counting
        await type_text(pilot, "go")
        started = time.monotonic()
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.generating, timeout_s=20)
        elapsed = time.monotonic() - started
        cycles = sum(len(u.cycles) for u in calls)
        assert cycles > len(calls) * 3  # many decoder cycles per UI update
        assert len(calls) <= 20 * elapsed * 1.25 + 2


async def test_conversations_survive_restarting_the_app():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "remember me")
    again = make_app()
    async with again.run_test() as pilot:
        await pilot.pause()
        contents = [v.message.content for v in again.query(MessageView)]
        assert contents[0] == "remember me" and "return 42" in contents[1]


async def test_a_corrupt_database_is_reported_left_alone_and_the_app_still_chats():
    paths.database_path().parent.mkdir(parents=True)
    paths.database_path().write_bytes(b"garbage" * 100)
    app = make_app()
    async with app.run_test() as pilot:
        assert app.told("damaged") and app.told("in memory only")
        await ready(pilot)
        await send(pilot, "still works")
        assert len(app.query(MessageView)) == 2
        assert "not saving" in str(app.chat.query_one("#status-line").render())
    assert paths.database_path().read_bytes() == b"garbage" * 100


async def test_a_locked_database_keeps_the_prompt_in_the_input_and_says_why():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        import sqlite3
        app.store.connection.execute("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(paths.database_path(), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        await type_text(pilot, "important words")
        await pilot.press("enter")
        assert app.told("locked by another program")
        assert app.chat.prompt.text == "important words"
        other.execute("ROLLBACK")
        other.close()


async def test_quitting_while_a_reply_streams_keeps_the_partial_reply_marked_stopped():
    app = make_app(reply=" ".join(f"word{i}" for i in range(2000)), chunk_delay_s=0.02)
    async with app.run_test() as pilot:
        await ready(pilot)
        await type_text(pilot, "long answer please")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "word5" in (app.chat.last_message("assistant").content or ""))
        await pilot.press("ctrl+q")
    reply = Store.open(paths.database_path()).messages(1)[-1]
    assert reply.status == STATUS_STOPPED and reply.content.startswith("word0 word1 word2 word3 word4 word5")


async def test_a_long_conversation_opens_with_its_newest_messages_and_loads_older_ones_on_request():
    store = Store.open(paths.database_path())
    chat = store.create_conversation("long")
    for i in range(50):
        store.add_message(chat.id, "user", f"question {i}")
    store.close()
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        shown = [v.message.content for v in app.query(MessageView)]
        assert shown == [f"question {i}" for i in range(10, 50)]
        marker = app.query_one("#earlier-messages")
        assert "10 earlier messages" in str(marker.render())
        marker.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.query(MessageView)) == 50 and not marker.display
        assert app.query(MessageView).first().message.content == "question 0"


async def test_a_multi_line_prompt_keeps_its_line_breaks_in_the_log():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await type_text(pilot, "line one")
        await pilot.press("ctrl+j")
        await type_text(pilot, "line two")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.generating and len(app.query(MessageView)) == 2)
        body = str(app.query(MessageView).first().query_one(".message-body").render())
        assert body.splitlines() == ["line one", "line two"]


async def test_text_typed_while_a_prompt_is_being_sent_stays_in_the_input():
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        app.chat.prompt.load_text("first prompt and then more typing")
        await app.chat.send("first prompt")
        assert app.chat.prompt.text == " and then more typing"
        await wait_until(pilot, lambda: not app.chat.generating)
