"""The whole path on the real engine: type, stream, live stats, Esc, persisted, reloaded."""

import time

from dflash_tui.app.app import DflashApp
from dflash_tui.app.chat.message_view import MessageView
from dflash_tui.service import DecoderService
from dflash_tui.settings import Settings, save_settings
from dflash_tui.store import STATUS_STOPPED


async def wait_until(pilot, condition, timeout_s):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def test_a_prompt_streams_on_the_real_engine_stops_with_escape_and_survives_a_restart(tiny_pair):
    target, draft = tiny_pair
    settings = Settings()
    settings.generation.max_tokens = 5000  # long enough that Esc, not the limit, ends the reply
    settings.generation.auto_block = False  # a random draft: the policy would (rightly) pick plain decoding
    save_settings(settings)
    service = DecoderService()
    app = DflashApp(service, target=str(target), draft=str(draft))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.model.ready, 120)
            assert app.model.draft == str(draft)
            app.chat.prompt.insert("hello there")
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.stats_pane.reply and len(app.stats_pane.reply.tps_series) >= 3, 60)
            reply_view = app.query(MessageView).last()
            streamed = reply_view.message.content
            assert streamed and app.chat.generating
            assert app.stats_pane.reply.current_tps > 0 and app.stats_pane.reply.mode == "dflash"
            await pilot.press("escape")
            await wait_until(pilot, lambda: not app.chat.generating, 30)
            [user, reply] = app.store.messages(1)
            assert user.content == "hello there"
            assert reply.status == STATUS_STOPPED and reply.content.startswith(streamed)
            assert reply.stats["stop_reason"] == "cancelled" and 0 < reply.stats["generated_tokens"] < 5000
            assert app.stats_pane.reply.summary.stop_reason == "cancelled"
    finally:
        service.shutdown()

    restarted_service = DecoderService()
    again = DflashApp(restarted_service, target=str(target), draft=str(draft))
    try:
        async with again.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            views = list(again.query(MessageView))
            assert [v.message.content for v in views] == [user.content, reply.content]
            assert "stopped" in str(views[1].query_one(".message-header").render())
    finally:
        restarted_service.shutdown()


async def test_with_no_model_chosen_the_embedded_demo_pair_loads_and_answers():
    service = DecoderService()
    app = DflashApp(service)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.model.ready, 120)
            assert (app.model.target.endswith("demo/target") and app.model.draft.endswith("demo/draft"))
            assert "embedded demo pair" in str(app.chat.query_one("#status-line").render())  # says so on screen
            app.chat.prompt.insert("How do I list files in a directory?")
            await pilot.press("enter")
            await wait_until(pilot, lambda: not app.chat.generating, 120)
            reply = app.store.messages(1)[-1]
            assert reply.status == "complete" and reply.content.strip()
            assert reply.stats["mode"] in ("dflash", "plain") and reply.stats["generated_tokens"] > 0
    finally:
        service.shutdown()
