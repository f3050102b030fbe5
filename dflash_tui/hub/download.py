"""Pull a model repo into the Hugging Face cache: only the files a model needs, resumable.

huggingface_hub 2.x no longer resumes: it downloads each file to a uniquely named
temporary file and deletes it on any failure. So the bytes are fetched here (fetch.py),
into `blobs/<etag>.incomplete` (the name older clients used and `scan_cache_dir`
reports), continued with an HTTP Range request after a cancel, a crash or a dropped
connection. Once a blob is complete, `hf_hub_download` finds it and makes the
snapshot link and the ref itself, so the cache layout stays the library's own.
Plain HTTP only (no hf-xet): it is what allows byte-level progress, cancel and resume.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import build_hf_headers

from .errors import (
    DiskFull,
    DownloadCancelled,
    DownloadInterrupted,
    HubError,
    hub_errors,
)
from .fetch import ConnectionLost, FetchCancelled, fetch_resumable
from .registry import base_name
from .units import format_size

# Top-level files an MLX model needs: configs, weights and their index, tokenizer, chat template.
MODEL_FILE_PATTERNS = ("*.json", "*.safetensors", "tokenizer.model", "*.tiktoken", "merges.txt", "vocab.txt",
                       "*.jinja")
PROGRESS_INTERVAL_S = 0.05


@dataclass(frozen=True)
class PullProgress:
    repo_id: str
    file: str  # the file being fetched now
    done_bytes: int  # of the whole pull, counting what was already on disk
    total_bytes: int
    files_done: int
    files_total: int


ProgressCallback = Callable[[PullProgress], None]


def is_model_file(filename: str) -> bool:
    return "/" not in filename and any(fnmatch.fnmatch(filename, p) for p in MODEL_FILE_PATTERNS)


def pull(repo_id: str, *, revision: str = "main", progress: ProgressCallback | None = None,
         cancel: threading.Event | None = None, token: str | bool | None = None) -> Path:
    """Download repo_id's model files into the HF cache and return the snapshot folder.

    Raises HubError subclasses; after DownloadCancelled or DownloadInterrupted the
    partial files stay, and the next pull of the same repo continues where it stopped.
    """
    cancel = cancel or threading.Event()
    with hub_errors(repo_id, revision):
        info = HfApi(token=token).model_info(repo_id, revision=revision, files_metadata=True)
        files = {s.rfilename: s.size or 0 for s in info.siblings or [] if is_model_file(s.rfilename)}
        if not any(name.endswith(".safetensors") for name in files):
            raise HubError(
                f"{repo_id} has no .safetensors weights at its top level, so MLX cannot load it: pick an MLX "
                f"conversion, e.g. from `dflash-tui models search {base_name(repo_id)} --author mlx-community`"
            )
        storage = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type="model")
        snapshot = storage / "snapshots" / info.sha
        missing = [name for name in files if not (snapshot / name).exists()]
        tracker = _Tracker(repo_id, files, progress, already_done=[n for n in files if n not in missing])
        _check_free_space(repo_id, storage, sum(files[n] for n in missing) - _partial_bytes(storage))
        # With snapshots/ present, scan_cache_dir lists a repo that has only partial downloads
        # (so `models rm` can clear them) instead of reporting it as corrupted.
        (storage / "snapshots").mkdir(parents=True, exist_ok=True)
        for name in missing:
            if cancel.is_set():
                raise _cancelled(repo_id, tracker)
            tracker.start(name)
            _fetch_file(repo_id, name, info.sha, storage, tracker, cancel, token)
            hf_hub_download(repo_id, name, revision=revision, token=token)
            tracker.finish(name)
    return snapshot


def _fetch_file(repo_id: str, filename: str, commit: str, storage: Path, tracker: _Tracker,
                cancel: threading.Event, token) -> None:
    url = hf_hub_url(repo_id, filename, revision=commit)
    meta = get_hf_file_metadata(url, token=token)
    blob = storage / "blobs" / meta.etag
    if blob.exists():
        return
    partial = blob.with_name(blob.name + ".incomplete")
    partial.parent.mkdir(parents=True, exist_ok=True)
    if partial.exists():
        tracker.add(partial.stat().st_size)
    headers = build_hf_headers(token=token)
    headers["Accept-Encoding"] = "identity"
    if urlsplit(meta.location).netloc != urlsplit(url).netloc:
        headers.pop("authorization", None)  # the hub redirects weights to a CDN: the token stays with the hub
    try:
        fetch_resumable(meta.location, partial, meta.size, headers, tracker.add, cancel)
    except FetchCancelled:
        raise _cancelled(repo_id, tracker) from None
    except ConnectionLost as error:
        raise DownloadInterrupted(
            f"download of {repo_id} stopped at {format_size(tracker.done)} of {format_size(tracker.total)} "
            f"({filename}: {error}); pull again to resume from there"
        ) from error
    os.replace(partial, blob)


def _cancelled(repo_id: str, tracker: _Tracker) -> DownloadCancelled:
    return DownloadCancelled(
        f"pull of {repo_id} cancelled at {format_size(tracker.done)} of {format_size(tracker.total)}; "
        "the partial download is kept: pull again to resume"
    )


def _partial_bytes(storage: Path) -> int:
    return sum(p.stat().st_size for p in (storage / "blobs").glob("*.incomplete"))


def _check_free_space(repo_id: str, storage: Path, needed: int) -> None:
    existing = next(p for p in (storage, *storage.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise DiskFull(
            f"not enough disk space for {repo_id}: it needs {format_size(needed)} more but {existing} has "
            f"{format_size(free)} free; free some space (`dflash-tui models rm REPO`) or point HF_HOME at a "
            "bigger disk"
        )


class _Tracker:
    """Turns byte counts into PullProgress events, at most one per PROGRESS_INTERVAL_S while bytes flow
    (a 10 GB pull arrives in ~160k chunks: a UI wants a steady trickle, not all of them)."""

    def __init__(self, repo_id: str, files: dict[str, int], callback: ProgressCallback | None,
                 already_done: list[str]):
        self.repo_id, self.files, self.callback = repo_id, files, callback
        self.total = sum(files.values())
        self.done = sum(files[n] for n in already_done)
        self.files_done = len(already_done)
        self.current = ""
        self._last_report = 0.0

    def start(self, filename: str) -> None:
        self.current = filename
        self._report()

    def add(self, n: int) -> None:
        self.done += n
        if time.monotonic() - self._last_report >= PROGRESS_INTERVAL_S:
            self._report()

    def finish(self, filename: str) -> None:
        self.files_done += 1
        self._report()

    def _report(self) -> None:
        self._last_report = time.monotonic()
        if self.callback:
            self.callback(PullProgress(self.repo_id, self.current, self.done, self.total, self.files_done,
                                       len(self.files)))
