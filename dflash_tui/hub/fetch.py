"""Fetch one file over HTTP into a partial file that survives, so the next try resumes with Range.

The partial file is only ever appended to: a cancel, a crash or a dropped connection
keeps every byte received. A dropped connection is retried here from the last byte
while bytes keep arriving. A server that ignores Range (answers 200) restarts the file.
Cancel is checked after every chunk, and a watcher shuts the socket down so that a
read stalled on a silent server returns at once instead of after the read timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import httpx2
from huggingface_hub import constants
from huggingface_hub.utils import get_session, hf_raise_for_status

RETRIES_WITHOUT_PROGRESS = 3
CANCEL_POLL_S = 0.1


class FetchCancelled(Exception):
    pass


class ConnectionLost(Exception):
    """The connection kept failing without delivering bytes; the partial file holds what arrived."""


def fetch_resumable(url: str, partial: Path, expected_size: int | None, headers: dict[str, str],
                    on_bytes: Callable[[int], None], cancel: threading.Event) -> None:
    """Fill partial up to expected_size; on_bytes gets each change in its size (negative on a restart)."""
    failures = 0
    while True:
        before = _size(partial)
        try:
            _stream_into(partial, url, expected_size, headers, on_bytes, cancel)
            return
        except (httpx2.TransportError, _ShortRead) as error:
            failures = 0 if _size(partial) > before else failures + 1
            if cancel.is_set():
                raise FetchCancelled() from error
            if failures >= RETRIES_WITHOUT_PROGRESS:
                raise ConnectionLost(str(error)) from error
            time.sleep(0.2 * failures)


class _ShortRead(Exception):
    pass


def _stream_into(partial: Path, url: str, expected: int | None, headers: dict[str, str],
                 on_bytes: Callable[[int], None], cancel: threading.Event) -> None:
    offset = _size(partial)
    if expected is not None and offset > expected:
        partial.unlink()
        on_bytes(-offset)
        offset = 0
    if expected is not None and offset == expected:
        return
    if offset:
        headers = {**headers, "Range": f"bytes={offset}-"}
    with get_session().stream("GET", url, headers=headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT) as response:
        hf_raise_for_status(response)
        if offset and response.status_code == 200:  # the server ignored Range: start over
            on_bytes(-offset)
            offset = 0
        with _unblocked_on_cancel(response, cancel), open(partial, "ab" if offset else "wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
                offset += len(chunk)
                on_bytes(len(chunk))
                if cancel.is_set():
                    raise FetchCancelled()
    if expected is not None and offset < expected:
        raise _ShortRead(f"connection closed after {offset} of {expected} bytes")


@contextmanager
def _unblocked_on_cancel(response: httpx2.Response, cancel: threading.Event):
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(CANCEL_POLL_S):
            if cancel.is_set():
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed
                return

    watcher = threading.Thread(target=watch, name="pull-cancel-watch", daemon=True)
    if sock is not None:
        watcher.start()
    try:
        yield
    finally:
        finished.set()
        if watcher.is_alive():
            watcher.join()


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
