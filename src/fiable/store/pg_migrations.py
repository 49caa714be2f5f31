"""Ordered, named schema migrations of the PostgreSQL store.

Applied once each, in order, in one transaction holding an advisory lock, so that several
replicas starting together on one database do not race; the names of applied migrations
are recorded in ``fiable_migrations``. Never edit a released migration: add one at the end.

Lexical search keeps its own postings (lexeme, chunk, weighted term frequency, chunk
length) derived from ``to_tsvector`` so that BM25 can be computed exactly in SQL (see
``postgres.py``); the text-search configuration ``fiable_english`` is Postgres' English
snowball stemmer behind ``unaccent`` (accent folding, as the SQLite store does), or the
plain English configuration where the server lacks the ``unaccent`` extension.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

__all__ = ["PG_MIGRATIONS", "apply_pg_migrations"]

_LOCK_KEY = 7_405_113_901  # pg_advisory_xact_lock key: "fiable migrations"


def _initial(conn: Any) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    has_unaccent = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'").fetchone()
    conn.execute("CREATE TEXT SEARCH CONFIGURATION fiable_english (COPY = english)")
    if has_unaccent:
        conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        conn.execute("ALTER TEXT SEARCH CONFIGURATION fiable_english ALTER MAPPING FOR "
                     "hword, hword_part, word WITH unaccent, english_stem")
    for statement in """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE collections (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            n_chunks BIGINT NOT NULL DEFAULT 0,
            total_len BIGINT NOT NULL DEFAULT 0
        );
        CREATE TABLE documents (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            title TEXT NOT NULL,
            format TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            pipeline TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            pages INTEGER,
            metadata TEXT NOT NULL DEFAULT '{}',
            ingested_at TEXT NOT NULL,
            UNIQUE (collection_id, source)
        );
        CREATE TABLE chunks (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            document_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            collection_id BIGINT NOT NULL,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            heading_path TEXT NOT NULL DEFAULT '[]',
            page_start INTEGER,
            page_end INTEGER,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            token_count INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            lex_len INTEGER NOT NULL,
            embedding halfvec NOT NULL
        );
        CREATE INDEX chunks_document ON chunks(document_id);
        CREATE INDEX chunks_collection ON chunks(collection_id);
        CREATE TABLE postings (
            lexeme TEXT NOT NULL,
            chunk_id BIGINT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
            collection_id BIGINT NOT NULL,
            tf REAL NOT NULL,
            dl INTEGER NOT NULL,
            PRIMARY KEY (lexeme, chunk_id)
        );
        CREATE INDEX postings_chunk ON postings(chunk_id);
        CREATE TABLE asks (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            trace_id TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            question TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE TABLE eval_runs (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at TEXT NOT NULL,
            dataset TEXT NOT NULL,
            kind TEXT NOT NULL,
            split TEXT,
            summary TEXT NOT NULL,
            items TEXT NOT NULL
        );
        CREATE INDEX eval_runs_dataset ON eval_runs(dataset, kind, split, id)
    """.split(";\n"):
        if statement.strip():
            conn.execute(statement)


PG_MIGRATIONS: list[tuple[str, Callable[[Any], None]]] = [
    ("001_initial", _initial),
]


def apply_pg_migrations(conn: Any) -> list[str]:
    """Apply pending migrations inside the caller's transaction (rows as dicts); return names."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    conn.execute("CREATE TABLE IF NOT EXISTS fiable_migrations "
                 "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row["name"] for row in conn.execute("SELECT name FROM fiable_migrations")}
    applied: list[str] = []
    for name, migrate in PG_MIGRATIONS:
        if name in done:
            continue
        migrate(conn)
        conn.execute("INSERT INTO fiable_migrations(name, applied_at) VALUES (%s, %s)",
                     (name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
        applied.append(name)
    return applied
