"""The Store contract.

A store keeps collections, documents and their chunks (text, position, vector) and
answers lexical and vector searches. Checked by ``tests/contracts/store.py`` for every
implementation.

Contract:
- ``replace_documents(collection, items)`` writes each (document, chunks, vectors) in ONE
  transaction, replacing any document with the same ``source`` in that collection: after a
  crash or an exception, either all of the batch is stored or none of it is, and what was
  stored before is intact.
- ``delete_documents(collection, sources)`` removes documents and their chunks, atomically.
- Searches only see chunks of the collections named (all collections when None) and
  return ``(chunk_id, score)`` best first, at most ``k``; lexical scores are BM25 (higher
  is better), vector scores cosine similarity. A lexical query with more distinct terms
  than ``max_terms`` searches for the ``max_terms`` found in the fewest chunks
  (``fiable.lexical.rarest_terms``).
- All vectors of one *collection* come from one embedding model: ``embedding_models()``
  says which for each collection (``embedding_model(name)`` for one), writing vectors of
  another model into it raises EmbeddingModelMismatchError, and so does one
  ``vector_search`` over collections of different models (their vectors are never
  compared: ``fiable.retrieval`` embeds the query once per model and fuses).
- Each chunk has a ``language`` (``DocumentWrite.chunk_languages``, else the document's
  ``metadata["language"]``, else English); lexical search indexes text analysed per
  language (``fiable.lexical``) and analyses a query in the languages of the collections
  it searches.
- Unknown collection names raise UnknownCollectionError (except in ``ensure_collection``).
- ``export_documents(collection)`` yields every document with its chunks and vectors, in
  the form ``replace_documents`` takes (``fiable store copy`` moves a workspace with it).
- ``reembed`` swaps every vector of the collections named (all by default) for a new
  model's, atomically (``fiable reindex``).
- The ask log (``log_ask``/``asks``), feedback and evaluation runs are append-only records.
- API keys are kept as hashes only; a revoked key never authenticates again.
- The access policy is one JSON document changed only by ``update_access_policy`` (one
  transaction); the audit trail is append-only and hash-chained (``append_audit`` seals
  each record after the head inside one transaction), ``prune_audit`` leaves a checkpoint.
- Erasure: ``find_records`` finds a subject's words outside the documents, ``erase_records``
  deletes those records and blanks audit content (the chain still verifies).
- Conversations (``create_conversation``, ``add_turn``, ...): a thread has an ``owner`` and
  its turns (JSON records, oldest first); ``conversations(owner)`` lists summaries last
  updated first; ``add_turn`` to a missing thread raises UnknownConversationError;
  deleting a thread deletes its turns. The store does not check who asks: the owner check
  is :mod:`fiable.conversations`'s. ``find_records`` / ``erase_records`` cover turns and
  titles.
- Evaluation runs (``save_eval_run``) are kept in insertion order with increasing ids;
  ``eval_runs`` lists summaries newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Iterator, Protocol, Sequence

import numpy as np
import numpy.typing as npt

from ..chunking import Chunk
from ..lexical import DEFAULT_QUERY_TERMS

__all__ = [
    "CollectionInfo",
    "DocumentInfo",
    "DocumentWrite",
    "ScoredId",
    "Store",
    "StoredChunk",
]

ScoredId = tuple[int, float]


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    documents: int
    chunks: int
    created_at: str


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: int
    collection: str
    source: str
    title: str
    format: str
    content_hash: str
    pipeline: str
    size_bytes: int
    pages: int | None
    chunks: int
    ingested_at: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def language(self) -> str:
        """The document's language (ISO 639-1) detected at ingest; ``und`` before."""
        return self.metadata.get("language", "und")


@dataclass(frozen=True, slots=True)
class DocumentWrite:
    """One document to store, with its chunks and one vector per chunk."""

    source: str
    title: str
    format: str
    content_hash: str
    pipeline: str
    size_bytes: int
    pages: int | None
    chunks: Sequence[Chunk]
    vectors: npt.NDArray[np.float32]
    metadata: dict[str, str] = field(default_factory=dict)
    # one ISO 639-1 code per chunk; empty: every chunk in metadata["language"] (or English)
    chunk_languages: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: int
    document_id: int
    collection: str
    source: str
    title: str
    ordinal: int
    text: str
    heading_path: tuple[str, ...]
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int
    content_hash: str
    language: str = "und"  # ISO 639-1, detected at ingest ("und" for a row without one)


