"""The gate: which experts know about a question.

Each candidate expert gets a score in [-1, 1] from three cosine similarities with the
question's vector:

- ``description``: to the embedded description of the expert;
- ``summary``: to the closest of a few representative vectors of its collections (k-means
  centres of their chunk vectors, computed from the store and cached in memory, keyed on
  each collection's document and chunk counts and the embedding model, so an ingest that
  adds or removes documents refreshes it within ``info_ttl`` seconds; any summary older than ``SUMMARY_MAX_AGE_S`` is
  rebuilt too, for a document replaced by one with as many chunks);
- ``passages``: the mean of the three best similarities to chunk vectors of its
  collections (all of them up to ``SUMMARY_SAMPLE`` chunks, else an even sample of that
  many, kept with the summary: no store query per question).

and one language signal: ``language``, the share of its collections' chunks (first chunks
of up to ``_LANGUAGE_SAMPLE`` documents) written in the question's language (0 for every
expert when the question's language cannot be told; :func:`fiable.language.detect_language`).

``score = W_DESCRIPTION * description + W_SUMMARY * summary + W_PASSAGES * passages
+ W_LANGUAGE * language``.
Scores become weights by a softmax with ``temperature``; the experts whose weight reaches
``threshold`` are kept, best first, at most ``top_k``. When the best score is under
``min_score`` (nothing is confident), or no expert is left, the gate falls back to every
collection the caller may read.

Access: ``readable`` (None = everything) restricts the candidates *before* scoring: an
expert any of whose collections is not readable is dropped, is never scored, and is named
nowhere in the result; the fallback searches readable collections only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..embedders.base import Embedder
from ..errors import UserError
from ..language import UNDETERMINED, detect_language
from ..store.base import CollectionInfo, Store
from .config import Expert

__all__ = ["Gate", "GateResult", "SUMMARY_CENTRES", "SUMMARY_MAX_AGE_S", "softmax"]

logger = logging.getLogger(__name__)

# Set by hand, not tuned (no sweep was run): benchmarks/experts.py reports what they give.
W_DESCRIPTION = 0.2
W_SUMMARY = 0.3
W_PASSAGES = 0.5
W_LANGUAGE = 0.1  # added after the first run sent 3 English questions to the French expert
SUMMARY_CENTRES = 16  # representative vectors per collection
SUMMARY_MAX_AGE_S = 600.0
SUMMARY_SAMPLE = 4096  # chunk vectors kept per collection for the ``passages`` signal
_KMEANS_ITERATIONS = 8
_TOP_PASSAGES = 3
_LANGUAGE_SAMPLE = 64


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the gate decided for one question. ``scores`` and ``weights`` hold only the
    candidate experts (those the caller may read)."""

    scores: dict[str, float]
    weights: dict[str, float]
    signals: dict[str, dict[str, float]]  # expert -> description / summary / passages / language
    chosen: tuple[str, ...]  # best first; empty on fallback
    collections: tuple[str, ...] | None  # what to search; None = every collection
    fallback: bool
    reason: str
    seconds: float = 0.0
    candidates: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {"scores": self.scores, "weights": self.weights, "signals": self.signals,
                "chosen": list(self.chosen),
                "collections": None if self.collections is None else list(self.collections),
                "fallback": self.fallback, "reason": self.reason,
                "ms": round(self.seconds * 1000, 3)}


