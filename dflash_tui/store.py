"""Conversations in SQLite: schema migrations, FTS5 search, nothing lost on a crash.

Messages are written before generation starts and the reply row is updated as it
streams, so a crash leaves at most the last second of a reply unsaved; rows still
marked "streaming" when the store is next opened become "interrupted".
Every sqlite3 failure reaches callers as a StoreError with a message a user can act on.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .settings import GenerationSettings

STATUS_COMPLETE = "complete"
STATUS_STREAMING = "streaming"
STATUS_STOPPED = "stopped"
STATUS_ERROR = "error"
STATUS_INTERRUPTED = "interrupted"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        generation_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        status TEXT NOT NULL,
        stats_json TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id');
    CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END;
    CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """A database problem, worded for the user."""


@dataclass
class Conversation:
    id: int
    title: str
    created: float
    updated: float
    generation: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class Message:
    id: int
    conversation_id: int
    role: str
    content: str
    status: str
    stats: dict | None
    created: float


@dataclass
class SearchHit:
    conversation_id: int
    title: str
    message_id: int | None  # None when the title matched
    snippet: str


def _explain(error: sqlite3.Error, path: str) -> str:
    text = str(error)
    if "locked" in text or "busy" in text:
        return (f"The conversation database {path} is locked by another program (another dflash-tui?). "
                "Close it and try again; your text is kept.")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (f"The conversation database {path} is damaged ({text}). It was left untouched: "
                "move it aside to start fresh, or repair it with `sqlite3 .recover`.")
    if "readonly" in text:
        return f"The conversation database {path} is read-only: check the file's permissions."
    return f"The conversation database {path} failed: {text}"


def _translating_errors(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as error:
            raise StoreError(_explain(error, self.path)) from error

    return wrapper


def _generation_from_json(text: str) -> GenerationSettings:
    known = GenerationSettings.__dataclass_fields__
    values = {k: v for k, v in json.loads(text or "{}").items() if k in known}
    return GenerationSettings(**values)


def _fts_query(text: str) -> str:
    """Quote every word (FTS5 syntax characters lose their meaning); the last one matches as a prefix."""
    words = [w.replace('"', '""') for w in text.split()]
    if not words:
        return ""
    return " ".join(f'"{w}"' for w in words[:-1]) + (" " if len(words) > 1 else "") + f'"{words[-1]}"*'


class Store:
    def __init__(self, connection: sqlite3.Connection, path: str):
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: Path | str, timeout_s: float = 2.0) -> "Store":
        """Open (creating and migrating as needed) the database at path; raises StoreError."""
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(_explain(error, path)) from error
        store = cls(connection, path)
        try:
            store._prepare()
        except StoreError:
            connection.close()
            raise
        return store

    @classmethod
    def in_memory(cls) -> "Store":
        return cls.open(":memory:")

    @_translating_errors
    def _prepare(self) -> None:
        db = self.connection
        db.execute("PRAGMA foreign_keys = ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"The conversation database {self.path} was written by a newer dflash-tui "
                             f"(schema {version}, this one knows {SCHEMA_VERSION}): update dflash-tui.")
        if version < SCHEMA_VERSION:
            if self.path != ":memory:":
                db.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
            for number in range(version, SCHEMA_VERSION):
                db.executescript("BEGIN;" + MIGRATIONS[number] + f"PRAGMA user_version = {number + 1}; COMMIT;")
        db.execute("UPDATE messages SET status = ? WHERE status = ?", (STATUS_INTERRUPTED, STATUS_STREAMING))

    def close(self) -> None:
        self.connection.close()

    # conversations

    def _conversation(self, row) -> Conversation:
        return Conversation(row[0], row[1], row[2], row[3], _generation_from_json(row[4]))

    @_translating_errors
    def create_conversation(self, title: str = "New chat",
                            generation: GenerationSettings | None = None) -> Conversation:
        now = time.time()
        generation = generation or GenerationSettings()
        cursor = self.connection.execute(
            "INSERT INTO conversations(title, created, updated, generation_json) VALUES (?, ?, ?, ?)",
            (title, now, now, json.dumps(asdict(generation))),
        )
        return Conversation(cursor.lastrowid, title, now, now, generation)

    @_translating_errors
    def list_conversations(self) -> list[Conversation]:
        rows = self.connection.execute(
            "SELECT id, title, created, updated, generation_json FROM conversations ORDER BY updated DESC, id DESC"
        )
        return [self._conversation(row) for row in rows]

    @_translating_errors
    def get_conversation(self, conversation_id: int) -> Conversation | None:
        row = self.connection.execute(
            "SELECT id, title, created, updated, generation_json FROM conversations WHERE id = ?",
            (conversation_id,),
        ).fetchone()
        return self._conversation(row) if row else None

    @_translating_errors
    def rename_conversation(self, conversation_id: int, title: str) -> None:
        self.connection.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    @_translating_errors
    def set_generation(self, conversation_id: int, generation: GenerationSettings) -> None:
        self.connection.execute(
            "UPDATE conversations SET generation_json = ? WHERE id = ?",
            (json.dumps(asdict(generation)), conversation_id),
        )

    @_translating_errors
    def delete_conversation(self, conversation_id: int) -> None:
        with self.connection:
            self.connection.execute("BEGIN")
            self.connection.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            self.connection.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # messages

    @_translating_errors
    def add_message(self, conversation_id: int, role: str, content: str,
                    status: str = STATUS_COMPLETE) -> Message:
        now = time.time()
        with self.connection:
            self.connection.execute("BEGIN")
            cursor = self.connection.execute(
                "INSERT INTO messages(conversation_id, role, content, status, created) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, role, content, status, now),
            )
            self.connection.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        return Message(cursor.lastrowid, conversation_id, role, content, status, None, now)

    @_translating_errors
    def update_message(self, message_id: int, *, content: str | None = None, status: str | None = None,
                       stats: dict | None = None) -> None:
        assignments, values = [], []
        for column, value in (("content", content), ("status", status),
                              ("stats_json", None if stats is None else json.dumps(stats))):
            if value is not None:
                assignments.append(f"{column} = ?")
                values.append(value)
        if assignments:
            self.connection.execute(f"UPDATE messages SET {', '.join(assignments)} WHERE id = ?",
                                    (*values, message_id))

    @_translating_errors
    def delete_message(self, message_id: int) -> None:
        self.connection.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    @_translating_errors
    def messages(self, conversation_id: int) -> list[Message]:
        rows = self.connection.execute(
            "SELECT id, conversation_id, role, content, status, stats_json, created FROM messages "
            "WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [Message(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]) if r[5] else None, r[6]) for r in rows]

    @_translating_errors
    def recent_prompts(self, limit: int = 200) -> list[str]:
        """The user's latest prompts across all conversations, oldest first (for Up-arrow recall)."""
        rows = self.connection.execute(
            "SELECT content FROM messages WHERE role = 'user' ORDER BY id DESC LIMIT ?", (limit,))
        return [row[0] for row in rows][::-1]

    # search

    @_translating_errors
    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Full-text search over every message, plus conversation titles."""
        query = _fts_query(text)
        if not query:
            return []
        hits = [
            SearchHit(r[0], r[1], None, r[1])
            for r in self.connection.execute(
                "SELECT id, title FROM conversations WHERE title LIKE ? ORDER BY updated DESC LIMIT ?",
                (f"%{text.strip()}%", limit),
            )
        ]
        rows = self.connection.execute(
            "SELECT m.conversation_id, c.title, m.id, snippet(messages_fts, 0, '«', '»', '…', 10) "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?",
            (query, limit),
        )
        hits.extend(SearchHit(r[0], r[1], r[2], r[3]) for r in rows)
        return hits[:limit]
