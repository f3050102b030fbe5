"""Models already on this machine: the Hugging Face cache and the folders the user added.

A user folder may be a model itself (it has config.json) or hold one model per
subfolder. Each cached revision of a repo is its own entry, since each is a
separate snapshot folder on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CacheNotFound, HFCacheInfo, constants, scan_cache_dir, try_to_load_from_cache

from .describe import ModelDescription, describe_model


@dataclass(frozen=True)
class LocalModel:
    name: str  # repo id for the HF cache, the folder path otherwise
    path: Path  # the folder to load
    source: str  # "hf-cache" or "folder"
    revision: str | None  # commit hash (HF cache only)
    refs: tuple[str, ...]  # branch names pointing at the revision, e.g. ("main",)
    description: ModelDescription


def list_local_models(folders: list[str | Path] = (), cache_dir: str | Path | None = None) -> list[LocalModel]:
    """Every model in the HF cache and under folders, cache first, each group sorted by name."""
    return cached_models(cache_dir) + [m for folder in folders for m in folder_models(Path(folder).expanduser())]


@dataclass(frozen=True)
class PartialDownload:
    """Bytes an interrupted pull left behind; pulling the repo again resumes from them."""

    repo_id: str
    bytes_on_disk: int


def scan_hf_cache(cache_dir: str | Path | None = None) -> HFCacheInfo | None:
    """The HF cache, or None before the first download.

    scan_cache_dir's own default folder is frozen when huggingface_hub is imported;
    downloads read huggingface_hub.constants, so listing does too.
    """
    try:
        return scan_cache_dir(cache_dir or constants.HF_HUB_CACHE)
    except CacheNotFound:
        return None


def partial_downloads(cache_dir: str | Path | None = None) -> list[PartialDownload]:
    cache = scan_hf_cache(cache_dir)
    sizes: dict[str, int] = {}
    for partial in cache.incomplete_files if cache else ():
        repo_folder = partial.file_path.parent.parent.name  # models--org--name
        if repo_folder.startswith("models--"):
            repo_id = repo_folder.removeprefix("models--").replace("--", "/")
            sizes[repo_id] = sizes.get(repo_id, 0) + partial.size_on_disk
    return [PartialDownload(repo_id, size) for repo_id, size in sorted(sizes.items())]


def cached_models(cache_dir: str | Path | None = None) -> list[LocalModel]:
    cache = scan_hf_cache(cache_dir)
    models = []
    for repo in sorted(cache.repos if cache else (), key=lambda r: r.repo_id.lower()):
        if repo.repo_type != "model":
            continue
        for rev in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            models.append(LocalModel(
                name=repo.repo_id,
                path=rev.snapshot_path,
                source="hf-cache",
                revision=rev.commit_hash,
                refs=tuple(sorted(rev.refs)),
                description=describe_model(rev.snapshot_path, size_bytes=rev.size_on_disk),
            ))
    return models


def folder_models(folder: Path) -> list[LocalModel]:
    if (folder / "config.json").is_file():
        candidates = [folder]
    elif folder.is_dir():
        candidates = sorted(p for p in folder.iterdir() if (p / "config.json").is_file())
    else:
        candidates = []
    return [LocalModel(str(p), p, "folder", None, (), describe_model(p)) for p in candidates]


def resolve_local(name: str, revision: str = "main", cache_dir: str | Path | None = None) -> Path | None:
    """The folder to load for a path or a repo id already in the HF cache, else None."""
    path = Path(name).expanduser()
    if (path / "config.json").is_file():
        return path
    if name.count("/") != 1:
        return None
    config = try_to_load_from_cache(name, "config.json", revision=revision, cache_dir=cache_dir)
    return Path(config).parent if isinstance(config, str) else None
