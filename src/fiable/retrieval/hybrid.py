"""Hybrid retrieval: BM25 (lexical) and dense (vector) candidates, fused.

Two fusions, chosen by the ``fusion`` setting (``benchmarks/retrieval_sets.py`` measures
both on seven data sets, ``docs/retrieval.md``):

- ``rrf``: reciprocal rank fusion, ``sum(1 / (rrf_k + rank))`` over both lists;
- ``weighted``: each list's scores min-max normalised over its candidates, then
  ``dense_weight * dense + (1 - dense_weight) * lexical`` (a missing score counts 0).

Collections embedded by different models (a ``[collections."NAME"]`` ``embedder``) are
searched in groups: the query is embedded once per model and each group's collections are
searched with their own model's vector (vectors of two models are never compared); each
group's dense list enters the fusion on its own (ranks for RRF, its own min-max for
``weighted``), beside the one lexical list over all the collections.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

from ..embedders.base import Embedder
from ..lexical import DEFAULT_QUERY_TERMS
from ..store.base import ScoredId, Store, StoredChunk
from .long_query import QueryPool, query_vector

__all__ = ["DenseGroups", "Hit", "SearchResult", "fuse", "hybrid_search", "search_options"]

# (embedder, the collections its vectors were built for), one per model
DenseGroups = Sequence[tuple[Embedder, Sequence[str]]]


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk with its fused score and the ranks/scores behind it (1-based)."""

    chunk: StoredChunk
    score: float
    lexical_rank: int | None
    lexical_score: float | None
    dense_rank: int | None
    dense_score: float | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Hit]
    best_dense: float
    query_vector: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)


def fuse(
    lexical: Sequence[ScoredId],
    dense: Sequence[ScoredId],
    *,
    method: Literal["rrf", "weighted"] = "rrf",
    rrf_k: int = 60,
    dense_weight: float = 0.5,
    more_dense: Sequence[Sequence[ScoredId]] = (),
) -> list[tuple[int, float]]:
    """Fuse ranked lists of ``(id, score)`` into one, best first (ties by id): the lexical
    list, the dense one, and ``more_dense`` lists of other embedding models (over other
    collections), each fused like ``dense``."""
    fused: dict[int, float] = {}
    denses = [dense, *more_dense]
    if method == "rrf":
        for ranked in (lexical, *denses):
            for rank, (cid, _) in enumerate(ranked, start=1):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (rrf_k + rank)
    elif method == "weighted":
        weighted = [(lexical, 1.0 - dense_weight), *((d, dense_weight) for d in denses)]
        for ranked, weight in weighted:
            if not ranked:
                continue
            scores = [s for _, s in ranked]
            lo, hi = min(scores), max(scores)
            span = hi - lo
            for cid, s in ranked:
                norm = (s - lo) / span if span > 0 else 1.0
                fused[cid] = fused.get(cid, 0.0) + weight * norm
    else:
        raise ValueError(f"unknown fusion {method!r}")
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def search_options(settings: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`hybrid_search` that ``settings`` (a
    :class:`fiable.settings.Settings`) decides."""
    return {"fusion": settings.fusion, "rrf_k": settings.rrf_k,
            "dense_weight": settings.dense_weight, "candidates": settings.candidates,
            "query_pool": settings.query_pool, "query_terms": settings.query_terms}


def hybrid_search(
    store: Store,
    embedder: Embedder,
    query: str,
    *,
    k: int = 5,
    collections: Sequence[str] | None = None,
    fusion: Literal["rrf", "weighted"] = "rrf",
    rrf_k: int = 60,
    dense_weight: float = 0.5,
    candidates: int = 50,
    dense_groups: DenseGroups | None = None,
    query_pool: QueryPool = "first",
    query_terms: int = DEFAULT_QUERY_TERMS,
) -> SearchResult:
    """The ``k`` best chunks for ``query`` in ``collections`` (all when None).

    ``dense_groups`` (collections embedded by different models): each group's collections
    are searched with the query embedded by the group's embedder; ``embedder`` then serves
    nothing but the default. A query longer than an embedder reads is embedded as
    ``query_pool`` says (:mod:`.long_query`); BM25 searches its ``query_terms`` rarest
    terms."""
    groups: list[tuple[Embedder, Sequence[str] | None]] = (
        list(dense_groups) if dense_groups else [(embedder, collections)])
    t0 = time.perf_counter()
    vectors = [query_vector(e, query, pool=query_pool) for e, _ in groups]
    t1 = time.perf_counter()
    n = max(candidates, k)
    lexical = store.lexical_search(query, n, collections, max_terms=query_terms)
    t2 = time.perf_counter()
    denses = [store.vector_search(v, n, names) for v, (_, names) in zip(vectors, groups)]
    dense = denses[0]
    vector = vectors[0]
    t3 = time.perf_counter()
    ranked = fuse(lexical, dense, method=fusion, rrf_k=rrf_k, dense_weight=dense_weight,
                  more_dense=denses[1:])[:k]
    lex = {cid: (rank, s) for rank, (cid, s) in enumerate(lexical, start=1)}
    den = {cid: (rank, s) for ranked_dense in denses
           for rank, (cid, s) in enumerate(ranked_dense, start=1)}
    chunks = {c.id: c for c in store.chunks([cid for cid, _ in ranked])}
    hits = [
        Hit(
            chunk=chunks[cid],
            score=score,
            lexical_rank=lex[cid][0] if cid in lex else None,
            lexical_score=lex[cid][1] if cid in lex else None,
            dense_rank=den[cid][0] if cid in den else None,
            dense_score=den[cid][1] if cid in den else None,
        )
        for cid, score in ranked
        if cid in chunks
    ]
    t4 = time.perf_counter()
    return SearchResult(
        hits=hits,
        best_dense=max((d[0][1] for d in denses if d), default=0.0),
        query_vector=vector,
        timings={
            "embed_query": t1 - t0,
            "lexical": t2 - t1,
            "dense": t3 - t2,
            "fuse_fetch": t4 - t3,
        },
    )
