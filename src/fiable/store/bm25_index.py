"""An in-memory BM25 index over a store's analysed chunk texts, scoring exactly as SQLite
FTS5's ``bm25(chunks_fts, 1.0, 0.5)``, an order of magnitude faster on short queries.

FTS5 scores every chunk that holds any query term by reading its position lists from the
database pages (35 ms for a 10-word question at 12k chunks, on 2 cores); here each term's
postings are two arrays (chunk row, column-weighted term frequency), and a query is a few
vector operations (about 1 ms). The scoring is FTS5's own (``fts5_aux.c``):

    score = sum over query terms t of  idf(t) * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl))

with k1 = 1.2, b = 0.75, f the term's count in the text plus 0.5 times its count in the
context column (title and headings), D the chunk's tokens in both columns, avgdl their mean
over the table, idf(t) = ln((N - n(t) + 0.5) / (n(t) + 0.5)) (1e-6 when not positive),
N the chunks in the table and n(t) those holding t: the statistics of the whole table,
whatever collections a query is filtered to, as FTS5 does.

The index is built from the stored texts (already analysed by :mod:`fiable.lexical`, so a
token is a run of non-space characters) and rebuilt when the store's data version changes.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from typing import Iterable

import numpy as np

__all__ = ["BM25Index", "CONTEXT_WEIGHT"]

K1 = 1.2
B = 0.75
CONTEXT_WEIGHT = 0.5  # the context column's weight, as in bm25(chunks_fts, 1.0, 0.5)


class BM25Index:
    """Postings of every term over ``rows`` (chunk id, collection id, text, context); the
    context column counts ``context_weight`` as much as the text (what the store uses is
    :data:`CONTEXT_WEIGHT`; ``benchmarks/retrieval_sets.py`` measures others)."""

    def __init__(self, rows: Iterable[tuple[int, int, str, str]], *,
                 context_weight: float = CONTEXT_WEIGHT) -> None:
        ids: list[int] = []
        collections: list[int] = []
        lengths: list[int] = []
        postings: dict[str, tuple[array, array]] = {}  # compact while building: 12 bytes each
        for row, (chunk_id, collection_id, text, context) in enumerate(rows):
            ids.append(chunk_id)
            collections.append(collection_id)
            text_tokens, context_tokens = text.split(), context.split()
            lengths.append(len(text_tokens) + len(context_tokens))
            weights = Counter(text_tokens)
            for term, n in Counter(context_tokens).items():
                weights[term] += context_weight * n
            for term, w in weights.items():
                entry = postings.get(term)
                if entry is None:
                    entry = postings[term] = (array("i"), array("d"))
                entry[0].append(row)
                entry[1].append(float(w))
        self.ids = np.asarray(ids, dtype=np.int64)
        self.collections = np.asarray(collections, dtype=np.int64)
        self.rows = len(ids)
        self._norm = (K1 * (1 - B + B * np.asarray(lengths, dtype=np.float64)
                            / (sum(lengths) / self.rows))) if self.rows else np.zeros(0)
        self._postings = {t: (np.frombuffer(r, dtype=np.int32), np.frombuffer(w, dtype=np.float64))
                          for t, (r, w) in postings.items()}

    def document_frequency(self, terms: Iterable[str]) -> dict[str, int]:
        """Chunks holding each of ``terms`` (absent terms are left out)."""
        return {t: len(self._postings[t][0]) for t in terms if t in self._postings}

    def search(self, terms: Iterable[str], k: int,
               collections: Iterable[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` best ``(chunk id, score)`` holding any of ``terms``, best first (ties by
        chunk id), among chunks of ``collections`` (ids; all when None)."""
        found = [(t, *self._postings[t]) for t in dict.fromkeys(terms) if t in self._postings]
        if not found or k <= 0:
            return []
        scores = np.zeros(self.rows, dtype=np.float64)
        hit = np.zeros(self.rows, dtype=bool)
        for _, rows, f in found:
            idf = math.log((self.rows - len(rows) + 0.5) / (len(rows) + 0.5))
            idf = idf if idf > 0 else 1e-6
            scores[rows] += idf * f * (K1 + 1) / (f + self._norm[rows])
            hit[rows] = True
        if collections is not None:
            hit &= np.isin(self.collections, np.fromiter(collections, dtype=np.int64))
        candidates = np.flatnonzero(hit)
        if len(candidates) == 0:
            return []
        if len(candidates) > k:
            cut = np.argpartition(-scores[candidates], k - 1)[:k]
            threshold = scores[candidates[cut]].min()
            candidates = candidates[scores[candidates] >= threshold]  # keep every tie
        order = np.lexsort((self.ids[candidates], -scores[candidates]))[:k]
        return [(int(self.ids[candidates[i]]), float(scores[candidates[i]])) for i in order]
