"""Theme files (TOML, one theme each) turned into Textual themes.

Bundled themes come from the top-level themes/ folder (reached through the
dflash_tui/app/bundled_themes link, which packaging copies as package data); user
themes from the config dir override bundled ones of the same name.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.theme import Theme

from .. import paths


def read_theme(path: Path) -> Theme:
    """Raise ValueError with a user-facing reason when the file is not a valid theme."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
        return Theme(**table)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError, TypeError) as error:
        raise ValueError(f"theme file {path} is invalid ({error}); it was skipped") from error


def load_themes(folders: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Every theme found (later folders win on a name clash) and the problems met on the way."""
    folders = folders if folders is not None else [paths.bundled_themes_dir(), paths.user_themes_dir()]
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in folders:
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                theme = read_theme(path)
            except ValueError as error:
                problems.append(str(error))
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
