"""From ranked chunks to ranked documents (what document-level benchmarks score).

A document holds several chunks; its score can be

- ``max``: its best chunk's (the document ranks where its first chunk does);
- ``sum2``: the sum of its two best chunks' scores (a document that matches in two places
  beats one that matches once as well);
- ``rrf``: reciprocal-rank fusion across its chunks, ``sum(1 / (k + rank))`` over every
  chunk of the list (scale-free: it needs no comparable scores).

``benchmarks/retrieval_sets.py`` measures the three on every data set, for BM25, dense and
fused lists.
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

__all__ = ["DOC_POOLS", "DocPool", "rank_documents"]

DocPool = Literal["max", "sum2", "rrf"]
DOC_POOLS: tuple[str, ...] = ("max", "sum2", "rrf")
_RRF_K = 60


def rank_documents(ranked_chunks: Sequence[tuple[int, float]], key: Mapping[int, str], *,
                   pool: DocPool = "max") -> list[str]:
    """Document keys best first, from ``(chunk_id, score)`` best first; ``key`` maps a chunk
    id to its document (chunks without a key are skipped). Ties keep first-seen order."""
    if pool == "max":
        return list(dict.fromkeys(key[cid] for cid, _ in ranked_chunks if cid in key))
    scores: dict[str, list[float]] = {}
    for rank, (cid, score) in enumerate(ranked_chunks, start=1):
        if cid in key:
            scores.setdefault(key[cid], []).append(
                1.0 / (_RRF_K + rank) if pool == "rrf" else score)
    if pool == "sum2":
        totals = {doc: sum(sorted(v, reverse=True)[:2]) for doc, v in scores.items()}
    elif pool == "rrf":
        totals = {doc: sum(v) for doc, v in scores.items()}
    else:
        raise ValueError(f"unknown document pool {pool!r} (one of {', '.join(DOC_POOLS)})")
    order = {doc: i for i, doc in enumerate(scores)}
    return sorted(totals, key=lambda doc: (-totals[doc], order[doc]))
