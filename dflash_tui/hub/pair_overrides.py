"""The user's own target -> draft choices, kept in draft_pairs.toml under the data dir.

Keyed by the target exactly as the user named it (repo id or path). A file that
cannot be read is never overwritten: the error names it and says how to fix it.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

import tomli_w

from .. import paths
from .errors import PairOverridesInvalid


def overrides_path() -> Path:
    return paths.data_dir() / "draft_pairs.toml"


def load_pair_overrides() -> dict[str, str]:
    path = overrides_path()
    if not path.exists():
        return {}
    try:
        pairs = tomllib.loads(path.read_text()).get("pairs", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PairOverridesInvalid(f"cannot read {path} ({error}): fix or delete that file") from error
    if not isinstance(pairs, dict) or not all(isinstance(v, str) for v in pairs.values()):
        raise PairOverridesInvalid(f'{path}: [pairs] must map target names to draft names, e.g. '
                                   f'"mlx-community/Qwen3-8B-4bit" = "z-lab/Qwen3-8B-DFlash-b16"; fix or delete it')
    return pairs


def set_pair_override(target: str, draft: str | None) -> None:
    """Pair target with draft from now on; draft=None forgets the override."""
    pairs = load_pair_overrides()
    if draft is None:
        pairs.pop(target, None)
    else:
        pairs[target] = draft
    path = overrides_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tomli_w.dump({"pairs": pairs}, tmp)
    os.replace(tmp.name, path)
