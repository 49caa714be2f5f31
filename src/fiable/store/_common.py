"""What every Store implementation shares: names, errors, time stamps, row mapping."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from ..errors import (EmbeddingModelMismatchError, StoreError, UnknownCollectionError,
                      UnknownConversationError, UserError)
from ..chunking import Chunk
from .base import DocumentInfo, DocumentWrite, StoredChunk

__all__ = ["ERASED_TITLE", "model_of", "missing_conversation", "check_chunks_match_vectors", "check_collection_name", "key_name_taken", "document_info", "document_write", "missing_collections", "mixed_models_search", "model_mismatch",
           "now", "stored_chunk"]


ERASED_TITLE = "[erased]"  # a conversation title that named an erased subject


def missing_conversation(conversation_id: str) -> UnknownConversationError:
    return UnknownConversationError(f"no conversation {conversation_id!r}",
                                    hint="list yours with `fiable conversations` or "
                                    "GET /v1/conversations, or start a new one")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_collection_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or any(c in name for c in "/\\\n\t"):
        raise UserError(
            f"invalid collection name {name!r}",
            hint="use 1-100 characters without slashes, tabs or newlines",
        )
    return name


def missing_collections(names: Sequence[str], known: Iterable[str]) -> None:
    """Raise UnknownCollectionError naming the ``names`` not in ``known``."""
    known = set(known)
    missing = [n for n in names if n not in known]
    if missing:
        listing = ", ".join(sorted(known)) or "none yet"
        raise UnknownCollectionError(
            f"unknown collection {', '.join(map(repr, missing))}",
            hint=f"existing collections: {listing}; ingest into a new one with "
            f"`fiable ingest PATH --collection NAME`",
        )


def model_mismatch(stored: str, given: str, collection: str | None = None
                   ) -> EmbeddingModelMismatchError:
    where = f"collection {collection!r}" if collection else "this workspace's index"
    return EmbeddingModelMismatchError(
        f"{where} was built with embedder {stored!r}, "
        f"not {given!r}; one collection cannot mix two embedding models",
        hint=f"set embedder back to the one that built the index, or run "
        f"`fiable reindex` to re-embed every chunk with {given!r}",
    )


def mixed_models_search(models: Mapping[str, str]) -> EmbeddingModelMismatchError:
    """One vector search over collections embedded by different models (``models``: model
    -> a collection holding it): their vectors are not comparable."""
    listing = ", ".join(f"{name!r} ({model})" for model, name in sorted(models.items()))
    return EmbeddingModelMismatchError(
        f"collections {listing} were embedded by different models; one vector search "
        f"cannot compare their vectors",
        hint="search each embedder's collections with its own query vector "
        "(fiable.retrieval.hybrid_search does), or `fiable reindex` them with one embedder",
    )


def document_info(r: Mapping[str, Any]) -> DocumentInfo:
    """A DocumentInfo from a row with the documents columns, ``collection`` and ``n_chunks``."""
    return DocumentInfo(
        id=r["id"], collection=r["collection"], source=r["source"], title=r["title"],
        format=r["format"], content_hash=r["content_hash"], pipeline=r["pipeline"],
        size_bytes=r["size_bytes"], pages=r["pages"], chunks=r["n_chunks"],
        ingested_at=r["ingested_at"], metadata=json.loads(r["metadata"] or "{}"),
    )


def stored_chunk(r: Mapping[str, Any]) -> StoredChunk:
    """A StoredChunk from a row with the chunks columns, ``source``, ``title``, ``collection``."""
    return StoredChunk(
        id=r["id"], document_id=r["document_id"], collection=r["collection"],
        source=r["source"], title=r["title"], ordinal=r["ordinal"], text=r["text"],
        heading_path=tuple(json.loads(r["heading_path"])), page_start=r["page_start"],
        page_end=r["page_end"], char_start=r["char_start"], char_end=r["char_end"],
        content_hash=r["content_hash"],
        language=r["language"] if "language" in r.keys() else "und",
    )


def document_write(info: DocumentInfo, rows: Sequence[Mapping[str, Any]],
                   vectors: Sequence[Any]) -> DocumentWrite:
    """A stored document back in the form ``replace_documents`` takes (``rows``: its chunks
    in order, with the chunks columns; ``vectors``: one per row)."""
    import numpy as np

    return DocumentWrite(
        source=info.source, title=info.title, format=info.format,
        content_hash=info.content_hash, pipeline=info.pipeline, size_bytes=info.size_bytes,
        pages=info.pages, metadata=info.metadata,
        chunks=[Chunk(ordinal=r["ordinal"], text=r["text"],
                      heading_path=tuple(json.loads(r["heading_path"])),
                      page_start=r["page_start"], page_end=r["page_end"],
                      char_start=r["char_start"], char_end=r["char_end"],
                      token_count=r["token_count"], content_hash=r["content_hash"])
                for r in rows],
        vectors=np.array(list(vectors), dtype=np.float32).reshape(len(rows), -1),
        chunk_languages=tuple(r["language"] for r in rows)
        if rows and "language" in rows[0].keys() else (),
    )


def check_chunks_match_vectors(item: DocumentWrite) -> None:
    if len(item.chunks) != len(item.vectors):
        raise StoreError(
            f"{item.source}: {len(item.chunks)} chunks but {len(item.vectors)} vectors",
            hint="this is a bug in the caller; please report it",
        )


def key_name_taken(name: str) -> UserError:
    return UserError(f"an API key named {name!r} exists already",
                     hint="choose another name, or revoke that key first "
                     "(`fiable keys revoke NAME`)")


MODELS_SQL = ("SELECT name, embedding_model FROM collections WHERE embedding_model IS NOT NULL "
              "ORDER BY name")


def models_by_collection(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``store.embedding_models()`` from the rows of :data:`MODELS_SQL`."""
    return {r["name"]: r["embedding_model"] for r in rows}


def model_of(store: Any, collection: str | None) -> str | None:
    """``store.embedding_model(collection)`` from ``store.embedding_models()``: the model of
    ``collection``'s vectors, or without one the model every collection shares (None when
    there are no vectors yet or collections differ)."""
    if collection is not None:
        store.require_collections([collection])
        return store.embedding_models().get(collection)  # type: ignore[no-any-return]
    models = set(store.embedding_models().values())
    return models.pop() if len(models) == 1 else None
