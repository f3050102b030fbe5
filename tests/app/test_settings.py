from dflash_tui import paths
from dflash_tui.settings import Settings, load_settings, save_settings


def test_dflash_tui_home_moves_settings_and_conversations(home):
    assert paths.settings_path().is_relative_to(home)
    assert paths.database_path().is_relative_to(home)
    assert paths.user_themes_dir().is_relative_to(home)


def test_missing_settings_file_gives_defaults_without_notice():
    loaded = load_settings()
    assert loaded.settings == Settings() and loaded.notice is None


def test_saved_settings_read_back_identically():
    settings = Settings(theme="dflash-light")
    settings.generation.temperature = 0.7
    settings.chat.newline_keys = ["enter"]
    settings.keys = {"stop": "ctrl+c"}
    save_settings(settings)
    assert load_settings().settings == settings


def test_malformed_toml_gives_defaults_and_a_notice_naming_the_file():
    paths.settings_path().parent.mkdir(parents=True)
    paths.settings_path().write_text("theme = [unclosed")
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert str(paths.settings_path()) in loaded.notice and "default" in loaded.notice


def test_one_bad_value_keeps_the_good_ones_and_names_the_bad_one():
    paths.settings_path().parent.mkdir(parents=True)
    paths.settings_path().write_text('theme = "dflash-light"\n[generation]\nmax_tokens = "lots"\ntemperature = 1\n')
    loaded = load_settings()
    assert loaded.settings.theme == "dflash-light"
    assert loaded.settings.generation.temperature == 1.0
    assert loaded.settings.generation.max_tokens == 512
    assert "generation.max_tokens" in loaded.notice


def test_saving_over_an_invalid_file_keeps_it_as_backup():
    paths.settings_path().parent.mkdir(parents=True)
    paths.settings_path().write_text("my hand-written = [broken")
    save_settings(Settings(), keep_backup=True)
    backup = paths.settings_path().with_name("settings.toml.bak")
    assert backup.read_text() == "my hand-written = [broken"
    assert load_settings().notice is None
