"""Ordered, named schema migrations of the PostgreSQL store.

Applied once each, in order, in one transaction holding an advisory lock, so that several
replicas starting together on one database do not race; the names of applied migrations
are recorded in ``fiable_migrations``. Never edit a released migration: add one at the end.

Lexical search keeps its own postings (lexeme, chunk, weighted term frequency, chunk
length) derived from ``to_tsvector`` so that BM25 can be computed exactly in SQL (see
``postgres.py``). The text-search configuration ``fiable_english`` tokenises like SQLite's
FTS5 ``porter unicode61 remove_diacritics``: the original Porter stemmer, no stop words,
hyphenated words as their parts, accents folded by ``unaccent`` where the server has it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable

__all__ = ["ANALYSED_CONFIG", "ANALYSED_POSTINGS", "NEW_CHUNKS_TABLE", "PG_MIGRATIONS",
           "POSTINGS_FROM_NEW_CHUNKS", "TS_CONFIG", "analysed_length", "analysed_tsvector",
           "apply_pg_migrations", "drop_vector_indexes", "ensure_vector_index",
           "lexical_length", "tsvector"]

TS_CONFIG = "fiable_english"
CONTEXT_WEIGHT = 0.5  # title and headings count half as much as the chunk's own words

# Chunks being indexed: their text and context (title and headings) in, postings out.
NEW_CHUNKS_TABLE = """CREATE TEMP TABLE IF NOT EXISTS _new_chunks (
    id BIGINT, collection_id BIGINT, text TEXT, context TEXT, lex_len INT) ON COMMIT DROP"""



def tsvector(expression: str) -> str:
    """SQL for the tsvector of ``expression`` as fiable indexes text: ASCII punctuation is a
    separator first (FTS5's unicode61 splits "covid-19", "3.5" and "mg/kg" into their parts;
    Postgres' parser would keep "-19" and "3.5" whole)."""
    return f"to_tsvector('{TS_CONFIG}', regexp_replace({expression}, '[[:punct:]]+', ' ', 'g'))"


def _postings_from_new_chunks(tsv: Callable[[str], str]) -> str:
    """SQL filling ``postings`` from ``_new_chunks``, with ``tsv`` giving a text's tsvector."""
    return f"""
    INSERT INTO postings(lexeme, chunk_id, collection_id, tf, dl)
    SELECT t.lexeme, n.id, MIN(n.collection_id), SUM(t.freq), MIN(n.lex_len)
    FROM _new_chunks n, LATERAL (
        SELECT lexeme, COALESCE(array_length(positions, 1), 1)::real AS freq
        FROM unnest({tsv("n.text")})
        UNION ALL
        SELECT lexeme, COALESCE(array_length(positions, 1), 1) * {CONTEXT_WEIGHT}
        FROM unnest({tsv("n.context")})) t
    GROUP BY t.lexeme, n.id"""


def _token_count(tsv: Callable[[str], str], expression: str) -> str:
    return (f"(SELECT COALESCE(SUM(COALESCE(array_length(positions, 1), 1)), 0) "
            f"FROM unnest({tsv(expression)}))")


POSTINGS_FROM_NEW_CHUNKS = _postings_from_new_chunks(tsvector)


def lexical_length(expression: str) -> str:
    """SQL for the number of indexed tokens in ``expression`` (BM25's document length)."""
    return _token_count(tsvector, expression)

# Since 006_languages the text is analysed per language in Python (fiable.lexical: the
# Snowball stemmers PostgreSQL's own french_stem/english_stem dictionaries use, accents
# folded), exactly as the SQLite store indexes it; PostgreSQL only splits the analysed text
# on spaces, through a copy of the ``simple`` configuration (no stems, no stop words).
ANALYSED_CONFIG = "fiable_analysed"


def analysed_tsvector(expression: str) -> str:
    """SQL for the tsvector of already analysed text (space-separated index tokens)."""
    return f"to_tsvector('{ANALYSED_CONFIG}', {expression})"


ANALYSED_POSTINGS = _postings_from_new_chunks(analysed_tsvector)


def analysed_length(expression: str) -> str:
    """SQL for the number of index tokens in analysed text (BM25's document length)."""
    return _token_count(analysed_tsvector, expression)


def _recount_collections(conn: Any) -> None:
    """Each collection's chunk count and total indexed length (BM25's statistics), anew."""
    conn.execute(
        """UPDATE collections c SET n_chunks = COALESCE(s.n, 0), total_len = COALESCE(s.len, 0)
           FROM collections c2 LEFT JOIN (SELECT collection_id, COUNT(*) AS n,
                                                 SUM(lex_len) AS len
                                          FROM chunks GROUP BY collection_id) s
                ON s.collection_id = c2.id
           WHERE c.id = c2.id""")


_LOCK_KEY = 7_405_113_901  # pg_advisory_xact_lock key: "fiable migrations"


def _initial(conn: Any) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    has_unaccent = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'").fetchone()
    conn.execute(f"CREATE TEXT SEARCH CONFIGURATION {TS_CONFIG} (COPY = english)")
    if has_unaccent:
        conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        conn.execute(f"ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG} ALTER MAPPING FOR "
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


def _porter_tokens(conn: Any) -> None:
    """Tokens and stems as SQLite's FTS5 (porter, unicode61) makes them, so both stores
    rank alike: the original Porter stemmer, no stop words dropped from documents (the
    query side drops them), hyphenated words indexed as their parts only. Postings and
    lengths are rebuilt."""
    accent = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'").fetchone()
    conn.execute("CREATE TEXT SEARCH DICTIONARY fiable_porter (TEMPLATE = snowball, "
                 "Language = porter)")
    chain = "unaccent, fiable_porter" if accent else "fiable_porter"
    conn.execute(f"ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG} ALTER MAPPING FOR asciiword, "
                 f"word, numword, hword_part, hword_asciipart, hword_numpart WITH {chain}")
    conn.execute(f"ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG} DROP MAPPING IF EXISTS FOR "
                 "asciihword, hword, numhword")
    conn.execute("TRUNCATE postings")
    conn.execute(NEW_CHUNKS_TABLE)
    conn.execute(
        f"""INSERT INTO _new_chunks
            SELECT k.id, k.collection_id, k.text, c.context, {lexical_length("k.text || ' ' || c.context")}
            FROM chunks k JOIN documents d ON d.id = k.document_id,
            LATERAL (SELECT d.title || ' ' || COALESCE(string_agg(h, ' '), '') AS context
                     FROM jsonb_array_elements_text(k.heading_path::jsonb) h) c""")
    conn.execute("UPDATE chunks SET lex_len = n.lex_len FROM _new_chunks n WHERE chunks.id = n.id")
    conn.execute(POSTINGS_FROM_NEW_CHUNKS)
    _recount_collections(conn)


def drop_vector_indexes(conn: Any) -> None:
    conn.execute("DROP INDEX IF EXISTS chunks_embedding_hnsw")
    conn.execute("DROP INDEX IF EXISTS chunks_embedding_bq")


def ensure_vector_index(conn: Any, dimension: int) -> None:
    """The HNSW index on the binary-quantised vectors of ``dimension`` (an expression
    index needs a fixed one), replacing any earlier vector index."""
    drop_vector_indexes(conn)
    if dimension > 0:
        conn.execute(f"CREATE INDEX chunks_embedding_bq ON chunks USING hnsw "
                     f"((binary_quantize(embedding)::bit({int(dimension)})) bit_hamming_ops)")


def _binary_index(conn: Any) -> None:
    """The halfvec HNSW index (~1.1 GB per million 384-d vectors) becomes one on binary-
    quantised vectors (~0.33 GB) with an exact re-rank; see postgres.py."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'embedding_dimension'").fetchone()
    ensure_vector_index(conn, int(row["value"]) if row else 0)


def _feedback_and_keys(conn: Any) -> None:
    conn.execute("""CREATE TABLE feedback (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        trace_id TEXT NOT NULL, created_at TEXT NOT NULL, record TEXT NOT NULL)""")
    conn.execute("CREATE INDEX feedback_trace ON feedback(trace_id, id)")
    conn.execute("""CREATE TABLE api_keys (
        name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
        revoked_at TEXT)""")


def _governance(conn: Any) -> None:
    """The hash-chained audit trail and its retention checkpoints (see migrations.py)."""
    conn.execute("""CREATE TABLE audit (
        seq BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        payload TEXT NOT NULL, content TEXT, prev TEXT NOT NULL, hash TEXT NOT NULL)""")
    conn.execute("CREATE INDEX audit_at ON audit(at)")
    conn.execute("CREATE INDEX audit_action ON audit(action, seq)")
    conn.execute("""CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, at TEXT NOT NULL, pruned BIGINT NOT NULL)""")


def _languages(conn: Any) -> None:
    """Languages and per-collection embedders (see the SQLite store's 006_languages): each
    chunk's ``language`` (its document's, detected for documents stored before), each
    collection's ``embedding_model``, and the postings rebuilt over text analysed per
    language by fiable.lexical (the vector index keeps one dimension per database)."""
    from ..lexical import chunk_languages, document_language, index_text

    conn.execute(f"CREATE TEXT SEARCH CONFIGURATION {ANALYSED_CONFIG} (COPY = simple)")
    conn.execute("ALTER TABLE chunks ADD COLUMN language TEXT NOT NULL DEFAULT 'en'")
    conn.execute("ALTER TABLE collections ADD COLUMN embedding_model TEXT")
    conn.execute("ALTER TABLE collections ADD COLUMN embedding_dimension INTEGER")
    model = conn.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
    dim = conn.execute("SELECT value FROM meta WHERE key = 'embedding_dimension'").fetchone()
    if model is not None:
        conn.execute("""UPDATE collections c SET embedding_model = %s, embedding_dimension = %s
                        WHERE EXISTS (SELECT 1 FROM chunks k WHERE k.collection_id = c.id)""",
                     (model["value"], int(dim["value"]) if dim else 0))
    conn.execute("TRUNCATE postings")
    conn.execute(NEW_CHUNKS_TABLE)
    for d in conn.execute("SELECT id, collection_id, title, metadata FROM documents "
                          "ORDER BY id").fetchall():
        rows = conn.execute("SELECT id, text, heading_path FROM chunks WHERE document_id = %s "
                            "ORDER BY ordinal", (d["id"],)).fetchall()
        meta = json.loads(d["metadata"] or "{}")
        language = meta.get("language") or document_language(r["text"] for r in rows)
        if meta.get("language") != language:
            meta["language"] = language
            conn.execute("UPDATE documents SET metadata = %s WHERE id = %s",
                         (json.dumps(meta, sort_keys=True), d["id"]))
        for r, lang in zip(rows, chunk_languages([r["text"] for r in rows], language)):
            context = " ".join((d["title"], *json.loads(r["heading_path"] or "[]")))
            text, ctx = index_text(r["text"], lang), index_text(context, lang)
            conn.execute("INSERT INTO _new_chunks VALUES (%s, %s, %s, %s, 0)",
                         (r["id"], d["collection_id"], text, ctx))
            conn.execute("UPDATE chunks SET language = %s WHERE id = %s", (lang, r["id"]))
    length = analysed_length("text || ' ' || context")
    conn.execute(f"UPDATE _new_chunks SET lex_len = {length}")
    conn.execute("UPDATE chunks SET lex_len = n.lex_len FROM _new_chunks n WHERE chunks.id = n.id")
    conn.execute(ANALYSED_POSTINGS)
    _recount_collections(conn)


def _conversations(conn: Any) -> None:
    """Conversations and their turns (see migrations.py, 007_conversations)."""
    conn.execute("""CREATE TABLE conversations (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""")
    conn.execute("CREATE INDEX conversations_owner ON conversations(owner, updated_at)")
    conn.execute("""CREATE TABLE conversation_turns (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL, trace_id TEXT, record TEXT NOT NULL)""")
    conn.execute("CREATE INDEX conversation_turns_thread ON conversation_turns(conversation_id, id)")


PG_MIGRATIONS: list[tuple[str, Callable[[Any], None]]] = [
    ("001_initial", _initial),
    ("002_porter_tokens", _porter_tokens),
    ("003_binary_index", _binary_index),
    ("004_feedback_and_keys", _feedback_and_keys),
    ("005_governance", _governance),
    ("006_languages", _languages),
    ("007_conversations", _conversations),
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
