"""Copy a workspace's store to another store (SQLite -> PostgreSQL and back), then verify.

Documents move with their chunks and vectors (nothing is re-embedded), in groups, one
transaction each; the ask log and evaluation runs follow. Verification compares document
and chunk counts per collection, then runs a sample of lexical and vector searches on both
stores and reports how many of each top 10 agree (chunks are matched by collection, source
and position, since ids differ between stores). PostgreSQL keeps vectors as 16-bit floats
and searches an HNSW index, so a copy there agrees closely rather than bit for bit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..errors import StoreError
from .base import DocumentWrite, Store

__all__ = ["CopyReport", "copy_store"]

logger = logging.getLogger(__name__)

_GROUP_CHUNKS = 1024
_K = 10


@dataclass(slots=True)
class CopyReport:
    collections: dict[str, tuple[int, int]] = field(default_factory=dict)  # name: (docs, chunks)
    asks: int = 0
    eval_runs: int = 0
    mismatches: list[str] = field(default_factory=list)
    lexical_overlap: float = 1.0  # mean |top10 source ∩ top10 target| / 10 over the sample
    vector_overlap: float = 1.0
    self_found: float = 1.0  # share of sampled chunks found first by their own vector
    sampled: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _key(store: Store, ids: Sequence[int]) -> list[tuple[str, str, int]]:
    return [(c.collection, c.source, c.ordinal) for c in store.chunks(list(ids))]


def copy_store(
    source: Store,
    target: Store,
    *,
    collections: Sequence[str] | None = None,
    sample: int = 30,
    min_overlap: float = 0.7,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy ``collections`` (all by default) from ``source`` into ``target``, then verify.

    The target must not hold documents in those collections already (StoreError naming
    them). The report's ``mismatches`` lists every count that differs and a sample whose
    search overlap is under ``min_overlap``; ``ok`` is False then.
    """
    names = list(collections) if collections else [c.name for c in source.collections()]
    source.require_collections(names)
    busy = [c for c in target.collections() if c.name in names and c.documents]
    if busy:
        raise StoreError(
            "the target already holds " + ", ".join(f"{c.name!r} ({c.documents} documents)"
                                                    for c in busy),
            hint="copy into an empty database, or delete those collections there first",
        )
    models = source.embedding_models()  # each collection keeps the model that built it
    report = CopyReport()
    for name in names:
        model = models.get(name)
        target.ensure_collection(name)
        group: list[DocumentWrite] = []
        docs = chunks = 0
        for item in source.export_documents(name):
            group.append(item)
            docs, chunks = docs + 1, chunks + len(item.chunks)
            if sum(len(g.chunks) for g in group) >= _GROUP_CHUNKS:
                target.replace_documents(name, group, embedding_model=model or "unknown")
                group = []
                if progress is not None:
                    progress(name, docs)
        if group:
            target.replace_documents(name, group, embedding_model=model or "unknown")
        if progress is not None:
            progress(name, docs)
        report.collections[name] = (docs, chunks)
    report.asks = _copy_asks(source, target)
    report.eval_runs = _copy_eval_runs(source, target)
    _verify(source, target, names, report, sample, min_overlap)
    logger.info("store copied", extra={"collections": report.collections, "ok": report.ok,
                                       "lexical_overlap": report.lexical_overlap,
                                       "vector_overlap": report.vector_overlap})
    return report


def _copy_asks(source: Store, target: Store) -> int:
    seen = {r["trace_id"] for r in target.asks(limit=10**9)}
    records = [r for r in reversed(source.asks(limit=10**9)) if r["trace_id"] not in seen]
    for record in records:
        target.log_ask(record)
    return len(records)


def _copy_eval_runs(source: Store, target: Store) -> int:
    copied = 0
    for summary in reversed(source.eval_runs(limit=10**9)):
        run = source.eval_run(summary["id"])
        if run is None:
            continue
        body, items = run
        body = {k: v for k, v in body.items() if k != "id"}
        target.save_eval_run(body, items)
        copied += 1
    return copied


def _verify(source: Store, target: Store, names: Sequence[str], report: CopyReport,
            sample: int, min_overlap: float) -> None:
    counts = {c.name: (c.documents, c.chunks) for c in target.collections()}
    for name, expected in report.collections.items():
        if counts.get(name) != expected:
            report.mismatches.append(
                f"{name}: source has {expected[0]} documents / {expected[1]} chunks, "
                f"target {counts.get(name)}")
    picked: list[tuple[str, DocumentWrite, int]] = []
    for name in names:
        sources = [d.source for d in source.documents(name) if d.chunks] if sample else []
        step = max(1, len(sources) // max(1, sample // max(1, len(names))))
        wanted = set(sources[::step])
        if not wanted:
            continue
        picked += [(name, d, len(d.chunks) // 2) for d in source.export_documents(name)
                   if d.source in wanted]
    picked = picked[:sample]
    lexical, vector, self_hits = [], [], 0
    for name, item, ordinal in picked:
        text = item.chunks[ordinal].text
        query = " ".join(text.split()[:12])
        a = _key(source, [i for i, _ in source.lexical_search(query, _K, [name])])
        b = _key(target, [i for i, _ in target.lexical_search(query, _K, [name])])
        lexical.append(len(set(a) & set(b)) / max(1, min(_K, len(a))))
        vec = np.asarray(item.vectors[ordinal], dtype=np.float32)
        a = _key(source, [i for i, _ in source.vector_search(vec, _K, [name])])
        b = _key(target, [i for i, _ in target.vector_search(vec, _K, [name])])
        vector.append(len(set(a) & set(b)) / max(1, min(_K, len(a))))
        self_hits += int(bool(b) and b[0][1:] == (item.source, item.chunks[ordinal].ordinal))
    report.sampled = len(picked)
    if picked:
        report.lexical_overlap = float(np.mean(lexical))
        report.vector_overlap = float(np.mean(vector))
        report.self_found = self_hits / len(picked)
        for label, value in (("lexical", report.lexical_overlap),
                             ("vector", report.vector_overlap)):
            if value < min_overlap:
                report.mismatches.append(
                    f"{label} search: top-{_K} overlap {value:.2f} is under {min_overlap:.2f}")
