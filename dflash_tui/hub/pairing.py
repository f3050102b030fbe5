"""Find the draft for a target (the user's override first, then the registry) and check a pair.

Checks run on config.json files already on disk, through compat.check_pair, so the
answer comes before any weight is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..compat import check_pair
from .describe import read_config
from .pair_overrides import load_pair_overrides
from .registry import registry_draft_for


@dataclass(frozen=True)
class DraftChoice:
    target: str
    draft: str
    source: str  # "override" or "registry"


def draft_for(target: str) -> DraftChoice | None:
    """The draft to use with target, or None when neither the user nor the registry names one."""
    override = load_pair_overrides().get(target)
    if override:
        return DraftChoice(target, override, "override")
    known = registry_draft_for(target)
    return DraftChoice(target, known, "registry") if known else None


def check_local_pair(target_dir: Path, draft_dir: Path, target_name: str | None = None) -> list[str]:
    """check_pair on the config.json files of two model folders."""
    return check_pair(read_config(target_dir), read_config(draft_dir), target_name=target_name)
