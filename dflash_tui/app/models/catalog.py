"""The local models as the pane shows them: which drafts fit which targets (no Textual).

Built in a worker thread: it reads every model's config once and checks every
draft against every target with dflash_tui.hub (check_pair underneath).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...hub.local import LocalModel, list_local_models, resolve_local
from ...hub.pairing import check_local_pair, draft_for
from ..model_state import short_name


@dataclass(frozen=True)
class CatalogEntry:
    key: str  # unique row key (the folder)
    model: LocalModel

    @property
    def display_name(self) -> str:
        """The repo id for the HF cache; the last two parts of a folder's path (paths are long)."""
        return short_name(str(self.model.path)) if self.model.source == "folder" else self.model.name


@dataclass
class Catalog:
    entries: list[CatalogEntry]
    fits: dict[str, list[str]] = field(default_factory=dict)  # key -> keys of the models it pairs with
    problems: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (target, draft) -> reasons

    def by_key(self, key: str) -> CatalogEntry | None:
        return next((e for e in self.entries if e.key == key), None)

    def pair_problems(self, target: CatalogEntry, draft: CatalogEntry) -> list[str]:
        return self.problems.get((target.key, draft.key), ["not a target/draft pair"])

    def fits_text(self, entry: CatalogEntry) -> str:
        names = [self.by_key(k).display_name for k in self.fits.get(entry.key, [])]
        if entry.model.description.kind == "draft":
            return "fits " + ", ".join(names) if names else "no local target"
        if entry.model.description.kind == "target":
            return "drafts: " + ", ".join(names) if names else "no local draft"
        return entry.model.description.problem or ""

    def proposed_draft(self, target: CatalogEntry) -> CatalogEntry | None:
        """The registry's (or the user's) draft for this target when it is here, else the first that fits."""
        choice = draft_for(target.model.name)
        fitting = [self.by_key(k) for k in self.fits.get(target.key, [])]
        named = [e for e in fitting if choice and e.model.name == choice.draft]
        return (named or fitting or [None])[0]


def build_catalog(folders: list[str]) -> Catalog:
    """Every local model: the HF cache, the user's folders and the embedded demo pair."""
    demo_target, _ = demo_pair()
    demo_folder = [str(Path(demo_target).parent)] if demo_target else []
    entries = [CatalogEntry(str(m.path), m) for m in list_local_models([*folders, *demo_folder])]
    targets = [e for e in entries if e.model.description.kind == "target"]
    drafts = [e for e in entries if e.model.description.kind == "draft"]
    catalog = Catalog(entries)
    for target in targets:
        for draft in drafts:
            try:
                problems = check_local_pair(target.model.path, draft.model.path, target.model.name)
            except (OSError, ValueError) as error:
                problems = [f"unreadable config: {error}"]
            catalog.problems[(target.key, draft.key)] = problems
            if not problems:
                catalog.fits.setdefault(target.key, []).append(draft.key)
                catalog.fits.setdefault(draft.key, []).append(target.key)
    return catalog


def propose_draft(target: str) -> str | None:
    """The known draft for a target given by name, when it is already on this machine."""
    choice = draft_for(target)
    return choice.draft if choice and resolve_local(choice.draft) else None


def demo_pair() -> tuple[str | None, str | None]:
    """The embedded demo pair, or (None, None) while this install has none."""
    try:
        from ...demo import demo_available, demo_draft_path, demo_target_path
    except ImportError:
        return None, None
    if not demo_available():
        return None, None
    return str(demo_target_path()), str(demo_draft_path())
