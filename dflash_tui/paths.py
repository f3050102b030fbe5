"""Where dflash-tui keeps its files, decided in one place.

Settings and user themes live in the user config dir, conversations in the
user data dir (platformdirs). DFLASH_TUI_HOME moves all of it under one folder,
which is what tests and portable installs use.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP_NAME = "dflash-tui"
HOME_ENV = "DFLASH_TUI_HOME"


def _home_override() -> Path | None:
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    home = _home_override()
    return home / "config" if home else user_config_path(APP_NAME)


def data_dir() -> Path:
    home = _home_override()
    return home / "data" if home else user_data_path(APP_NAME)


def settings_path() -> Path:
    return config_dir() / "settings.toml"


def database_path() -> Path:
    return data_dir() / "conversations.sqlite3"


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def bundled_themes_dir() -> Path:
    """The themes shipped with the app (dflash_tui/app/bundled_themes links to the top-level themes/)."""
    return Path(__file__).parent / "app" / "bundled_themes"
