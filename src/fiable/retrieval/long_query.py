"""Queries longer than the embedder reads: a pasted paragraph, a whole e-mail.

An embedder truncates its input at ``max_tokens``: a 400-token query was embedded from its
first 256 tokens only, and the rest of what it asks was never searched for. A long query is
instead cut into windows of whole sentences that each fit (a sentence longer than a window
is cut at word boundaries), every window is embedded as a query, and the vectors are
averaged and normalised again (``pool = "mean"``), so every part of the query counts as
much as its length. ``pool = "first"`` keeps the truncation (what the model reads alone).

``benchmarks/retrieval_sets.py`` measures both on long-query sets built from SciFact,
SQuAD and PIAF (an abstract as the query for the claims it supports, a paragraph as the
query for the other paragraphs of its article).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..chunking import split_words
from ..embedders.base import Embedder, Vectors
from ..sentences import sentence_spans

__all__ = ["QUERY_POOLS", "QueryPool", "query_vector", "query_windows"]

QueryPool = Literal["mean", "first"]
QUERY_POOLS: tuple[str, ...] = ("mean", "first")

# Tokens kept free in each window for what the embedder adds itself (special tokens, an
# instruction prefix such as E5's "query: ").
_RESERVED_TOKENS = 8
_MAX_WINDOWS = 16  # a 4,000-token query: more windows would cost more than they add


def query_windows(embedder: Embedder, text: str) -> list[str]:
    """``text`` as consecutive pieces that the embedder reads whole (one piece when it fits):
    sentences packed greedily, a sentence too long for a window cut at word boundaries."""
    budget = max(16, embedder.max_tokens - _RESERVED_TOKENS)
    if embedder.count_tokens(text) <= budget:
        return [text]
    pieces: list[tuple[int, int, int]] = []  # (start, end, tokens)
    for a, b in sentence_spans(text):
        n = embedder.count_tokens(text[a:b])
        pieces.extend(split_words(text, a, b, budget, embedder.count_tokens) if n > budget
                      else [(a, b, n)])
    windows: list[str] = []
    start = end = used = 0
    for a, b, n in pieces:
        if used and used + n > budget:
            windows.append(text[start:end])
            used = 0
        if not used:
            start = a
        end, used = b, used + n
    if used:
        windows.append(text[start:end])
    return windows[:_MAX_WINDOWS]


def query_vector(embedder: Embedder, text: str, *, pool: QueryPool = "mean") -> Vectors:
    """The query vector of ``text``: the mean of its windows' vectors (normalised) when it is
    longer than the embedder reads and ``pool`` is ``mean``, else the embedder's own."""
    if pool == "first":
        return embedder.embed_query(text)
    if pool != "mean":
        raise ValueError(f"unknown query pool {pool!r} (one of {', '.join(QUERY_POOLS)})")
    windows = query_windows(embedder, text)
    if len(windows) == 1:
        return embedder.embed_query(text)
    vectors = np.stack([embedder.embed_query(w) for w in windows]).astype(np.float32)
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else mean
