"""Ordered, named schema migrations of the SQLite store.

Each migration is a function applied once, in order, inside the opening transaction; the
names of applied migrations are recorded in ``migrations``. Never edit a released
migration: add a new one at the end of ``MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Callable

__all__ = ["MIGRATIONS", "apply_migrations"]


def _run(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one (``executescript`` would commit the open transaction)."""
    for statement in script.split(";\n"):
        if statement.strip():
            conn.execute(statement)


def m001_initial(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta(key, value) VALUES ('vectors_version', '0');
        CREATE TABLE collections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            title TEXT NOT NULL,
            format TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            pipeline TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            pages INTEGER,
            metadata TEXT NOT NULL DEFAULT '{}',
            ingested_at TEXT NOT NULL,
            UNIQUE (collection_id, source)
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            heading_path TEXT NOT NULL DEFAULT '[]',
            page_start INTEGER,
            page_end INTEGER,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            token_count INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            embedding BLOB NOT NULL
        );
        CREATE INDEX chunks_document ON chunks(document_id);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, context, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        """
    )


def m002_ask_log(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """
        CREATE TABLE asks (
            id INTEGER PRIMARY KEY,
            trace_id TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            question TEXT NOT NULL,
            record TEXT NOT NULL
        );
        """
    )


def m003_eval_runs(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """
        CREATE TABLE eval_runs (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            dataset TEXT NOT NULL,
            kind TEXT NOT NULL,
            split TEXT,
            summary TEXT NOT NULL,
            items TEXT NOT NULL
        );
        CREATE INDEX eval_runs_dataset ON eval_runs(dataset, kind, split, id);
        """
    )


def m004_feedback_and_keys(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            trace_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX feedback_trace ON feedback(trace_id, id);
        CREATE TABLE api_keys (
            name TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        """
    )


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("001_initial", m001_initial),
    ("002_ask_log", m002_ask_log),
    ("003_eval_runs", m003_eval_runs),
    ("004_feedback_and_keys", m004_feedback_and_keys),
]


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply the pending migrations (inside the caller's transaction); return their names."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    applied: list[str] = []
    for name, migrate in MIGRATIONS:
        if name in done:
            continue
        migrate(conn)
        conn.execute(
            "INSERT INTO migrations(name, applied_at) VALUES (?, ?)",
            (name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
        )
        applied.append(name)
    return applied
