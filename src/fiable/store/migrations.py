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


def m005_governance(conn: sqlite3.Connection) -> None:
    """The hash-chained audit trail (fiable.governance.audit) and the checkpoints that
    retention leaves so that the chain still verifies; the access policy lives in meta."""
    _run(
        conn,
        """
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            payload TEXT NOT NULL,
            content TEXT,
            prev TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_at ON audit(at);
        CREATE INDEX audit_action ON audit(action, seq);
        CREATE TABLE audit_checkpoints (
            seq INTEGER PRIMARY KEY,
            hash TEXT NOT NULL,
            at TEXT NOT NULL,
            pruned INTEGER NOT NULL
        );
        """
    )


FTS_TOKENIZER = "unicode61 remove_diacritics 0"  # the text is analysed already (fiable.lexical)


def m006_languages(conn: sqlite3.Connection) -> None:
    """Languages and per-collection embedders (issue 10): each chunk gets its ``language``
    (its document's, detected here for documents stored before; kept in the document's
    ``metadata["language"]``), each collection the ``embedding_model`` and dimension that
    built its vectors (the store-wide one in ``meta`` before), and the FTS index is rebuilt
    over text analysed per language by :mod:`fiable.lexical` (Snowball stems, accents folded)
    instead of FTS5's English Porter tokenizer."""
    import json

    from ..lexical import chunk_languages, document_language, index_text

    conn.execute("ALTER TABLE chunks ADD COLUMN language TEXT NOT NULL DEFAULT 'en'")
    conn.execute("ALTER TABLE collections ADD COLUMN embedding_model TEXT")
    conn.execute("ALTER TABLE collections ADD COLUMN embedding_dimension INTEGER")
    model = conn.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
    dim = conn.execute("SELECT value FROM meta WHERE key = 'embedding_dimension'").fetchone()
    if model is not None:
        conn.execute(
            """UPDATE collections SET embedding_model = ?, embedding_dimension = ?
               WHERE EXISTS (SELECT 1 FROM documents d JOIN chunks k ON k.document_id = d.id
                             WHERE d.collection_id = collections.id)""",
            (model[0], int(dim[0]) if dim is not None else 0))
    conn.execute("DROP TABLE chunks_fts")
    conn.execute(f"CREATE VIRTUAL TABLE chunks_fts USING fts5(text, context, "
                 f"tokenize = '{FTS_TOKENIZER}')")
    for doc_id, title, metadata in conn.execute(
            "SELECT id, title, metadata FROM documents ORDER BY id").fetchall():
        rows = conn.execute("SELECT id, text, heading_path FROM chunks WHERE document_id = ? "
                            "ORDER BY ordinal", (doc_id,)).fetchall()
        meta = json.loads(metadata or "{}")
        language = meta.get("language") or document_language(r[1] for r in rows)
        if meta.get("language") != language:
            meta["language"] = language
            conn.execute("UPDATE documents SET metadata = ? WHERE id = ?",
                         (json.dumps(meta, sort_keys=True), doc_id))
        for (chunk_id, text, heading), lang in zip(rows, chunk_languages([r[1] for r in rows],
                                                                          language)):
            conn.execute("UPDATE chunks SET language = ? WHERE id = ?", (lang, chunk_id))
            context = " ".join((title, *json.loads(heading or "[]")))
            conn.execute("INSERT INTO chunks_fts(rowid, text, context) VALUES (?, ?, ?)",
                         (chunk_id, index_text(text, lang), index_text(context, lang)))


def m007_conversations(conn: sqlite3.Connection) -> None:
    """Conversations (issue 18): a thread has an owner (the principal who started it) and
    its turns, each a JSON record (message, standalone question, answer with sources)."""
    _run(
        conn,
        """
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            title TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX conversations_owner ON conversations(owner, updated_at);
        CREATE TABLE conversation_turns (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            trace_id TEXT,
            record TEXT NOT NULL
        );
        CREATE INDEX conversation_turns_thread ON conversation_turns(conversation_id, id);
        """
    )


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("001_initial", m001_initial),
    ("002_ask_log", m002_ask_log),
    ("003_eval_runs", m003_eval_runs),
    ("004_feedback_and_keys", m004_feedback_and_keys),
    ("005_governance", m005_governance),
    ("006_languages", m006_languages),
    ("007_conversations", m007_conversations),
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
