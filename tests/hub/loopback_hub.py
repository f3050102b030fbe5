"""A Hugging Face Hub stand-in on 127.0.0.1 serving the endpoints huggingface_hub 2.x calls.

Model info (`/api/models/{repo}[/revision/{rev}]`), search (`/api/models?search=`), and
file resolution (`HEAD`/`GET /{repo}/resolve/{rev}/{file}`) with ETag, X-Repo-Commit,
Content-Length and Range, plus the error headers (X-Error-Code) the client maps to
RepositoryNotFoundError and GatedRepoError. It sends no X-Xet-* headers, so the client
stays on plain HTTP. Knobs make a file trickle (to cancel mid-file) or drop the
connection once after some bytes (to test resume); every request is recorded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 16 * 1024


# Memoized: bytes cache their own hash, so a 256 MB file is digested once, not on every request.
@functools.cache
def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None
    authorized: bool


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    gated: bool = False
    downloads: int = 0
    last_modified: str = "2026-05-01T12:00:00.000Z"
    parameters: int | None = None
    declared_sizes: dict[str, int] = field(default_factory=dict)  # sizes to claim instead of the real ones

    @property
    def sha(self) -> str:
        """The commit: changes whenever a file does, like a new revision on the hub."""
        digest = hashlib.sha1(self.repo_id.encode())
        for name, data in sorted(self.files.items()):
            digest.update(name.encode() + git_blob_id(data).encode())
        return digest.hexdigest()

    def info(self) -> dict:
        info = {
            "_id": self.sha[:24], "id": self.repo_id, "modelId": self.repo_id,
            "author": self.repo_id.split("/")[0], "sha": self.sha, "lastModified": self.last_modified,
            "private": False, "gated": "manual" if self.gated else False, "disabled": False,
            "downloads": self.downloads, "likes": 0, "tags": ["mlx"], "library_name": "mlx",
            "usedStorage": sum(len(b) for b in self.files.values()),
            "siblings": [{"rfilename": name, "size": self.declared_sizes.get(name, len(data)),
                          "blobId": git_blob_id(data)} for name, data in sorted(self.files.items())],
        }
        if self.parameters is not None:
            info["safetensors"] = {"parameters": {"F32": self.parameters}, "total": self.parameters}
        return info


class LoopbackHub:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.trickle_seconds: dict[str, float] = {}  # file name -> pause per 16 KiB chunk
        self.drop_once_after: dict[str, int] = {}  # file name -> byte offset where one connection drops
        self.drop_always_after: dict[str, int] = {}  # file name -> byte offset no connection gets past
        self.ignore_range = False  # answer 200 with the whole file, as some CDNs do
        self.requests: list[Request] = []
        self.cdn: LoopbackHub | None = None  # when set, .safetensors resolve to a 302 there, as on the real hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_repo(self, repo_id: str, folder: Path | None = None, extra_files: dict[str, bytes] | None = None,
                 **kwargs) -> Repo:
        files = {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()} if folder else {}
        files.update(extra_files or {})
        repo = self.repos[repo_id] = Repo(repo_id, files, **kwargs)
        return repo

    def ranges_for(self, filename: str) -> list[str | None]:
        return [r.range for r in self.requests if r.method == "GET" and r.path.endswith("/" + filename)]

    def blob(self, sha256: str) -> tuple[str, bytes] | None:
        for repo in self.repos.values():
            for name, data in repo.files.items():
                if sha256_hex(data) == sha256:
                    return name, data
        return None

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


def _handler_for(hub: LoopbackHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle(self):
            try:
                super().handle()
            except ConnectionResetError:
                pass  # the client closed a keep-alive connection (a cancelled pull does)

        def do_HEAD(self):
            self._serve(body=False)

        def do_GET(self):
            self._serve(body=True)

        def _serve(self, body: bool):
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            hub.requests.append(Request(self.command, path, self.headers.get("Range"),
                                        "authorization" in self.headers))
            if path == "/api/models":
                return self._search(parse_qs(parts.query))
            if m := re.fullmatch(r"/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?", path):
                return self._info(m.group(1), m.group(2) or "main")
            if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                return self._resolve(m.group(1), m.group(2), m.group(3), body)
            if (m := re.fullmatch(r"/blobs/([0-9a-f]{64})", path)) and (found := hub.blob(m.group(1))):
                return self._send_file(*found, body)
            self._error(404, "NotFound", "no such endpoint")

        def _repo(self, repo_id: str, revision: str) -> Repo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
                return None
            if revision not in ("main", repo.sha):
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return None
            return repo

        def _info(self, repo_id: str, revision: str):
            if repo := self._repo(repo_id, revision):
                self._json(repo.info())

        def _search(self, query: dict):
            text = query.get("search", [""])[0].lower()
            author = query.get("author", [None])[0]
            found = [r for r in hub.repos.values()
                     if text in r.repo_id.lower() and (author is None or r.repo_id.startswith(author + "/"))]
            found.sort(key=lambda r: r.downloads, reverse=True)
            limit = int(query.get("limit", [len(found)])[0])
            self._json([r.info() for r in found[:limit]])

        def _resolve(self, repo_id: str, revision: str, filename: str, body: bool):
            repo = self._repo(repo_id, revision)
            if repo is None:
                return
            if repo.gated:
                return self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have "
                                   "access to it and be authenticated to access it. Please log in.")
            data = repo.files.get(filename)
            if data is None:
                return self._error(404, "EntryNotFound", "Entry not found")
            etag = sha256_hex(data)
            if hub.cdn is not None and filename.endswith(".safetensors"):
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn.url}/blobs/{etag}")
                self.send_header("X-Linked-Etag", f'"{etag}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("X-Repo-Commit", repo.sha)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send_file(filename, data, body, {"X-Repo-Commit": repo.sha})

        def _send_file(self, filename: str, data: bytes, body: bool, headers: dict[str, str] | None = None):
            start = 0
            if (rng := self.headers.get("Range")) and not hub.ignore_range:
                start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            self.send_response(206 if start else 200)
            self.send_header("ETag", f'"{sha256_hex(data)}"')
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if body:
                self._send_body(filename, data, start)

        def _send_body(self, filename: str, data: bytes, start: int):
            drop_after = hub.drop_once_after.pop(filename, None) or hub.drop_always_after.get(filename)
            pause = hub.trickle_seconds.get(filename, 0.0)
            try:
                for i in range(start, len(data), CHUNK):
                    piece = data[i:i + CHUNK]
                    if drop_after is not None and i + len(piece) > drop_after:
                        self.wfile.write(piece[:max(drop_after - i, 0)])
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    self.wfile.write(piece)
                    self.wfile.flush()
                    if pause:
                        time.sleep(pause)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _json(self, payload):
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)

        def _error(self, status: int, code: str, message: str):
            data = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)

    return Handler
