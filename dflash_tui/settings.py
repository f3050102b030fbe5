"""User settings: a TOML file read with tomllib, written atomically with tomli-w.

A broken or partly invalid file never stops the app: every bad value falls back
to its default and `load_settings` returns a notice that says which and why.
The broken file itself is kept (backed up before the first save over it).
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import tomli_w

from . import paths

DEFAULT_THEME = "dflash-dark"


@dataclass
class GenerationSettings:
    """How replies are generated; each conversation keeps its own copy."""

    max_tokens: int = 512
    temperature: float = 0.0
    block_size: int = 0  # 0: the draft's own block size
    dflash: bool = True
    auto_block: bool = True  # the drafting policy picks the block size per cycle, plain decoding included
    system_prompt: str = ""
    top_p: float = 1.0  # 1 = off
    top_k: int = 0  # 0 = off
    min_p: float = 0.0  # 0 = off
    repetition_penalty: float = 1.0  # 1 = off
    seed: int = -1  # -1 = a fresh random seed per reply; >= 0: the same text for the same prompt, in every mode

    def sampling_kwargs(self) -> dict:
        """The engine's sampling arguments (Engine.generate keywords)."""
        return {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k, "min_p": self.min_p,
                "repetition_penalty": self.repetition_penalty, "seed": None if self.seed < 0 else self.seed}


@dataclass
class ChatSettings:
    send_keys: list[str] = field(default_factory=lambda: ["enter"])
    # ctrl+j first: it works in every terminal; shift+enter and alt+enter only arrive as such where the
    # terminal reports them (kitty keyboard protocol), elsewhere they are a plain enter
    newline_keys: list[str] = field(default_factory=lambda: ["ctrl+j", "shift+enter", "alt+enter"])
    show_conversations: bool = True
    max_prompt_chars: int = 50_000  # longer prompts are refused with a message (and kept in the input)


@dataclass
class ModelSettings:
    target: str = ""  # path or repo id; empty: the embedded demo pair
    draft: str = ""  # empty: proposed automatically for known targets
    folders: list[str] = field(default_factory=list)  # user-added model folders


@dataclass
class Settings:
    theme: str = DEFAULT_THEME
    chat: ChatSettings = field(default_factory=ChatSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. {"stop": "escape,ctrl+c"}


@dataclass
class LoadedSettings:
    settings: Settings
    notice: str | None  # a message for the user when something in the file was wrong
    file_was_invalid: bool = False


def _check_value(name: str, value, default):
    """Return value when it has the default's type, else raise ValueError naming what is expected."""
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name} must be a list of strings")
        return value
    if expected is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError(f"{name} must be a table of strings")
        return value
    if type(value) is not expected:
        raise ValueError(f"{name} must be {expected.__name__}, got {value!r}")
    return value


def _fill(instance, table: dict, prefix: str, problems: list[str]):
    known = {f.name for f in fields(instance)}
    for key in table:
        if key not in known:
            problems.append(f"unknown setting {prefix}{key}")
    for f in fields(instance):
        if f.name not in table:
            continue
        current = getattr(instance, f.name)
        value = table[f.name]
        if hasattr(current, "__dataclass_fields__"):
            if isinstance(value, dict):
                _fill(current, value, f"{prefix}{f.name}.", problems)
            else:
                problems.append(f"[{prefix}{f.name}] must be a table")
            continue
        try:
            setattr(instance, f.name, _check_value(prefix + f.name, value, current))
        except ValueError as error:
            problems.append(str(error))
    return instance


def settings_from_dict(table: dict) -> tuple[Settings, list[str]]:
    problems: list[str] = []
    settings = _fill(Settings(), table, "", problems)
    return settings, problems


def load_settings(path: Path | None = None) -> LoadedSettings:
    path = path or paths.settings_path()
    if not path.exists():
        return LoadedSettings(Settings(), None)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
        return LoadedSettings(
            Settings(),
            f"{path} could not be read ({error}); using default settings. "
            f"Fix the file, or change a setting here to replace it (the old file is kept as {path.name}.bak).",
            file_was_invalid=True,
        )
    settings, problems = settings_from_dict(table)
    if not problems:
        return LoadedSettings(settings, None)
    return LoadedSettings(
        settings,
        f"{path}: " + "; ".join(problems) + ". Defaults are used for those values.",
        file_was_invalid=True,
    )


def save_settings(settings: Settings, path: Path | None = None, *, keep_backup: bool = False) -> None:
    """Write atomically (temp file + rename); with keep_backup the previous file becomes settings.toml.bak."""
    path = path or paths.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if keep_backup and path.exists():
        os.replace(path, path.with_name(path.name + ".bak"))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".toml")
    try:
        with os.fdopen(fd, "wb") as out:
            tomli_w.dump(asdict(settings), out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
