"""Search the Hugging Face Hub for models, with what a user needs to choose one.

Sorted by downloads; each hit carries its size, parameter count and last change,
whether it is a DFlash draft (by name: the hub search does not return configs) and,
for a target, the draft the registry pairs with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from huggingface_hub import HfApi

from .errors import hub_errors
from .registry import registry_draft_for

SEARCH_FIELDS = ["downloads", "lastModified", "usedStorage", "safetensors", "gated", "likes"]


@dataclass(frozen=True)
class HubModel:
    repo_id: str
    downloads: int
    size_bytes: int | None  # storage the repo uses on the hub
    parameters: int | None
    last_modified: datetime | None
    gated: bool

    @property
    def looks_like_draft(self) -> bool:
        return "dflash" in self.repo_id.lower()

    @property
    def known_draft(self) -> str | None:
        """The z-lab draft the registry pairs with this model, if it is a target."""
        return None if self.looks_like_draft else registry_draft_for(self.repo_id)


def search_models(query: str, *, author: str | None = None, limit: int = 20,
                  token: str | bool | None = None) -> list[HubModel]:
    """Models whose id contains query (optionally from one author), most downloaded first."""
    with hub_errors(f"search {query!r}"):
        found = HfApi(token=token).list_models(search=query or None, author=author, sort="downloads",
                                               limit=limit, expand=SEARCH_FIELDS)
        return [
            HubModel(
                repo_id=m.id,
                downloads=m.downloads or 0,
                size_bytes=m.used_storage,
                parameters=m.safetensors.total if m.safetensors else None,
                last_modified=m.last_modified,
                gated=bool(m.gated),
            )
            for m in found
        ]