def softmax(scores: Sequence[float], temperature: float) -> list[float]:
    """Softmax of ``scores / temperature`` (temperature 0: all weight on the best)."""
    if not scores:
        return []
    if temperature <= 0:
        best = max(scores)
        winners = [s == best for s in scores]
        return [w / sum(winners) for w in winners]
    top = max(scores)
    exps = [math.exp((s - top) / temperature) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


@dataclass(frozen=True, slots=True)
class _Summary:
    key: tuple[object, ...]
    centres: np.ndarray  # (m, d), unit rows
    sample: np.ndarray  # (<= SUMMARY_SAMPLE, d) chunk vectors
    languages: dict[str, float]  # language -> share of the sampled chunks
    built_at: float


def _dot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` without BLAS: einsum's own loop. On a busy 2-core machine
    OpenBLAS's threads made a 4096 x 384 product take ~36 ms against ~0.2 ms here
    (measured; see docs/experts.md)."""
    return np.einsum("ij,j->i", matrix, vector.astype(matrix.dtype, copy=False))


def _kmeans_centres(vectors: np.ndarray, m: int) -> np.ndarray:
    """``m`` unit-length centres of ``vectors`` (spherical k-means, deterministic seeds:
    farthest-point initialisation from the normalised mean)."""
    if len(vectors) == 0:
        return np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    x = vectors.astype(np.float32, copy=False)
    mean = x.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if len(x) <= m:
        centres = x.copy()
    else:
        first = int(np.argmax(x @ (mean / norm))) if norm > 0 else 0
        chosen = [first]
        closest = x @ x[first]
        for _ in range(1, m):
            nxt = int(np.argmin(closest))
            chosen.append(nxt)
            closest = np.maximum(closest, x @ x[nxt])
        centres = x[chosen].copy()
        for _ in range(_KMEANS_ITERATIONS):
            assign = np.argmax(x @ centres.T, axis=1)
            for j in range(len(centres)):
                members = x[assign == j]
                if len(members):
                    centres[j] = members.mean(axis=0)
            centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    norms = np.linalg.norm(centres, axis=1, keepdims=True)
    return (centres / np.maximum(norms, 1e-12)).astype(np.float32)


class Gate:
    """Scores experts for questions (see module docstring). One per workspace; thread-safe."""

    def __init__(self, store: Store, embedder: Embedder, *, info_ttl: float = 5.0,
                 embedder_for: Callable[[str], Embedder] | None = None) -> None:
        self.store = store
        self.embedder = embedder
        # a collection embedded by another model (e.g. multilingual-e5 for a French one) is
        # compared with the question embedded by that model, never across models
        self.embedder_for = embedder_for
        # the store's collection list and counts are read at most every info_ttl seconds
        # (a query of ~2 ms alone, ~14 ms on a busy machine: most of the gate's time)
        self.info_ttl = info_ttl
        self._info: tuple[float, dict[str, CollectionInfo], str | None] | None = None
        self._refreshing = False
        self._lock = threading.Lock()
        self._summaries: dict[str, _Summary] = {}
        self._descriptions: dict[str, np.ndarray] = {}

    # -- summaries ----------------------------------------------------------------------
    def _description_vector(self, expert: Expert) -> np.ndarray:
        with self._lock:
            cached = self._descriptions.get(expert.description)
        if cached is None:
            cached = self.embedder.embed_documents([expert.description])[0]
            with self._lock:
                self._descriptions[expert.description] = cached
        return cached

    def summary(self, collection: str, key: tuple[object, ...]
                ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """The representative vectors of ``collection`` (built on first use, rebuilt when
        ``key`` changes or the summary is older than SUMMARY_MAX_AGE_S)."""
        with self._lock:
            cached = self._summaries.get(collection)
        now = time.monotonic()
        if cached is not None and cached.key == key and now - cached.built_at < SUMMARY_MAX_AGE_S:
            return cached.centres, cached.sample, cached.languages
        t0 = time.perf_counter()
        parts: list[np.ndarray] = []
        texts: list[str] = []
        for d in self.store.export_documents(collection):
            if len(d.vectors):
                parts.append(d.vectors)
                texts.append(d.chunks[0].text)
        languages: dict[str, float] = {}
        if texts:
            step = max(1, len(texts) // _LANGUAGE_SAMPLE)
            picked = texts[::step][:_LANGUAGE_SAMPLE]
            for text in picked:
                code = detect_language(text, default=UNDETERMINED)
                languages[code] = languages.get(code, 0.0) + 1.0 / len(picked)
        vectors = (np.concatenate(parts).astype(np.float32) if parts
                   else np.zeros((0, self.embedder.dimension), dtype=np.float32))
        centres = _kmeans_centres(vectors, SUMMARY_CENTRES)
        if len(vectors) > SUMMARY_SAMPLE:
            step = len(vectors) / SUMMARY_SAMPLE
            vectors = vectors[[int(i * step) for i in range(SUMMARY_SAMPLE)]]
        sample = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            self._summaries[collection] = _Summary(key, centres, sample, languages, now)
        logger.info("collection summary built", extra={
            "collection": collection, "chunks": len(vectors), "centres": len(centres),
            "seconds": round(time.perf_counter() - t0, 3)})
        return centres, sample, languages

    def _collections(self) -> tuple[dict[str, CollectionInfo], str | None]:
        """The store's collections and embedding model. Read synchronously the first time
        (and always with ``info_ttl = 0``); afterwards, once older than ``info_ttl``, the
        cached list is returned and a background thread reads the new one, so the store
        query (2-14 ms here) stays out of the question's path."""
        now = time.monotonic()
        with self._lock:
            cached = self._info
            stale = cached is None or now - cached[0] >= self.info_ttl
            refresh = stale and cached is not None and self.info_ttl > 0 and not self._refreshing
            if refresh:
                self._refreshing = True
        if not stale:
            assert cached is not None
            return cached[1], cached[2]
        if refresh:
            threading.Thread(target=self._read_collections, name="fiable-gate-refresh",
                             daemon=True).start()
            assert cached is not None
            return cached[1], cached[2]
        return self._read_collections()

    def _read_collections(self) -> tuple[dict[str, CollectionInfo], str | None]:
        try:
            info = {c.name: c for c in self.store.collections()}
            model = self.store.embedding_model()
            with self._lock:
                self._info = (time.monotonic(), info, model)
            return info, model
        except Exception:  # a background refresh must not die silently
            logger.warning("reading the store's collections failed", exc_info=True)
            raise
        finally:
            with self._lock:
                self._refreshing = False

    # -- routing ------------------------------------------------------------------------
    def route(
        self,
        question: str,
        experts: Sequence[Expert],
        *,
        readable: Collection[str] | None = None,
        top_k: int = 2,
        temperature: float = 0.05,
        threshold: float = 0.25,
        min_score: float = 0.2,
        vector: np.ndarray | None = None,
    ) -> GateResult:
        """Score ``experts`` for ``question`` and choose (see module docstring).
        ``vector`` is the question's embedding when the caller has it already."""
        t0 = time.perf_counter()
        info, model = self._collections()
        allowed = set(info) if readable is None else set(info) & set(readable)
        candidates = [e for e in experts if all(c in allowed for c in e.collections)]
        fallback_collections: tuple[str, ...] | None = (
            None if readable is None else tuple(sorted(allowed)))
        if readable is not None and not allowed:
            raise UserError("you may not read any collection of this workspace",
                            hint="ask an administrator for access to a collection")
        if not candidates:
            return GateResult({}, {}, {}, (), fallback_collections, True,
                              "no expert available", time.perf_counter() - t0)
        if vector is None:
            vector = self.embedder.embed_query(question)
        asked_in = detect_language(question, default=UNDETERMINED)
        by_model: dict[str, np.ndarray] = {self.embedder.model_id: vector}

        def query_vector(collection: str) -> np.ndarray:
            if self.embedder_for is None:
                return vector  # type: ignore[return-value]
            own = self.embedder_for(collection)
            if own.model_id not in by_model:
                by_model[own.model_id] = own.embed_query(question)
            return by_model[own.model_id]

        signals: dict[str, dict[str, float]] = {}
        scores: list[float] = []
        for expert in candidates:
            description = float(np.dot(self._description_vector(expert), vector))
            summary = -1.0
            passages = -1.0
            language = 0.0
            for name in expert.collections:
                c = info[name]
                centres, sample, languages = self.summary(name, (c.documents, c.chunks, model))
                if asked_in != UNDETERMINED:
                    language = max(language, languages.get(asked_in, 0.0))
                own = query_vector(name)
                if len(centres):
                    summary = max(summary, float(np.max(_dot(centres, own))))
                if len(sample):
                    sims = _dot(sample, own)
                    k = min(_TOP_PASSAGES, len(sims))
                    passages = max(passages, float(np.mean(np.partition(sims, -k)[-k:])))
            summary = summary if summary > -1.0 else 0.0
            passages = passages if passages > -1.0 else 0.0
            score = (W_DESCRIPTION * description + W_SUMMARY * summary
                     + W_PASSAGES * passages + W_LANGUAGE * language)
            signals[expert.name] = {"description": round(description, 4),
                                    "summary": round(summary, 4),
                                    "passages": round(passages, 4),
                                    "language": round(language, 4)}
            scores.append(score)
        weights = softmax(scores, temperature)
        order = sorted(range(len(candidates)), key=lambda i: (-weights[i], candidates[i].name))
        kept = [i for i in order if weights[i] >= threshold][: max(top_k, 1)]
        score_map = {candidates[i].name: round(scores[i], 4) for i in order}
        weight_map = {candidates[i].name: round(weights[i], 4) for i in order}
        best = scores[order[0]]
        if best < min_score or not kept:
            reason = (f"best score {best:.2f} < min_score {min_score:.2f}" if best < min_score
                      else f"no weight reaches threshold {threshold:.2f}")
            return GateResult(score_map, weight_map, signals, (), fallback_collections, True,
                              reason, time.perf_counter() - t0,
                              tuple(e.name for e in candidates))
        chosen = tuple(candidates[i].name for i in kept)
        collections = tuple(dict.fromkeys(c for i in kept for c in candidates[i].collections))
        return GateResult(score_map, weight_map, signals, chosen, collections, False,
                          f"best score {best:.2f}", time.perf_counter() - t0,
                          tuple(e.name for e in candidates))
