"""The team Store: PostgreSQL with pgvector, shared by several fiable replicas.

Same contract as the SQLite store (``fiable.store.base``), checked by the same suite.

- **Lexical search is BM25, computed exactly in SQL** with the formula SQLite's FTS5 uses
  (k1 = 1.2, b = 0.75, IDF = ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6, the chunk text
  weighted 1.0 and its title/headings 0.5), over postings of the text analysed per language
  by ``fiable.lexical`` exactly as the SQLite store indexes it (Snowball stems, accents
  folded), split by ``to_tsvector('fiable_analysed', ...)``; see pg_migrations.
  Postgres' own ``ts_rank`` is not BM25 (no IDF, no length saturation), which is why the
  postings exist. N and the average length are kept per collection and summed over all of
  them, as FTS5 does over its one table.
- **Dense search: exact (a scan) up to 20,000 chunks searched, else a pgvector HNSW index
  over binary-quantised vectors** (1 bit a dimension,
  Hamming distance: 48 bytes for MiniLM's 384 dimensions) gives a shortlist of 400, which
  is re-ranked exactly by cosine on the stored ``halfvec`` (16-bit floats). The index is a
  third of a ``halfvec`` HNSW index's size with the same top-10 agreement with exact search
  (benchmarks/postgres.py). ``hnsw.iterative_scan`` keeps collection-filtered searches
  complete.
- Writes hold a row lock on their collection, so two replicas writing one collection queue
  instead of colliding; migrations hold an advisory lock.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from typing import Any, Callable, Collection, Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, EmbeddingModelMismatchError, StoreError
from ..lexical import DEFAULT_LANGUAGE, DEFAULT_QUERY_TERMS, index_text, query_terms, rarest_terms
from ._common import (ERASED_TITLE, MODELS_SQL, check_chunks_match_vectors, check_collection_name, document_info,
                      document_write, key_name_taken, missing_collections, model_of,
                      models_by_collection, missing_conversation, mixed_models_search, model_mismatch, now,
                      stored_chunk)
from .base import CollectionInfo, DocumentInfo, DocumentWrite, ScoredId, StoredChunk
from ..governance.chain import GENESIS, seal
from .pg_migrations import (ANALYSED_POSTINGS, NEW_CHUNKS_TABLE, analysed_length,
                            analysed_tsvector, apply_pg_migrations, drop_vector_indexes,
                            ensure_vector_index)

__all__ = ["PostgresStore", "redact_url"]

logger = logging.getLogger(__name__)

_MAX_QUERY_TERMS = 1024  # analysed; the rarest max_terms are searched
_K1, _B = 1.2, 0.75
RERANK = 400  # shortlist from the binary index, re-ranked exactly on the halfvec vectors
# Searches over at most this many chunks are exact (a scan, no index): sign bits keep far
# less of multilingual-e5-small's neighbourhoods than of MiniLM's (its vectors share a large
# common direction: docs/multilingual.md), and a scan of 20k 384-d halfvecs is cheap.
EXACT_UP_TO = 20_000


_AUDIT_LOCK = 7_405_113_902  # pg_advisory_xact_lock keys: the audit chain, the policy
_POLICY_LOCK = 7_405_113_903


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ***, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _vector_text(vector: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vector.tolist()) + "]"


class PostgresStore:
    """Store on a PostgreSQL database with the pgvector extension. Thread-safe (a pool)."""

    def __init__(self, url: str, *, pool_size: int = 4, connect_timeout: float = 30.0) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigError(
                "the PostgreSQL store needs psycopg and psycopg-pool",
                hint="pip install 'fiable[postgres]'",
            ) from None
        self.url = url
        try:
            self._pool = ConnectionPool(
                url, min_size=1, max_size=pool_size, open=True, timeout=connect_timeout,
                kwargs={"row_factory": dict_row, "autocommit": False},
            )
            self._pool.wait(timeout=connect_timeout)
        except Exception as exc:  # PoolTimeout, OperationalError: the server is not there
            pool = getattr(self, "_pool", None)
            if pool is not None:
                pool.close()
            raise StoreError(
                f"cannot connect to PostgreSQL at {redact_url(url)}: {exc}",
                hint="check the server runs and the URL (user, host, database) in the "
                "`store` setting; the database needs the pgvector extension",
            ) from None
        try:
            with self._tx() as conn:
                applied = apply_pg_migrations(conn)
        except psycopg.Error as exc:
            self._pool.close()
            raise StoreError(
                f"cannot prepare the fiable schema in {redact_url(url)}: {exc}",
                hint="the database user needs CREATE rights, and the server the pgvector "
                "extension (https://github.com/pgvector/pgvector)",
            ) from None
        if applied:
            logger.info("postgres migrations applied", extra={"migrations": applied})

    # -- plumbing -----------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A connection inside one transaction: committed on success, rolled back otherwise."""
        with self._pool.connection() as conn:
            with conn.transaction():
                yield conn

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._tx() as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self._pool.close()

    def _meta(self, conn: Any, key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return row["value"] if row else None

    @staticmethod
    def _set_meta(conn: Any, key: str, value: str) -> None:
        conn.execute("INSERT INTO meta(key, value) VALUES (%s, %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # -- collections --------------------------------------------------------------------
    def ensure_collection(self, name: str) -> None:
        name = check_collection_name(name)
        with self._tx() as conn:
            conn.execute("INSERT INTO collections(name, created_at) VALUES (%s, %s) "
                         "ON CONFLICT (name) DO NOTHING", (name, now()))

    def collections(self) -> list[CollectionInfo]:
        rows = self._query(
            """SELECT c.name, c.created_at, c.n_chunks,
                      (SELECT COUNT(*) FROM documents d WHERE d.collection_id = c.id) AS docs
               FROM collections c ORDER BY c.name""")
        return [CollectionInfo(r["name"], r["docs"], r["n_chunks"], r["created_at"]) for r in rows]

    def require_collections(self, names: Sequence[str]) -> None:
        missing_collections(names, [r["name"] for r in self._query("SELECT name FROM collections")])

    def _collection_ids(self, conn: Any, names: Sequence[str]) -> list[int]:
        rows = conn.execute("SELECT id, name FROM collections WHERE name = ANY(%s)",
                            (list(names),)).fetchall()
        if len(rows) < len(set(names)):
            self.require_collections(names)
        return [r["id"] for r in rows]

    def _lock_collection(self, conn: Any, name: str) -> int:
        """The collection's id, its row locked until the transaction ends (writers queue)."""
        row = conn.execute("SELECT id FROM collections WHERE name = %s FOR UPDATE",
                           (name,)).fetchone()
        if row is None:
            self.require_collections([name])
        return int(row["id"])

    # -- documents ----------------------------------------------------------------------
    def _document_rows(self, where: str, params: Sequence[Any]) -> list[DocumentInfo]:
        rows = self._query(
            f"""SELECT d.*, c.name AS collection,
                       (SELECT COUNT(*) FROM chunks k WHERE k.document_id = d.id) AS n_chunks
                FROM documents d JOIN collections c ON c.id = d.collection_id
                WHERE {where} ORDER BY d.source""", params)
        return [document_info(r) for r in rows]

    def documents(self, collection: str) -> list[DocumentInfo]:
        self.require_collections([collection])
        return self._document_rows("c.name = %s", (collection,))

    def document(self, collection: str, source: str) -> DocumentInfo | None:
        found = self._document_rows("c.name = %s AND d.source = %s", (collection, source))
        return found[0] if found else None

    def embedding_models(self) -> dict[str, str]:
        """The model that built each collection's vectors (collections with none left out)."""
        return models_by_collection(self._query(MODELS_SQL))

    def embedding_model(self, collection: str | None = None) -> str | None:
        """The model of ``collection``'s vectors; without one, the model every collection
        shares (None when there are no vectors yet or collections differ)."""
        return model_of(self, collection)

    def _check_model(self, conn: Any, collection_id: int, model: str, dimension: int) -> None:
        """Refuse ``model``'s vectors in a collection holding another model's, or of another
        dimension than the database's vector index; record the collection's model."""
        row = conn.execute("SELECT name, embedding_model, embedding_dimension, n_chunks "
                           "FROM collections WHERE id = %s", (collection_id,)).fetchone()
        if row["embedding_model"] == model and row["embedding_dimension"] == dimension:
            return
        has_chunks = conn.execute("SELECT 1 FROM chunks WHERE collection_id = %s LIMIT 1",
                                  (collection_id,)).fetchone() is not None
        if row["embedding_model"] is not None and row["embedding_model"] != model and has_chunks:
            raise model_mismatch(row["embedding_model"], model, row["name"])
        indexed = self._meta(conn, "embedding_dimension")
        others = conn.execute("SELECT 1 FROM chunks WHERE collection_id <> %s LIMIT 1",
                              (collection_id,)).fetchone() is not None
        if indexed is not None and int(indexed) != dimension and others:
            raise EmbeddingModelMismatchError(
                f"collection {row['name']!r} would get {dimension}-d vectors of {model!r}; "
                f"the PostgreSQL store indexes one vector size ({indexed}) for all collections",
                hint="choose an embedder with the same dimension (MiniLM and "
                "multilingual-e5-small are both 384-d), or use a database per dimension")
        conn.execute("UPDATE collections SET embedding_model = %s, embedding_dimension = %s "
                     "WHERE id = %s", (model, dimension, collection_id))
        if indexed is None or int(indexed) != dimension:
            self._set_meta(conn, "embedding_dimension", str(dimension))
            self._ensure_vector_index(conn, dimension)

    @staticmethod
    def _ensure_vector_index(conn: Any, dimension: int) -> None:
        ensure_vector_index(conn, dimension)

    @staticmethod
    def _delete_document(conn: Any, document_id: int, collection_id: int) -> None:
        conn.execute(
            """UPDATE collections SET
                   n_chunks = n_chunks - s.n, total_len = total_len - s.len
               FROM (SELECT COUNT(*) AS n, COALESCE(SUM(lex_len), 0) AS len
                     FROM chunks WHERE document_id = %s) s
               WHERE id = %s""", (document_id, collection_id))
        conn.execute("DELETE FROM documents WHERE id = %s", (document_id,))

    def replace_documents(
        self, collection: str, items: Sequence[DocumentWrite], *, embedding_model: str
    ) -> list[int]:
        ids: list[int] = []
        if not items:
            return ids
        dimension = int(items[0].vectors.shape[1]) if items[0].vectors.ndim == 2 else 0
        with self._tx() as conn:
            collection_id = self._lock_collection(conn, collection)
            self._check_model(conn, collection_id, embedding_model, dimension)
            for item in items:
                check_chunks_match_vectors(item)
                old = conn.execute(
                    "SELECT id FROM documents WHERE collection_id = %s AND source = %s",
                    (collection_id, item.source)).fetchone()
                if old is not None:
                    self._delete_document(conn, int(old["id"]), collection_id)
                doc_id = conn.execute(
                    """INSERT INTO documents(collection_id, source, title, format, content_hash,
                           pipeline, size_bytes, pages, metadata, ingested_at)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                    (collection_id, item.source, item.title, item.format, item.content_hash,
                     item.pipeline, item.size_bytes, item.pages,
                     json.dumps(item.metadata, sort_keys=True), now())).fetchone()["id"]
                ids.append(int(doc_id))
                self._insert_chunks(conn, collection_id, int(doc_id), item)
        return ids

    @staticmethod
    def _insert_chunks(conn: Any, collection_id: int, doc_id: int, item: DocumentWrite) -> None:
        """One statement for the chunks, one for their postings, one for the BM25 totals."""
        if not item.chunks:
            return
        vectors = np.asarray(item.vectors, dtype=np.float32)
        languages = (list(item.chunk_languages) if item.chunk_languages else
                     [item.metadata.get("language") or DEFAULT_LANGUAGE] * len(item.chunks))
        cols = {
            "ordinal": [c.ordinal for c in item.chunks],
            "text": [c.text.replace("\x00", "") for c in item.chunks],
            "atext": [index_text(c.text, lang) for c, lang in zip(item.chunks, languages)],
            "acontext": [index_text(" ".join((item.title, *c.heading_path)), lang)
                         for c, lang in zip(item.chunks, languages)],
            "language": languages,
            "heading": [json.dumps(list(c.heading_path), ensure_ascii=False) for c in item.chunks],
            "page_start": [c.page_start for c in item.chunks],
            "page_end": [c.page_end for c in item.chunks],
            "char_start": [c.char_start for c in item.chunks],
            "char_end": [c.char_end for c in item.chunks],
            "tokens": [c.token_count for c in item.chunks],
            "hash": [c.content_hash for c in item.chunks],
            "vec": [_vector_text(v) for v in vectors],
        }
        conn.execute(NEW_CHUNKS_TABLE)
        conn.execute("TRUNCATE _new_chunks")
        conn.execute(
            f"""WITH r AS (
                    SELECT * FROM unnest(%(ordinal)s::int[], %(text)s::text[],
                        %(atext)s::text[], %(acontext)s::text[], %(language)s::text[],
                        %(heading)s::text[], %(page_start)s::int[],
                        %(page_end)s::int[], %(char_start)s::int[], %(char_end)s::int[],
                        %(tokens)s::int[], %(hash)s::text[], %(vec)s::halfvec[])
                    AS r(ordinal, text, atext, acontext, language, heading, page_start,
                         page_end, char_start, char_end, tokens, hash, vec)),
                lens AS (
                    SELECT r.*, {analysed_length("r.atext || ' ' || r.acontext")} AS lex_len
                    FROM r),
                ins AS (
                    INSERT INTO chunks(document_id, collection_id, ordinal, text, heading_path,
                        page_start, page_end, char_start, char_end, token_count, content_hash,
                        lex_len, embedding, language)
                    SELECT %(doc)s, %(col)s, ordinal, text, heading, page_start, page_end,
                           char_start, char_end, tokens, hash, lex_len, vec, language FROM lens
                    RETURNING id, ordinal, lex_len)
                INSERT INTO _new_chunks
                SELECT ins.id, %(col)s, r.atext, r.acontext, ins.lex_len
                FROM ins JOIN r USING (ordinal)""",
            {**cols, "doc": doc_id, "col": collection_id})
        conn.execute(ANALYSED_POSTINGS)
        conn.execute(
            """UPDATE collections SET n_chunks = n_chunks + s.n, total_len = total_len + s.len
               FROM (SELECT COUNT(*) AS n, COALESCE(SUM(lex_len), 0) AS len FROM _new_chunks) s
               WHERE id = %s""", (collection_id,))

    def delete_documents(self, collection: str, sources: Iterable[str]) -> int:
        removed = 0
        with self._tx() as conn:
            collection_id = self._lock_collection(conn, collection)
            for source in sources:
                row = conn.execute(
                    "SELECT id FROM documents WHERE collection_id = %s AND source = %s",
                    (collection_id, source)).fetchone()
                if row is not None:
                    self._delete_document(conn, int(row["id"]), collection_id)
                    removed += 1
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
        ``vectors_for(texts_with_context)``, atomically (see SQLiteStore.reembed); the HNSW
        index is rebuilt for the new dimension."""
        names = list(collections) if collections is not None else [
            c.name for c in self.collections()]
        previous = self.embedding_models()
        with self._tx() as conn:
            col_ids = self._collection_ids(conn, names) if names else []
        rows = self._query(
            """SELECT k.id, k.text, k.heading_path, d.title FROM chunks k
               JOIN documents d ON d.id = k.document_id
               WHERE k.collection_id = ANY(%s) ORDER BY k.id""", (col_ids,))
        dimension, ids, texts = 0, [], []
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            vecs = vectors_for(
                [(r["title"], tuple(json.loads(r["heading_path"])), r["text"]) for r in part])
            dimension = int(vecs.shape[1])
            ids += [r["id"] for r in part]
            texts += [_vector_text(v) for v in np.asarray(vecs, dtype=np.float32)]
        with self._tx() as conn:
            drop_vector_indexes(conn)
            conn.execute(
                """UPDATE chunks SET embedding = u.vec
                   FROM unnest(%s::bigint[], %s::halfvec[]) AS u(id, vec)
                   WHERE chunks.id = u.id""", (ids, texts))
            everything = set(names) >= {c["name"] for c in conn.execute(
                "SELECT name FROM collections").fetchall()}
            if everything:  # every vector changes: the index may take a new dimension
                conn.execute("DELETE FROM meta WHERE key IN "
                             "('embedding_model', 'embedding_dimension')")
            for name in names:
                collection_id = self._collection_ids(conn, [name])[0]
                if name in previous:
                    conn.execute("UPDATE documents SET pipeline = replace(pipeline, %s, %s) "
                                 "WHERE collection_id = %s",
                                 (f"embedder={previous[name]}", f"embedder={embedding_model}",
                                  collection_id))
                conn.execute("UPDATE collections SET embedding_model = NULL WHERE id = %s",
                             (collection_id,))
                self._check_model(conn, collection_id, embedding_model, dimension)
            dim = self._meta(conn, "embedding_dimension")
            indexed = conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = "
                                   "'chunks_embedding_bq'").fetchone()
            if dim is not None and indexed is None:
                self._ensure_vector_index(conn, int(dim))
        return len(ids)

    def export_documents(self, collection: str,
                         sources: Collection[str] | None = None) -> Iterator[DocumentWrite]:
        """Every document of ``collection`` (only those of ``sources`` when given) with its
        chunks and vectors (``fiable store copy``, erasure)."""
        for info in self.documents(collection):
            if sources is not None and info.source not in sources:
                continue
            rows = self._query(
                """SELECT ordinal, text, heading_path, page_start, page_end, char_start,
                          char_end, token_count, content_hash, language,
                          embedding::real[] AS vec
                   FROM chunks WHERE document_id = %s ORDER BY ordinal""", (info.id,))
            yield document_write(info, rows, [r["vec"] for r in rows])

    # -- search -------------------------------------------------------------------------
    def _collection_filter(self, conn: Any, collections: Sequence[str] | None) -> list[int] | None:
        if collections is None:
            return None
        return self._collection_ids(conn, collections)

    def languages(self, collections: Sequence[str] | None = None) -> list[str]:
        """The languages of the chunks in ``collections`` (all when None), most chunks first."""
        with self._tx() as conn:
            ids = self._collection_filter(conn, collections)
            rows = conn.execute(
                """SELECT language, COUNT(*) AS n FROM chunks
                   WHERE %(ids)s::bigint[] IS NULL OR collection_id = ANY(%(ids)s::bigint[])
                   GROUP BY language ORDER BY n DESC, language""", {"ids": ids}).fetchall()
        return [r["language"] for r in rows]

    def lexical_search(
        self, query: str, k: int, collections: Sequence[str] | None = None, *,
        max_terms: int = DEFAULT_QUERY_TERMS,
    ) -> list[ScoredId]:
        terms = query_terms(query, self.languages(collections), limit=_MAX_QUERY_TERMS)
        if not terms or k <= 0:
            return []
        terms = [t.replace("\x00", "") for t in terms]
        with self._tx() as conn:
            if max_terms and len(terms) > max_terms:  # the rarest, as the SQLite store picks them
                df = {r["lexeme"]: int(r["n"]) for r in conn.execute(
                    "SELECT lexeme, COUNT(*) AS n FROM postings WHERE lexeme = ANY(%s) "
                    "GROUP BY lexeme", (terms,)).fetchall()}
                terms = rarest_terms(terms, df, max_terms)
                if not terms:
                    return []
            text = " ".join(terms)
            ids = self._collection_filter(conn, collections)
            rows = conn.execute(
                f"""WITH q AS (
                        SELECT DISTINCT lexeme FROM unnest({analysed_tsvector("%(q)s")})),
                    st AS (SELECT GREATEST(SUM(n_chunks), 1)::float8 AS n,
                                  GREATEST(SUM(total_len)::float8 / GREATEST(SUM(n_chunks), 1),
                                           1) AS avgdl
                           FROM collections),
                    idf AS (
                        SELECT q.lexeme, GREATEST(ln((st.n - df.n + 0.5) / (df.n + 0.5)), 1e-6) AS w
                        FROM q, st, LATERAL (SELECT COUNT(*) AS n FROM postings p
                                             WHERE p.lexeme = q.lexeme) df
                        WHERE df.n > 0)
                    SELECT p.chunk_id AS id,
                           SUM(idf.w * p.tf * {_K1 + 1}
                               / (p.tf + {_K1} * (1 - {_B} + {_B} * p.dl / st.avgdl))) AS score
                    FROM idf JOIN postings p ON p.lexeme = idf.lexeme, st
                    WHERE %(ids)s::bigint[] IS NULL OR p.collection_id = ANY(%(ids)s::bigint[])
                    GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT %(k)s""",
                {"q": text, "ids": ids, "k": k}).fetchall()
        return [(int(r["id"]), float(r["score"])) for r in rows]

    def vector_search(
        self, vector: npt.NDArray[np.float32], k: int, collections: Sequence[str] | None = None
    ) -> list[ScoredId]:
        if k <= 0:
            return []
        with self._tx() as conn:
            ids = self._collection_filter(conn, collections)
            models = {r["embedding_model"]: r["name"] for r in conn.execute(
                """SELECT name, embedding_model FROM collections WHERE embedding_model IS NOT NULL
                   AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))""",
                {"ids": ids}).fetchall()}
            if len(models) > 1:
                raise mixed_models_search(models)
            dim = self._meta(conn, "embedding_dimension")
            if dim is None:
                return []
            if int(dim) != vector.shape[-1]:
                raise EmbeddingModelMismatchError(
                    f"query vector has {vector.shape[-1]} dimensions, the index {dim}",
                    hint="use the embedder that built the index, or `fiable reindex`",
                )
            cast = f"halfvec({int(dim)})"
            params = {"v": _vector_text(np.asarray(vector, dtype=np.float32)), "ids": ids, "k": k}
            size = conn.execute(
                """SELECT COALESCE(SUM(n_chunks), 0) AS n FROM collections
                   WHERE %(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[])""",
                {"ids": ids}).fetchone()["n"]
            if size <= EXACT_UP_TO:
                rows = conn.execute(
                    f"""SELECT id, embedding::{cast} <=> %(v)s::{cast} AS distance FROM chunks
                        WHERE %(ids)s::bigint[] IS NULL OR collection_id = ANY(%(ids)s::bigint[])
                        ORDER BY distance, id LIMIT %(k)s""", params).fetchall()
                return [(int(r["id"]), 1.0 - float(r["distance"])) for r in rows]
            shortlist = max(RERANK, 8 * k)
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true), "
                         "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                         (str(min(shortlist, 1000)),))
            rows = conn.execute(
                f"""SELECT id, embedding::{cast} <=> %(v)s::{cast} AS distance FROM (
                        SELECT id, embedding FROM chunks
                        WHERE %(ids)s::bigint[] IS NULL OR collection_id = ANY(%(ids)s::bigint[])
                        ORDER BY binary_quantize(embedding)::bit({int(dim)})
                                 <~> binary_quantize(%(v)s::{cast})
                        LIMIT %(n)s) shortlist
                    ORDER BY distance, id LIMIT %(k)s""",
                {**params, "n": shortlist}).fetchall()
        return [(int(r["id"]), 1.0 - float(r["distance"])) for r in rows]

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        if not ids:
            return []
        rows = self._query(
            """SELECT k.*, d.source, d.title, col.name AS collection FROM chunks k
               JOIN documents d ON d.id = k.document_id
               JOIN collections col ON col.id = d.collection_id
               WHERE k.id = ANY(%s)""", (list(ids),))
        by_id = {r["id"]: stored_chunk(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    # -- ask log ------------------------------------------------------------------------
    def log_ask(self, record: dict[str, Any]) -> None:
        """Append one question/answer record (``fiable history`` reads them)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO asks(trace_id, created_at, question, record) "
                         "VALUES (%s, %s, %s, %s)",
                         (record["trace_id"], now(), record["question"], json.dumps(record)))

    def asks(self, limit: int = 20, trace_id: str | None = None) -> list[dict[str, Any]]:
        if trace_id:
            rows = self._query("SELECT record FROM asks WHERE trace_id = %s", (trace_id,))
        else:
            rows = self._query("SELECT record FROM asks ORDER BY id DESC LIMIT %s", (limit,))
        return [json.loads(r["record"]) for r in rows]

    # -- conversations ------------------------------------------------------------------
    def create_conversation(self, conversation_id: str, owner: str, title: str) -> dict[str, Any]:
        at = now()
        with self._tx() as conn:
            conn.execute("INSERT INTO conversations(id, owner, title, created_at, updated_at) "
                         "VALUES (%s, %s, %s, %s, %s)", (conversation_id, owner, title, at, at))
        return {"id": conversation_id, "owner": owner, "title": title, "created_at": at,
                "updated_at": at, "turns": 0}

    def conversations(self, owner: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        return self._query(
            "SELECT c.id, c.owner, c.title, c.created_at, c.updated_at, "
            "(SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation_id = c.id) AS turns "
            "FROM conversations c WHERE %(o)s::text IS NULL OR c.owner = %(o)s "
            "ORDER BY c.updated_at DESC, c.ctid DESC LIMIT %(n)s", {"o": owner, "n": limit})

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            head = conn.execute("SELECT id, owner, title, created_at, updated_at FROM "
                                "conversations WHERE id = %s", (conversation_id,)).fetchone()
            if head is None:
                return None
            turns = conn.execute("SELECT id, created_at, record FROM conversation_turns "
                                 "WHERE conversation_id = %s ORDER BY id",
                                 (conversation_id,)).fetchall()
        return {**head, "turns": [{**json.loads(t["record"]), "id": t["id"],
                                   "created_at": t["created_at"]} for t in turns]}

    def add_turn(self, conversation_id: str, record: dict[str, Any]) -> int:
        at = now()
        with self._tx() as conn:
            if conn.execute("UPDATE conversations SET updated_at = %s WHERE id = %s",
                            (at, conversation_id)).rowcount == 0:
                raise missing_conversation(conversation_id)
            row = conn.execute("INSERT INTO conversation_turns(conversation_id, created_at, "
                               "trace_id, record) VALUES (%s, %s, %s, %s) RETURNING id",
                               (conversation_id, at, record.get("trace_id"),
                                json.dumps(record))).fetchone()
        return int(row["id"])

    def rename_conversation(self, conversation_id: str, title: str) -> bool:
        with self._tx() as conn:
            return conn.execute("UPDATE conversations SET title = %s WHERE id = %s",
                                (title, conversation_id)).rowcount > 0

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM conversations WHERE id = %s",
                                (conversation_id,)).rowcount > 0

    # -- feedback and API keys ----------------------------------------------------------
    def save_feedback(self, record: dict[str, Any]) -> int:
        """Append one feedback record (``trace_id`` required); return its id."""
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO feedback(trace_id, created_at, record) VALUES (%s, %s, %s) "
                "RETURNING id",
                (record["trace_id"], record.get("created_at") or now(), json.dumps(record))
            ).fetchone()
        return int(row["id"])

    def feedback(self, limit: int = 100, trace_id: str | None = None) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT id, created_at, record FROM feedback WHERE %(t)s::text IS NULL "
            "OR trace_id = %(t)s ORDER BY id DESC LIMIT %(n)s", {"t": trace_id, "n": limit})
        return [{**json.loads(r["record"]), "id": r["id"], "created_at": r["created_at"]}
                for r in rows]

    def add_api_key(self, name: str, key_hash: str) -> None:
        import psycopg

        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO api_keys(name, key_hash, created_at) "
                             "VALUES (%s, %s, %s)", (name, key_hash, now()))
        except psycopg.errors.UniqueViolation:
            raise key_name_taken(name) from None

    def api_keys(self) -> list[dict[str, Any]]:
        return self._query("SELECT name, created_at, revoked_at FROM api_keys ORDER BY name")

    def api_key_name(self, key_hash: str) -> str | None:
        rows = self._query("SELECT name FROM api_keys WHERE key_hash = %s "
                           "AND revoked_at IS NULL", (key_hash,))
        return rows[0]["name"] if rows else None

    def revoke_api_key(self, name: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute("UPDATE api_keys SET revoked_at = %s WHERE name = %s "
                               "AND revoked_at IS NULL", (now(), name))
            return cur.rowcount > 0

    # -- governance: access policy, audit trail, erasure ---------------------------------
    def access_policy(self) -> dict[str, Any]:
        with self._tx() as conn:
            raw = self._meta(conn, "access_policy")
        return json.loads(raw) if raw else {}

    def update_access_policy(self, change: Callable[[dict[str, Any]], dict[str, Any]]
                             ) -> dict[str, Any]:
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_POLICY_LOCK,))
            raw = self._meta(conn, "access_policy")
            policy = change(json.loads(raw) if raw else {})
            self._set_meta(conn, "access_policy", json.dumps(policy, sort_keys=True))
        return policy

    def append_audit(self, actor: str, action: str, payload: dict[str, Any],
                     content: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))  # one chain
            head = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            if head is None:
                head = conn.execute("SELECT seq, hash FROM audit_checkpoints "
                                    "ORDER BY seq DESC LIMIT 1").fetchone()
            row = seal(int(head["seq"]) if head else 0, head["hash"] if head else GENESIS,
                       actor, action, payload, content)
            conn.execute("INSERT INTO audit(seq, at, actor, action, payload, content, prev, hash) "
                         "VALUES (%(seq)s, %(at)s, %(actor)s, %(action)s, %(payload)s, "
                         "%(content)s, %(prev)s, %(hash)s)", row)
        return row

    def audit_records(self, after_seq: int = 0, limit: int = 1000, *, until_seq: int | None = None,
                      action: str | None = None, since: str | None = None,
                      until: str | None = None, newest_first: bool = False
                      ) -> list[dict[str, Any]]:
        return self._query(
            """SELECT * FROM audit WHERE seq > %(after)s
                 AND (%(until_seq)s::bigint IS NULL OR seq <= %(until_seq)s)
                 AND (%(action)s::text IS NULL OR action = %(action)s)
                 AND (%(since)s::text IS NULL OR at >= %(since)s)
                 AND (%(until)s::text IS NULL OR at < %(until)s)
               ORDER BY seq """ + ("DESC" if newest_first else "") + " LIMIT %(limit)s",
            {"after": after_seq, "until_seq": until_seq, "action": action, "since": since,
             "until": until, "limit": limit})

    def audit_checkpoints(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM audit_checkpoints ORDER BY seq")

    def prune_audit(self, before: str) -> int:
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
            last = conn.execute("SELECT seq, hash FROM audit WHERE at < %s ORDER BY seq DESC "
                                "LIMIT 1", (before,)).fetchone()
            if last is None:
                return 0
            cur = conn.execute("DELETE FROM audit WHERE seq <= %s", (last["seq"],))
            conn.execute("INSERT INTO audit_checkpoints(seq, hash, at, pruned) "
                         "VALUES (%s, %s, %s, %s)", (last["seq"], last["hash"], now(), cur.rowcount))
            return int(cur.rowcount)

    def find_records(self, needles: Sequence[str]) -> dict[str, list[Any]]:
        def hits(sql: str, column: str) -> list[Any]:
            found: set[Any] = set()
            for needle in needles:
                found |= {r["k"] for r in self._query(
                    f"{sql} WHERE strpos(lower({column}), %s) > 0", (needle.lower(),))}
            return sorted(found)

        return {"asks": hits("SELECT trace_id AS k FROM asks", "record"),
                "feedback": hits("SELECT id AS k FROM feedback", "record"),
                "eval_runs": hits("SELECT id AS k FROM eval_runs", "items"),
                "audit": hits("SELECT seq AS k FROM audit", "content"),
                "turns": hits("SELECT id AS k FROM conversation_turns", "record"),
                "conversations": hits("SELECT id AS k FROM conversations", "title")}

    def erase_records(self, *, asks: Sequence[str] = (), feedback: Sequence[int] = (),
                      eval_runs: Sequence[int] = (), audit: Sequence[int] = (),
                      turns: Sequence[int] = (), conversations: Sequence[str] = ()
                      ) -> dict[str, int]:
        counts = {}
        with self._tx() as conn:
            for name, sql, ids in (
                    ("asks", "DELETE FROM asks WHERE trace_id = ANY(%s)", list(asks)),
                    ("feedback", "DELETE FROM feedback WHERE id = ANY(%s)", list(feedback)),
                    ("eval_runs", "DELETE FROM eval_runs WHERE id = ANY(%s)", list(eval_runs)),
                    ("turns", "DELETE FROM conversation_turns WHERE id = ANY(%s)", list(turns)),
                    ("conversations", f"UPDATE conversations SET title = '{ERASED_TITLE}' "
                                      "WHERE id = ANY(%s)", list(conversations)),
                    ("audit", "UPDATE audit SET content = NULL WHERE seq = ANY(%s) "
                              "AND content IS NOT NULL", list(audit))):
                counts[name] = conn.execute(sql, (ids,)).rowcount if ids else 0
        return counts

    # -- evaluation runs ----------------------------------------------------------------
    def save_eval_run(self, summary: dict[str, Any], items: list[dict[str, Any]]) -> int:
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO eval_runs(created_at, dataset, kind, split, summary, items) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (summary.get("created_at") or now(), summary["dataset"], summary["kind"],
                 summary.get("split"), json.dumps(summary), json.dumps(items))).fetchone()
        return int(row["id"])

    def eval_runs(self, limit: int = 50, dataset: str | None = None) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT id, summary FROM eval_runs WHERE %(d)s::text IS NULL OR dataset = %(d)s "
            "ORDER BY id DESC LIMIT %(n)s", {"d": dataset, "n": limit})
        return [{**json.loads(r["summary"]), "id": r["id"]} for r in rows]

    def eval_run(self, run_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        rows = self._query("SELECT id, summary, items FROM eval_runs WHERE id = %s", (run_id,))
        if not rows:
            return None
        return {**json.loads(rows[0]["summary"]), "id": rows[0]["id"]}, json.loads(rows[0]["items"])
