"""The embedded Store: one SQLite file (WAL) with FTS5 for BM25 and float32 vector blobs.

Dense search is exact: the vectors of the searched collections are loaded once into a
float32 matrix (cached per store instance, invalidated by a version counter that every
write bumps, also across processes) and scored with one matrix-vector product. At 384
dimensions that is ~1.5 MB per 1,000 chunks and a few milliseconds per query at 100k
chunks; past that, the path is an ANN index behind the same ``vector_search`` method
(sqlite-vec or hnswlib here, pgvector HNSW in the PostgreSQL store).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

from ..errors import EmbeddingModelMismatchError, StoreError
from ..lexical import DEFAULT_LANGUAGE, DEFAULT_QUERY_TERMS, index_text, query_terms, rarest_terms
from ._common import (ERASED_TITLE, MODELS_SQL, check_chunks_match_vectors, check_collection_name, document_info,
                      document_write, key_name_taken, missing_collections, model_of,
                      models_by_collection, missing_conversation, mixed_models_search, model_mismatch, now,
                      stored_chunk)
from .bm25_index import CONTEXT_WEIGHT, BM25Index
from .base import CollectionInfo, DocumentInfo, DocumentWrite, ScoredId, StoredChunk
from ..governance.chain import GENESIS, seal
from .migrations import apply_migrations

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)

_MAX_QUERY_TERMS = 1024  # analysed; the rarest max_terms are searched
# BM25 is scored in memory up to this many chunks (measured on SciFact: 65 postings a chunk,
# 12 bytes each, 59 MB and 1.4 s to build at 15k chunks, so ~0.4 GB and ~10 s at 100k);
# above, by FTS5 itself (same scores, ~20x slower on short queries).
_MEMORY_BM25_MAX_CHUNKS = 100_000


class SQLiteStore:
    """Store on a SQLite file. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._conn = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the workspace database {self.path}: {exc}",
                hint="check the file is a fiable workspace database and not damaged; "
                "restore it from a copy",
            ) from None
        self._lock = threading.RLock()
        self._matrix_cache: dict[tuple[str, ...] | None, tuple[int, np.ndarray, np.ndarray]] = {}
        self._languages_cache: dict[Any, tuple[int, tuple[str, ...]]] = {}
        self._bm25_cache: tuple[int, BM25Index | None] | None = None
        self._bm25_building: threading.Thread | None = None
        with self._write() as conn:
            apply_migrations(conn)
        # document frequency per index term, for the rarest terms of a long query
        self._conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab "
                           "USING fts5vocab(main, 'chunks_fts', 'row')")

    # -- plumbing -----------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction; rolled back on any exception (KeyboardInterrupt too)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.wait_for_index()
        with self._lock:
            self._conn.close()

    def _meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    # -- collections --------------------------------------------------------------------
    def ensure_collection(self, name: str) -> None:
        name = check_collection_name(name)
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO collections(name, created_at) VALUES (?, ?)",
                (name, now()),
            )

    def collections(self) -> list[CollectionInfo]:
        rows = self._query(
            """SELECT c.name, c.created_at,
                      (SELECT COUNT(*) FROM documents d WHERE d.collection_id = c.id) AS docs,
                      (SELECT COUNT(*) FROM chunks k JOIN documents d ON d.id = k.document_id
                        WHERE d.collection_id = c.id) AS chunks
               FROM collections c ORDER BY c.name"""
        )
        return [CollectionInfo(r["name"], r["docs"], r["chunks"], r["created_at"]) for r in rows]

    def require_collections(self, names: Sequence[str]) -> None:
        missing_collections(names, (r["name"] for r in self._query("SELECT name FROM collections")))

    def _collection_id(self, conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
        if row is None:
            self.require_collections([name])
        return int(row["id"])

    # -- documents ----------------------------------------------------------------------
    def _document_rows(self, where: str, params: Sequence[Any]) -> list[DocumentInfo]:
        rows = self._query(
            f"""SELECT d.*, c.name AS collection,
                       (SELECT COUNT(*) FROM chunks k WHERE k.document_id = d.id) AS n_chunks
                FROM documents d JOIN collections c ON c.id = d.collection_id
                WHERE {where} ORDER BY d.source""",
            params,
        )
        return [document_info(r) for r in rows]

    def documents(self, collection: str) -> list[DocumentInfo]:
        self.require_collections([collection])
        return self._document_rows("c.name = ?", (collection,))

    def document(self, collection: str, source: str) -> DocumentInfo | None:
        found = self._document_rows("c.name = ? AND d.source = ?", (collection, source))
        return found[0] if found else None

    def embedding_models(self) -> dict[str, str]:
        """The model that built each collection's vectors (collections with none left out)."""
        return models_by_collection(self._query(MODELS_SQL))

    def embedding_model(self, collection: str | None = None) -> str | None:
        """The model of ``collection``'s vectors; without one, the model every collection
        shares (None when there are no vectors yet or collections differ)."""
        return model_of(self, collection)

    def _check_model(self, conn: sqlite3.Connection, collection_id: int, model: str,
                     dimension: int) -> None:
        """Refuse ``model``'s vectors in a collection that holds another model's; record it."""
        row = conn.execute("SELECT name, embedding_model FROM collections WHERE id = ?",
                           (collection_id,)).fetchone()
        has_chunks = conn.execute(
            "SELECT 1 FROM chunks k JOIN documents d ON d.id = k.document_id "
            "WHERE d.collection_id = ? LIMIT 1", (collection_id,)).fetchone() is not None
        stored = row["embedding_model"]
        if stored is not None and stored != model and has_chunks:
            raise model_mismatch(stored, model, row["name"])
        conn.execute("UPDATE collections SET embedding_model = ?, embedding_dimension = ? "
                     "WHERE id = ?", (model, dimension, collection_id))

    @staticmethod
    def _bump_version(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vectors_version'"
        )

    @staticmethod
    def _delete_document(conn: sqlite3.Connection, document_id: int) -> None:
        conn.execute(
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?)",
            (document_id,),
        )
        conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))

    def replace_documents(
        self, collection: str, items: Sequence[DocumentWrite], *, embedding_model: str
    ) -> list[int]:
        ids: list[int] = []
        if not items:
            return ids
        dimension = int(items[0].vectors.shape[1]) if items[0].vectors.ndim == 2 else 0
        with self._write() as conn:
            collection_id = self._collection_id(conn, collection)
            self._check_model(conn, collection_id, embedding_model, dimension)
            for item in items:
                check_chunks_match_vectors(item)
                languages = _chunk_languages(item)
                old = conn.execute(
                    "SELECT id FROM documents WHERE collection_id = ? AND source = ?",
                    (collection_id, item.source),
                ).fetchone()
                if old is not None:
                    self._delete_document(conn, int(old["id"]))
                cur = conn.execute(
                    """INSERT INTO documents(collection_id, source, title, format, content_hash,
                           pipeline, size_bytes, pages, metadata, ingested_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        collection_id,
                        item.source,
                        item.title,
                        item.format,
                        item.content_hash,
                        item.pipeline,
                        item.size_bytes,
                        item.pages,
                        json.dumps(item.metadata, sort_keys=True),
                        now(),
                    ),
                )
                doc_id = int(cur.lastrowid or 0)
                ids.append(doc_id)
                vectors = np.ascontiguousarray(item.vectors, dtype=np.float32)
                for chunk, vector, language in zip(item.chunks, vectors, languages):
                    cur = conn.execute(
                        """INSERT INTO chunks(document_id, ordinal, text, heading_path,
                               page_start, page_end, char_start, char_end, token_count,
                               content_hash, embedding, language)
                           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        (
                            doc_id,
                            chunk.ordinal,
                            chunk.text,
                            json.dumps(list(chunk.heading_path), ensure_ascii=False),
                            chunk.page_start,
                            chunk.page_end,
                            chunk.char_start,
                            chunk.char_end,
                            chunk.token_count,
                            chunk.content_hash,
                            vector.tobytes(),
                            language,
                        ),
                    )
                    context = " ".join((item.title, *chunk.heading_path))
                    conn.execute(
                        "INSERT INTO chunks_fts(rowid, text, context) VALUES (?, ?, ?)",
                        (cur.lastrowid, index_text(chunk.text, language),
                         index_text(context, language)),
                    )
            self._bump_version(conn)
        return ids

    def delete_documents(self, collection: str, sources: Iterable[str]) -> int:
        removed = 0
        with self._write() as conn:
            collection_id = self._collection_id(conn, collection)
            for source in sources:
                row = conn.execute(
                    "SELECT id FROM documents WHERE collection_id = ? AND source = ?",
                    (collection_id, source),
                ).fetchone()
                if row is not None:
                    self._delete_document(conn, int(row["id"]))
                    removed += 1
            self._bump_version(conn)
        return removed

    def reembed(
        self,
        vectors_for: Callable[[list[tuple[str, tuple[str, ...], str]]], np.ndarray],
        *,
        embedding_model: str,
        batch: int = 256,
        collections: Sequence[str] | None = None,
    ) -> int:
        """Replace every chunk's vector in ``collections`` (all by default) with
        ``vectors_for(texts_with_context)``, atomically.

        ``vectors_for`` receives a list of (title, heading_path, text) and returns vectors.
        Each document's pipeline signature names the new model afterwards, so the next
        ingest does not re-embed unchanged files a second time.
        """
        names = list(collections) if collections is not None else [
            c.name for c in self.collections()]
        self.require_collections(names)
        previous = self.embedding_models()
        where, params = self._collection_filter(names)
        rows = self._query(
            f"""SELECT k.id, k.text, k.heading_path, d.title FROM chunks k
               JOIN documents d ON d.id = k.document_id
               JOIN collections col ON col.id = d.collection_id
               WHERE 1{where} ORDER BY k.id""", params
        )
        dimension = 0
        updates: list[tuple[bytes, int]] = []
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            vecs = vectors_for(
                [(r["title"], tuple(json.loads(r["heading_path"])), r["text"]) for r in part]
            )
            dimension = int(vecs.shape[1])
            updates += [(v.astype(np.float32).tobytes(), r["id"]) for v, r in zip(vecs, part)]
        with self._write() as conn:
            conn.executemany("UPDATE chunks SET embedding = ? WHERE id = ?", updates)
            for name in names:
                collection_id = self._collection_id(conn, name)
                if name in previous:
                    conn.execute(
                        "UPDATE documents SET pipeline = replace(pipeline, ?, ?) "
                        "WHERE collection_id = ?",
                        (f"embedder={previous[name]}", f"embedder={embedding_model}",
                         collection_id),
                    )
                conn.execute("UPDATE collections SET embedding_model = NULL WHERE id = ?",
                             (collection_id,))
                self._check_model(conn, collection_id, embedding_model, dimension)
            self._bump_version(conn)
        return len(updates)

    def export_documents(self, collection: str,
                         sources: Collection[str] | None = None) -> Iterator[DocumentWrite]:
        """Every document of ``collection`` (only those of ``sources`` when given) with its
        chunks and vectors (``fiable store copy``, erasure)."""
        for info in self.documents(collection):
            if sources is not None and info.source not in sources:
                continue
            rows = self._query("SELECT * FROM chunks WHERE document_id = ? ORDER BY ordinal",
                               (info.id,))
            yield document_write(info, rows,
                                 [np.frombuffer(r["embedding"], dtype=np.float32) for r in rows])

    # -- search -------------------------------------------------------------------------
    def _collection_filter(self, collections: Sequence[str] | None) -> tuple[str, list[Any]]:
        if collections is None:
            return "", []
        self.require_collections(collections)
        marks = ", ".join("?" for _ in collections)
        return f" AND col.name IN ({marks})", list(collections)

    def languages(self, collections: Sequence[str] | None = None) -> list[str]:
        """The languages of the chunks in ``collections`` (all when None), most chunks first
        (what a query is analysed in; cached until the next write)."""
        key = ("languages", None if collections is None else tuple(sorted(collections)))
        version = int(self._meta("vectors_version") or 0)
        cached = self._languages_cache.get(key)
        if cached is not None and cached[0] == version:
            return list(cached[1])
        where, params = self._collection_filter(collections)
        rows = self._query(
            f"""SELECT k.language, COUNT(*) AS n FROM chunks k
                JOIN documents d ON d.id = k.document_id
                JOIN collections col ON col.id = d.collection_id
                WHERE 1{where} GROUP BY k.language ORDER BY n DESC, k.language""", params)
        found = tuple(r["language"] for r in rows)
        with self._lock:
            self._languages_cache[key] = (version, found)
        return list(found)

    def lexical_search(
        self, query: str, k: int, collections: Sequence[str] | None = None, *,
        max_terms: int = DEFAULT_QUERY_TERMS,
    ) -> list[ScoredId]:
        terms = query_terms(query, self.languages(collections), limit=_MAX_QUERY_TERMS)
        index = self._bm25_index()
        if index is not None:
            if max_terms and len(terms) > max_terms:
                terms = rarest_terms(terms, index.document_frequency(terms), max_terms)
            return index.search(terms, k, None if collections is None
                                else self._collection_ids(collections))
        if max_terms and len(terms) > max_terms:
            terms = self._rarest(terms, max_terms)
        return self._fts_search(terms, k, collections)

    def _fts_search(self, terms: Sequence[str], k: int,
                    collections: Sequence[str] | None) -> list[ScoredId]:
        """BM25 by FTS5 itself (stores too large for the in-memory index)."""
        if not terms or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        where, params = self._collection_filter(collections)
        rows = self._query(
            f"""SELECT f.rowid AS id, bm25(chunks_fts, 1.0, {CONTEXT_WEIGHT}) AS score
                FROM chunks_fts f
                JOIN chunks k ON k.id = f.rowid
                JOIN documents d ON d.id = k.document_id
                JOIN collections col ON col.id = d.collection_id
                WHERE chunks_fts MATCH ?{where}
                ORDER BY score, f.rowid LIMIT ?""",
            [match, *params, k],
        )
        return [(int(r["id"]), -float(r["score"])) for r in rows]

    def _bm25_index(self) -> BM25Index | None:
        """The in-memory BM25 index of the whole table, or None where FTS5 scores instead:
        above ``_MEMORY_BM25_MAX_CHUNKS`` chunks, and while the index is rebuilt after a
        write (in a background thread, so that no query waits for it; the first index of
        an opened store is built at once)."""
        version = int(self._meta("vectors_version") or 0)
        cached = self._bm25_cache
        if cached is not None and cached[0] == version:
            return cached[1]
        if cached is None:
            self._build_bm25(version)
            return self._bm25_cache[1] if self._bm25_cache else None
        with self._lock:
            if self._bm25_building is None or not self._bm25_building.is_alive():
                self._bm25_building = threading.Thread(
                    target=self._build_bm25, args=(version,), name="fiable-bm25", daemon=True)
                self._bm25_building.start()
        return None

    def _build_bm25(self, version: int) -> None:
        try:
            count = int(self._query("SELECT COUNT(*) AS n FROM chunks_fts")[0]["n"])
            index = BM25Index(self.index_rows()) if count <= _MEMORY_BM25_MAX_CHUNKS else None
        except sqlite3.ProgrammingError:  # the store was closed meanwhile
            return
        with self._lock:
            self._bm25_cache = (version, index)

    def wait_for_index(self, timeout: float | None = None) -> None:
        """Wait until a BM25 index being rebuilt after a write is ready (tests, benchmarks)."""
        building = self._bm25_building
        if building is not None:
            building.join(timeout)

    def index_rows(self) -> list[tuple[int, int, str, str]]:
        """Every row of the BM25 table: (chunk id, collection id, analysed text, analysed
        context), what :class:`~fiable.store.bm25_index.BM25Index` is built from."""
        rows = self._query(
            """SELECT f.rowid AS id, COALESCE(d.collection_id, -1) AS collection,
                      f.text, f.context FROM chunks_fts f
               LEFT JOIN chunks k ON k.id = f.rowid
               LEFT JOIN documents d ON d.id = k.document_id""")
        return [(r["id"], r["collection"], r["text"] or "", r["context"] or "") for r in rows]

    def _collection_ids(self, collections: Sequence[str]) -> list[int]:
        found = {r["name"]: int(r["id"]) for r in self._query("SELECT id, name FROM collections")}
        missing_collections(collections, found)
        return [found[name] for name in collections]

    def _rarest(self, terms: list[str], limit: int) -> list[str]:
        """The ``limit`` terms of ``terms`` in the fewest chunks (absent ones dropped)."""
        marks = ", ".join("?" for _ in terms)
        df = {r["term"]: int(r["doc"]) for r in self._query(
            f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN ({marks})", terms)}
        return rarest_terms(terms, df, limit)

    def _matrix(self, collections: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
        key = None if collections is None else tuple(sorted(collections))
        version = int(self._meta("vectors_version") or 0)
        cached = self._matrix_cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        where, params = self._collection_filter(collections)
        rows = self._query(
            f"""SELECT k.id, k.embedding FROM chunks k
                JOIN documents d ON d.id = k.document_id
                JOIN collections col ON col.id = d.collection_id
                WHERE 1{where} ORDER BY k.id""",
            params,
        )
        dim = self._search_dimension(collections)
        ids = np.fromiter((r["id"] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.empty((len(rows), dim), dtype=np.float32)
        for i, r in enumerate(rows):
            matrix[i] = np.frombuffer(r["embedding"], dtype=np.float32)
        with self._lock:
            self._matrix_cache[key] = (version, ids, matrix)
        return ids, matrix

    def _search_dimension(self, collections: Sequence[str] | None) -> int:
        """The vector size of ``collections`` (all when None), which must share one model."""
        rows = self._query("SELECT name, embedding_model, embedding_dimension FROM collections "
                           "WHERE embedding_model IS NOT NULL")
        rows = [r for r in rows if collections is None or r["name"] in collections]
        models = {r["embedding_model"]: r["name"] for r in rows}
        if len(models) > 1:
            raise mixed_models_search(models)
        return int(rows[0]["embedding_dimension"] or 0) if rows else 0

    def vector_search(
        self, vector: npt.NDArray[np.float32], k: int, collections: Sequence[str] | None = None
    ) -> list[ScoredId]:
        ids, matrix = self._matrix(collections)
        if len(ids) == 0 or k <= 0:
            return []
        if matrix.shape[1] != vector.shape[-1]:
            raise EmbeddingModelMismatchError(
                f"query vector has {vector.shape[-1]} dimensions, the index {matrix.shape[1]}",
                hint="use the embedder that built the index, or `fiable reindex`",
            )
        scores = matrix @ vector.astype(np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self._query(
            f"""SELECT k.*, d.source, d.title, col.name AS collection FROM chunks k
                JOIN documents d ON d.id = k.document_id
                JOIN collections col ON col.id = d.collection_id
                WHERE k.id IN ({marks})""",
            list(ids),
        )
        by_id = {r["id"]: stored_chunk(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    # -- ask log ------------------------------------------------------------------------
    def log_ask(self, record: dict[str, Any]) -> None:
        """Append one question/answer record (``fiable history`` reads them)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO asks(trace_id, created_at, question, record) VALUES (?, ?, ?, ?)",
                (record["trace_id"], now(), record["question"], json.dumps(record)),
            )

    def asks(self, limit: int = 20, trace_id: str | None = None) -> list[dict[str, Any]]:
        if trace_id:
            rows = self._query("SELECT record FROM asks WHERE trace_id = ?", (trace_id,))
        else:
            rows = self._query("SELECT record FROM asks ORDER BY id DESC LIMIT ?", (limit,))
        return [json.loads(r["record"]) for r in rows]

    # -- conversations ------------------------------------------------------------------
    def create_conversation(self, conversation_id: str, owner: str, title: str) -> dict[str, Any]:
        """A new, empty conversation of ``owner``; returns its summary."""
        at = now()
        with self._write() as conn:
            conn.execute("INSERT INTO conversations(id, owner, title, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)", (conversation_id, owner, title, at, at))
        return {"id": conversation_id, "owner": owner, "title": title, "created_at": at,
                "updated_at": at, "turns": 0}

    def conversations(self, owner: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Conversation summaries (with their number of turns), last updated first."""
        rows = self._query(
            "SELECT c.id, c.owner, c.title, c.created_at, c.updated_at, "
            "(SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation_id = c.id) AS turns "
            "FROM conversations c WHERE ? IS NULL OR c.owner = ? "
            "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?", (owner, owner, limit))
        return [dict(r) for r in rows]

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """One conversation with its turn records (oldest first, each with ``id`` and
        ``created_at``), or None."""
        with self._lock:
            head = self._conn.execute(
                "SELECT id, owner, title, created_at, updated_at FROM conversations WHERE id = ?",
                (conversation_id,)).fetchone()
            if head is None:
                return None
            turns = self._conn.execute(
                "SELECT id, created_at, record FROM conversation_turns "
                "WHERE conversation_id = ? ORDER BY id", (conversation_id,)).fetchall()
        return {**dict(head), "turns": [{**json.loads(t["record"]), "id": t["id"],
                                          "created_at": t["created_at"]} for t in turns]}

    def add_turn(self, conversation_id: str, record: dict[str, Any]) -> int:
        """Append one turn to a conversation (UnknownConversationError when it is gone)."""
        at = now()
        with self._write() as conn:
            if conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                            (at, conversation_id)).rowcount == 0:
                raise missing_conversation(conversation_id)
            cur = conn.execute("INSERT INTO conversation_turns(conversation_id, created_at, "
                               "trace_id, record) VALUES (?, ?, ?, ?)",
                               (conversation_id, at, record.get("trace_id"), json.dumps(record)))
            return int(cur.lastrowid or 0)

    def rename_conversation(self, conversation_id: str, title: str) -> bool:
        with self._write() as conn:
            return conn.execute("UPDATE conversations SET title = ? WHERE id = ?",
                                (title, conversation_id)).rowcount > 0

    def delete_conversation(self, conversation_id: str) -> bool:
        """Delete a conversation and its turns; False when there was none."""
        with self._write() as conn:
            return conn.execute("DELETE FROM conversations WHERE id = ?",
                                (conversation_id,)).rowcount > 0

    # -- feedback and API keys ----------------------------------------------------------
    def save_feedback(self, record: dict[str, Any]) -> int:
        """Append one feedback record (``trace_id`` required); return its id."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO feedback(trace_id, created_at, record) VALUES (?, ?, ?)",
                (record["trace_id"], record.get("created_at") or now(), json.dumps(record)))
            return int(cur.lastrowid or 0)

    def feedback(self, limit: int = 100, trace_id: str | None = None) -> list[dict[str, Any]]:
        """Feedback records (with ``id`` and ``created_at``), newest first."""
        sql = "SELECT id, created_at, record FROM feedback"
        params: list[Any] = []
        if trace_id is not None:
            sql += " WHERE trace_id = ?"
            params.append(trace_id)
        rows = self._query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [{**json.loads(r["record"]), "id": r["id"], "created_at": r["created_at"]}
                for r in rows]

    def add_api_key(self, name: str, key_hash: str) -> None:
        """Record a key's hash under ``name`` (UserError if the name is taken)."""
        try:
            with self._write() as conn:
                conn.execute("INSERT INTO api_keys(name, key_hash, created_at) VALUES (?, ?, ?)",
                             (name, key_hash, now()))
        except sqlite3.IntegrityError:
            raise key_name_taken(name) from None

    def api_keys(self) -> list[dict[str, Any]]:
        """Every key's name, creation and revocation time (never the hash)."""
        rows = self._query("SELECT name, created_at, revoked_at FROM api_keys ORDER BY name")
        return [dict(r) for r in rows]

    def api_key_name(self, key_hash: str) -> str | None:
        """The name of the live (not revoked) key with this hash, or None."""
        rows = self._query("SELECT name FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
                           (key_hash,))
        return rows[0]["name"] if rows else None

    def revoke_api_key(self, name: str) -> bool:
        with self._write() as conn:
            cur = conn.execute("UPDATE api_keys SET revoked_at = ? WHERE name = ? "
                               "AND revoked_at IS NULL", (now(), name))
            return cur.rowcount > 0

    # -- governance: access policy, audit trail, erasure ---------------------------------
    def access_policy(self) -> dict[str, Any]:
        """The access policy (``fiable.governance.access``); ``{}`` before the first grant."""
        raw = self._meta("access_policy")
        return json.loads(raw) if raw else {}

    def update_access_policy(self, change: Callable[[dict[str, Any]], dict[str, Any]]
                             ) -> dict[str, Any]:
        """Apply ``change`` to the policy inside one write transaction; return the result."""
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'access_policy'").fetchone()
            policy = change(json.loads(row["value"]) if row else {})
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('access_policy', ?)",
                         (json.dumps(policy, sort_keys=True),))
        return policy

    def append_audit(self, actor: str, action: str, payload: dict[str, Any],
                     content: dict[str, Any] | None = None) -> dict[str, Any]:
        """Seal and append one audit record after the current head (one transaction, so
        concurrent writers form one chain); return the row."""
        with self._write() as conn:
            head = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            if head is None:
                head = conn.execute("SELECT seq, hash FROM audit_checkpoints "
                                    "ORDER BY seq DESC LIMIT 1").fetchone()
            row = seal(int(head["seq"]) if head else 0, head["hash"] if head else GENESIS,
                       actor, action, payload, content)
            conn.execute("INSERT INTO audit(seq, at, actor, action, payload, content, prev, hash) "
                         "VALUES (:seq, :at, :actor, :action, :payload, :content, :prev, :hash)",
                         row)
        return row

    def audit_records(self, after_seq: int = 0, limit: int = 1000, *, until_seq: int | None = None,
                      action: str | None = None, since: str | None = None,
                      until: str | None = None, newest_first: bool = False
                      ) -> list[dict[str, Any]]:
        """Audit rows with ``seq > after_seq`` in chain order (at most ``limit``)."""
        sql, params = "SELECT * FROM audit WHERE seq > ?", [after_seq]
        for clause, value in (("seq <= ?", until_seq), ("action = ?", action),
                              ("at >= ?", since), ("at < ?", until)):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        order = " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        return [dict(r) for r in self._query(sql + order + " LIMIT ?", (*params, limit))]

    def audit_checkpoints(self) -> list[dict[str, Any]]:
        """Retention checkpoints, oldest first: records up to ``seq`` were deleted; ``hash`` was
        the last deleted record's."""
        return [dict(r) for r in self._query("SELECT * FROM audit_checkpoints ORDER BY seq")]

    def prune_audit(self, before: str) -> int:
        """Delete the audit records older than ``before`` (ISO time), leaving a checkpoint
        with the hash of the last one deleted; return how many were deleted."""
        with self._write() as conn:
            last = conn.execute("SELECT seq, hash FROM audit WHERE at < ? ORDER BY seq DESC "
                                "LIMIT 1", (before,)).fetchone()
            if last is None:
                return 0
            cur = conn.execute("DELETE FROM audit WHERE seq <= ?", (last["seq"],))
            conn.execute("INSERT INTO audit_checkpoints(seq, hash, at, pruned) VALUES (?, ?, ?, ?)",
                         (last["seq"], last["hash"], now(), cur.rowcount))
            return int(cur.rowcount)

    def find_records(self, needles: Sequence[str]) -> dict[str, list[Any]]:
        """Where any of ``needles`` occurs (case-insensitive) outside the documents: ask-log
        trace ids, feedback ids, evaluation run ids and audit seqs whose content holds it."""
        def hits(sql: str, column: str) -> list[Any]:
            found: set[Any] = set()
            for needle in needles:
                found |= {r[0] for r in self._query(
                    f"{sql} WHERE instr(lower({column}), ?) > 0", (needle.lower(),))}
            return sorted(found)

        return {"asks": hits("SELECT trace_id FROM asks", "record"),
                "feedback": hits("SELECT id FROM feedback", "record"),
                "eval_runs": hits("SELECT id FROM eval_runs", "items"),
                "audit": hits("SELECT seq FROM audit", "content"),
                "turns": hits("SELECT id FROM conversation_turns", "record"),
                "conversations": hits("SELECT id FROM conversations", "title")}

    def erase_records(self, *, asks: Sequence[str] = (), feedback: Sequence[int] = (),
                      eval_runs: Sequence[int] = (), audit: Sequence[int] = (),
                      turns: Sequence[int] = (), conversations: Sequence[str] = ()
                      ) -> dict[str, int]:
        """Delete ask-log records, feedback, evaluation runs and conversation turns, blank
        the titles of ``conversations`` and the content of audit records (their chain stays
        valid), in one transaction; return the counts."""
        counts = {}
        with self._write() as conn:
            for name, sql, ids in (
                    ("asks", "DELETE FROM asks WHERE trace_id = ?", asks),
                    ("feedback", "DELETE FROM feedback WHERE id = ?", feedback),
                    ("eval_runs", "DELETE FROM eval_runs WHERE id = ?", eval_runs),
                    ("turns", "DELETE FROM conversation_turns WHERE id = ?", turns),
                    ("conversations", f"UPDATE conversations SET title = '{ERASED_TITLE}' "
                                      "WHERE id = ?", conversations),
                    ("audit", "UPDATE audit SET content = NULL WHERE seq = ? "
                              "AND content IS NOT NULL", audit)):
                counts[name] = sum(conn.execute(sql, (i,)).rowcount for i in ids)
        return counts

    # -- evaluation runs ----------------------------------------------------------------
    def save_eval_run(self, summary: dict[str, Any], items: list[dict[str, Any]]) -> int:
        """Store one evaluation run (``summary`` has dataset, kind, split); return its id."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO eval_runs(created_at, dataset, kind, split, summary, items) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (summary.get("created_at") or now(), summary["dataset"], summary["kind"],
                 summary.get("split"), json.dumps(summary), json.dumps(items)),
            )
            return int(cur.lastrowid or 0)

    def eval_runs(self, limit: int = 50, dataset: str | None = None) -> list[dict[str, Any]]:
        """Run summaries (with ``id``), newest first; only ``dataset``'s when given."""
        sql = "SELECT id, summary FROM eval_runs"
        params: list[Any] = []
        if dataset is not None:
            sql += " WHERE dataset = ?"
            params.append(dataset)
        rows = self._query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [{**json.loads(r["summary"]), "id": r["id"]} for r in rows]

    def eval_run(self, run_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """One run's summary and per-item results, or None."""
        rows = self._query("SELECT id, summary, items FROM eval_runs WHERE id = ?", (run_id,))
        if not rows:
            return None
        return {**json.loads(rows[0]["summary"]), "id": rows[0]["id"]}, json.loads(rows[0]["items"])


def _chunk_languages(item: DocumentWrite) -> list[str]:
    """Each chunk's language: given per chunk, else the document's ``metadata["language"]``,
    else the default."""
    if item.chunk_languages:
        return list(item.chunk_languages)
    return [item.metadata.get("language") or DEFAULT_LANGUAGE] * len(item.chunks)
