"""Remove a model from the Hugging Face cache, after showing what it will free.

Two steps so a caller can ask for confirmation in between: `plan_removal` says
which revisions go and how many bytes that frees, `remove` does it. Partial
downloads of the repo go too, when all of its revisions do.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import DeleteCacheStrategy

from .errors import NotCached
from .local import scan_hf_cache


@dataclass(frozen=True)
class RemovalPlan:
    repo_id: str
    revisions: tuple[str, ...]  # commit hashes
    freed_bytes: int
    repo_path: Path
    strategy: DeleteCacheStrategy | None  # None when only partial downloads are left


def plan_removal(repo_id: str, revisions: list[str] | None = None,
                 cache_dir: str | Path | None = None) -> RemovalPlan:
    """What removing repo_id (all cached revisions, or the given ones) would free; raises NotCached."""
    cache = scan_hf_cache(cache_dir)
    repo = next((r for r in cache.repos if r.repo_id == repo_id and r.repo_type == "model"), None) if cache else None
    if repo is None:
        raise NotCached(f"{repo_id} is not in the Hugging Face cache: `dflash-tui models list` shows what is")
    chosen = [r for r in repo.revisions
              if revisions is None or any(r.commit_hash.startswith(prefix) for prefix in revisions)]
    if revisions and not chosen:
        known = ", ".join(r.commit_hash[:12] for r in repo.revisions)
        raise NotCached(f"{repo_id} has no cached revision {', '.join(revisions)}; cached: {known or 'none'}")
    strategy = cache.delete_revisions(*(r.commit_hash for r in chosen)) if chosen else None
    freed = strategy.expected_freed_size if strategy else 0
    if len(chosen) == len(repo.revisions):
        freed += sum(p.stat().st_size for p in (repo.repo_path / "blobs").glob("*.incomplete"))
    return RemovalPlan(repo_id, tuple(r.commit_hash for r in chosen), freed, repo.repo_path, strategy)


def remove(plan: RemovalPlan) -> int:
    """Carry out the plan; return the bytes freed."""
    if plan.strategy is not None:
        plan.strategy.execute()
    if plan.repo_path.exists() and not any((plan.repo_path / "snapshots").glob("*")):
        shutil.rmtree(plan.repo_path)
    return plan.freed_bytes
