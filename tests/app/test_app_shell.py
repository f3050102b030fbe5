"""Themes, settings, key remapping, the command palette and the live-stats pane."""

from app_helpers import make_app, ready, send, wait_until

from dflash_tui import paths
from dflash_tui.app.themes import load_themes
from dflash_tui.settings import load_settings


def test_bundled_themes_include_a_dark_a_light_and_an_ansi_only_one():
    themes, problems = load_themes()
    by_name = {t.name: t for t in themes}
    assert problems == []
    assert by_name["dflash-dark"].dark and not by_name["dflash-light"].dark
    ansi = by_name["ansi-16"]
    colours = [ansi.primary, ansi.secondary, ansi.accent, ansi.background, ansi.foreground, ansi.error]
    assert ansi.ansi and all(c.startswith("ansi_") for c in colours)


def test_a_user_theme_file_is_loaded_and_a_broken_one_is_reported(home):
    paths.user_themes_dir().mkdir(parents=True)
    (paths.user_themes_dir() / "mine.toml").write_text('name = "mine"\nprimary = "#ff0000"\n')
    (paths.user_themes_dir() / "broken.toml").write_text('name = "broken"\nprimry = "#ff0000"\n')
    themes, problems = load_themes()
    assert "mine" in {t.name for t in themes}
    assert len(problems) == 1 and "broken.toml is invalid" in problems[0]


async def test_the_chosen_theme_is_applied_and_persists_across_restarts():
    app = make_app()
    async with app.run_test() as pilot:
        assert app.theme == "dflash-dark"
        app.theme = "ansi-16"
        await pilot.pause()
    assert load_settings().settings.theme == "ansi-16"
    again = make_app()
    async with again.run_test():
        assert again.theme == "ansi-16"


async def test_an_invalid_settings_file_gives_a_notice_and_the_app_starts_with_defaults():
    paths.settings_path().parent.mkdir(parents=True)
    paths.settings_path().write_text("theme = = broken")
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        assert app.told("could not be read") and app.theme == "dflash-dark"
        await send(pilot, "still chatting")


async def test_an_unknown_theme_name_falls_back_with_a_notice():
    paths.settings_path().parent.mkdir(parents=True)
    paths.settings_path().write_text('theme = "no-such-theme"')
    app = make_app()
    async with app.run_test() as pilot:
        assert app.told("“no-such-theme” is not installed") and app.theme == "dflash-dark"
        await pilot.pause()
    assert paths.settings_path().read_text() == 'theme = "no-such-theme"'  # not rewritten behind the user


async def test_key_bindings_can_be_remapped_in_settings():
    paths.settings_path().parent.mkdir(parents=True)
    paths.settings_path().write_text('[keys]\n"pane.stats" = "f9"\n')
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("f9")
        await pilot.pause()
        assert app.query_one("TabbedContent").active == "stats-tab"


async def test_the_command_palette_offers_every_chat_and_model_action():
    app = make_app()
    async with app.run_test() as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("New conversation", "Delete conversation", "Search conversations", "Export conversation",
                       "Regenerate last reply", "Measure speedup vs plain decoding", "Copy code block",
                       "Load chosen model pair", "Pull a model from the hub", "Delete highlighted model"):
            assert any(t.startswith(wanted) for t in titles), wanted
        assert "Regenerate last reply (^r)" in titles and "Load chosen model pair (l)" in titles


async def test_function_keys_switch_between_the_three_panes():
    app = make_app()
    async with app.run_test() as pilot:
        tabs = app.query_one("TabbedContent")
        for key, pane in (("f3", "stats-tab"), ("f2", "models-tab"), ("f1", "chat-tab")):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == pane


async def test_live_stats_show_the_reply_speed_acceptance_and_phases():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "measure me")
        await pilot.press("f3")
        await pilot.pause()
        stats = app.stats_pane
        assert stats.reply.summary is not None
        assert str(stats.query_one("#average-tps").value) == f"{stats.reply.summary.generation_tps:.1f}"
        assert "τ 7.50" in str(stats.query_one("#acceptance-line").render())
        assert "verify" in str(stats.query_one("#phase-line").render())
        assert sum(stats.reply.histogram) == stats.reply.summary.cycles


async def test_ctrl_t_measures_plain_decoding_on_the_last_prompt_and_shows_the_speedup():
    engines = []
    app = make_app(engines=engines)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "compare me")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: app.stats_pane.plain_tps is not None)
        assert engines[0].requests[-1]["mode"] == "plain"
        assert engines[0].requests[-1]["messages"] == [{"role": "user", "content": "compare me"}]
        await pilot.pause()
        assert "× vs plain decoding" in str(app.stats_pane.query_one("#speedup-line").render())
        assert len(app.store.messages(1)) == 2  # the comparison run is not added to the chat


async def test_a_command_chosen_in_the_palette_runs_its_action():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"live stats")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query_one("TabbedContent").active == "stats-tab")


async def test_a_reopened_conversation_shows_its_last_reply_stats_and_a_focused_reply_its_own():
    first = make_app()
    async with first.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "first question")
        await send(pilot, "second question")
        saved = [m.stats for m in first.store.messages(1) if m.stats]
    again = make_app()
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        stats = again.stats_pane
        assert stats.reply.summary.generated_tokens == saved[-1]["generated_tokens"]
        assert "τ 7.50" in str(stats.query_one("#acceptance-line").render())
        first_reply = again.chat.query("MessageView")[1]
        first_reply.message.stats = {**saved[0], "generated_tokens": 99}  # tell the two replies apart
        first_reply.focus()
        await pilot.pause()
        assert stats.reply.generated_tokens == 99


async def test_the_palette_opens_from_inside_a_dialog_without_the_pane_commands():
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("ctrl+g")
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles and not any(t.startswith("Load chosen model pair") for t in titles)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"


async def test_escape_stops_a_running_comparison():
    app = make_app(reply=" ".join(["word"] * 3000), chunk_delay_s=0.02)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.settings.generation.max_tokens = 2
        await send(pilot, "short")
        app.chat.conversation.generation.max_tokens = 3000
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: app.stats_pane.comparing and app.stats_pane.comparison.generated_tokens)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.stats_pane.comparing)
        assert "stopped" in str(app.stats_pane.query_one("#speedup-line").render())