class Store(Protocol):
    def ensure_collection(self, name: str) -> None: ...

    def collections(self) -> list[CollectionInfo]: ...

    def require_collections(self, names: Sequence[str]) -> None: ...

    def documents(self, collection: str) -> list[DocumentInfo]: ...

    def document(self, collection: str, source: str) -> DocumentInfo | None: ...

    def replace_documents(
        self, collection: str, items: Sequence[DocumentWrite], *, embedding_model: str
    ) -> list[int]: ...

    def delete_documents(self, collection: str, sources: Iterable[str]) -> int: ...

    def embedding_model(self, collection: str | None = None) -> str | None: ...

    def embedding_models(self) -> dict[str, str]: ...

    def languages(self, collections: Sequence[str] | None = None) -> list[str]: ...

    def lexical_search(
        self, query: str, k: int, collections: Sequence[str] | None = None, *,
        max_terms: int = DEFAULT_QUERY_TERMS,
    ) -> list[ScoredId]: ...

    def vector_search(
        self, vector: npt.NDArray[np.float32], k: int, collections: Sequence[str] | None = None
    ) -> list[ScoredId]: ...

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]: ...

    def export_documents(self, collection: str,
                         sources: Collection[str] | None = None) -> Iterator[DocumentWrite]: ...

    def reembed(
        self,
        vectors_for: Callable[[list[tuple[str, tuple[str, ...], str]]], npt.NDArray[np.float32]],
        *,
        embedding_model: str,
        batch: int = 256,
        collections: Sequence[str] | None = None,
    ) -> int: ...

    def log_ask(self, record: dict[str, Any]) -> None: ...

    def asks(self, limit: int = 20, trace_id: str | None = None) -> list[dict[str, Any]]: ...

    def save_eval_run(self, summary: dict[str, Any], items: list[dict[str, Any]]) -> int: ...

    def eval_runs(self, limit: int = 50, dataset: str | None = None) -> list[dict[str, Any]]: ...

    def eval_run(self, run_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None: ...

    def create_conversation(self, conversation_id: str, owner: str, title: str
                            ) -> dict[str, Any]: ...

    def conversations(self, owner: str | None = None, limit: int = 50
                      ) -> list[dict[str, Any]]: ...

    def conversation(self, conversation_id: str) -> dict[str, Any] | None: ...

    def add_turn(self, conversation_id: str, record: dict[str, Any]) -> int: ...

    def rename_conversation(self, conversation_id: str, title: str) -> bool: ...

    def delete_conversation(self, conversation_id: str) -> bool: ...

    def save_feedback(self, record: dict[str, Any]) -> int: ...

    def feedback(self, limit: int = 100, trace_id: str | None = None) -> list[dict[str, Any]]: ...

    def add_api_key(self, name: str, key_hash: str) -> None: ...

    def api_keys(self) -> list[dict[str, Any]]: ...

    def api_key_name(self, key_hash: str) -> str | None: ...

    def revoke_api_key(self, name: str) -> bool: ...

    def access_policy(self) -> dict[str, Any]: ...

    def update_access_policy(
        self, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]: ...

    def append_audit(self, actor: str, action: str, payload: dict[str, Any],
                     content: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def audit_records(self, after_seq: int = 0, limit: int = 1000, *,
                      until_seq: int | None = None, action: str | None = None,
                      since: str | None = None, until: str | None = None,
                      newest_first: bool = False) -> list[dict[str, Any]]: ...

    def audit_checkpoints(self) -> list[dict[str, Any]]: ...

    def prune_audit(self, before: str) -> int: ...

    def find_records(self, needles: Sequence[str]) -> dict[str, list[Any]]: ...

    def erase_records(self, *, asks: Sequence[str] = (), feedback: Sequence[int] = (),
                      eval_runs: Sequence[int] = (), audit: Sequence[int] = (),
                      turns: Sequence[int] = (), conversations: Sequence[str] = ()
                      ) -> dict[str, int]: ...

    def close(self) -> None: ...
