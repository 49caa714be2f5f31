"""Run an evaluation against a workspace and store the run.

- A data set with a ``corpus.jsonl`` is ingested first into its own collection
  (``eval-<name>`` unless told otherwise); unchanged documents are skipped on later runs.
- Retrieval sets: each query's BM25 and dense candidates (``candidates`` of each, as in
  production) are fetched once and fused with the collection's settings; the BM25-only and
  dense-only rankings are those same candidate lists. Chunks map to documents (first
  occurrence wins) before nDCG@k / recall@k / MRR are computed. ``search`` latency is
  embed + BM25 + dense + fuse (production adds fetching the ``top_k`` chunks, < 1 ms).
- QA sets: each question goes through ``Workspace.ask`` exactly as a user's would.
- The run (settings, model ids and file hashes, metrics, per-item results) is stored in
  the workspace; ``fiable eval runs`` lists them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import UserError
from ..ingest import IngestReport, TextRecord, document_key
from ..lexical import DEFAULT_QUERY_TERMS
from ..retrieval import DocPool, QueryPool, fuse, query_vector
from ..retrieval import rank_documents as _pool_documents
from ..settings import Settings
from . import metrics as m
from .datasets import Dataset, corpus_docs

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["Candidates", "EvalRun", "MODES", "QA_METRICS", "document_keys", "metric_names", "evaluate", "fetch_candidates",
           "ingest_corpus", "rank_documents"]

logger = logging.getLogger(__name__)

MODES = ("hybrid", "bm25", "dense")
RECALL_KS = (1, 5, 10, 20)
QA_METRICS = ("f1", "em", "contains", "answered", "f1_all", "abstention.precision",
              "abstention.recall", "abstention.f1", "citation_precision", "context_recall",
              "tokens_per_second")


def metric_names(kind: str, modes: Sequence[str] = MODES, k: int = 10) -> list[str]:
    """The quality metrics a run of ``kind`` reports (latencies come as ``latency.*``)."""
    if kind != "retrieval":
        return list(QA_METRICS)
    names = [f"ndcg@{k}", f"mrr@{k}", *(f"recall@{r}" for r in RECALL_KS)]
    return [("" if i == 0 else f"{mode}.") + n for i, mode in enumerate(modes) for n in names]
Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class EvalRun:
    """A finished evaluation: ``summary`` (metrics, settings, models) and per-item results."""

    summary: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> int | None:
        return self.summary.get("id")

    @property
    def metrics(self) -> dict[str, float]:
        return self.summary["metrics"]


def default_collection(dataset: Dataset) -> str:
    return f"eval-{dataset.name}"


def ingest_corpus(ws: "Workspace", dataset: Dataset, collection: str,
                  progress: Progress | None = None) -> IngestReport:
    """Ingest the data set's corpus into ``collection`` (unchanged documents are skipped)."""
    assert dataset.corpus_path is not None
    total = sum(1 for line in dataset.corpus_path.open(encoding="utf-8") if line.strip())
    records = (TextRecord(d.id, d.title, d.text) for d in corpus_docs(dataset.corpus_path))
    report = ws.ingest_records(
        records, collection=collection, total=total,
        progress=(lambda p: progress("ingest", p.done, total)) if progress else None,
    )
    if report.failed:
        first = report.failed[0]
        logger.warning("corpus documents not ingested",
                       extra={"count": len(report.failed), "first": first.path})
    return report


@dataclass(frozen=True, slots=True)
class Candidates:
    """One query's BM25 and dense candidates (``(chunk_id, score)``, best first)."""

    lexical: list[tuple[int, float]]
    dense: list[tuple[int, float]]
    timings: dict[str, float]


def fetch_candidates(ws: "Workspace", text: str, collection: str, n: int, *,
                     query_pool: QueryPool = "first",
                     query_terms: int = DEFAULT_QUERY_TERMS) -> Candidates:
    """The ``n`` best chunks of each retriever for ``text``, timed per stage; a long query is
    embedded and pruned as in production (``query_pool``, ``query_terms``)."""
    t0 = time.perf_counter()
    vector = query_vector(ws.embedder_for(collection), text, pool=query_pool)  # its own model
    t1 = time.perf_counter()
    lexical = ws.store.lexical_search(text, n, [collection], max_terms=query_terms)
    t2 = time.perf_counter()
    dense = ws.store.vector_search(vector, n, [collection])
    t3 = time.perf_counter()
    return Candidates(lexical, dense, {"embed_query": t1 - t0, "lexical": t2 - t1, "dense": t3 - t2})


def rank_documents(ranked_chunks: Sequence[tuple[int, float]], key: dict[int, str], *,
                   pool: DocPool = "max") -> list[str]:
    """Document keys best first (``pool``: see :mod:`fiable.retrieval.pooling`; ``max``
    orders documents by their first chunk in ``ranked_chunks``)."""
    return _pool_documents(ranked_chunks, key, pool=pool)


def document_keys(ws: "Workspace", ids: Sequence[int]) -> dict[int, str]:
    """chunk id -> document key (record id or file name)."""
    return {c.id: document_key(c.source) for c in ws.store.chunks(sorted(set(ids)))}


def _latency(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {stage: {"p50_ms": round(m.percentile(v, 50) * 1000, 2),
                    "p95_ms": round(m.percentile(v, 95) * 1000, 2), "n": len(v)}
            for stage, v in samples.items() if v}


def _retrieval(ws: "Workspace", dataset: Dataset, collection: str, settings: Settings,
               modes: Sequence[str], k: int, progress: Progress | None
               ) -> tuple[dict[str, float], dict[str, dict[str, float]], list[dict[str, Any]]]:
    samples: dict[str, list[float]] = {}
    scores: dict[str, dict[str, list[float]]] = {mode: {} for mode in modes}
    items: list[dict[str, Any]] = []
    fetch_candidates(ws, "warm up", collection, 1)  # loads the vector matrix once
    for i, query in enumerate(dataset.queries, start=1):
        found = fetch_candidates(ws, query.text, collection, settings.candidates,
                                 query_pool=settings.query_pool,  # type: ignore[arg-type]
                                 query_terms=settings.query_terms)
        t0 = time.perf_counter()
        fused = fuse(found.lexical, found.dense, method=settings.fusion,  # type: ignore[arg-type]
                     rrf_k=settings.rrf_k, dense_weight=settings.dense_weight)
        timings = {**found.timings, "fuse": time.perf_counter() - t0}
        timings["search"] = sum(timings.values())
        for stage, seconds in timings.items():
            samples.setdefault(stage, []).append(seconds)
        key = document_keys(ws, [cid for cid, _ in fused])
        lists = {"hybrid": fused, "bm25": found.lexical, "dense": found.dense}
        item: dict[str, Any] = {"id": query.id}
        for mode in modes:
            ranked = rank_documents(lists[mode], key)
            values = {
                f"ndcg@{k}": m.ndcg_at_k(ranked, query.relevant, k),
                f"mrr@{k}": m.reciprocal_rank(ranked, query.relevant, k),
                **{f"recall@{r}": m.recall_at_k(ranked, query.relevant, r) for r in RECALL_KS},
            }
            for name, value in values.items():
                scores[mode].setdefault(name, []).append(value)
            if mode == modes[0]:
                item.update({"ranked": ranked[:k], f"ndcg@{k}": round(values[f"ndcg@{k}"], 4)})
        items.append(item)
        if progress:
            progress("query", i, len(dataset.queries))
    flat: dict[str, float] = {}
    for mode in modes:
        prefix = "" if mode == modes[0] else f"{mode}."
        flat.update({prefix + name: round(m.mean(v), 4) for name, v in scores[mode].items()})
    return flat, _latency(samples), items


def _chunk_texts(ws: "Workspace", ids: Sequence[int]) -> dict[int, str]:
    return {c.id: c.text for c in ws.store.chunks(list(ids))}


def _qa(ws: "Workspace", dataset: Dataset, collection: str | None, progress: Progress | None,
        overrides: dict[str, Any] | None = None,
        ) -> tuple[dict[str, float], dict[str, dict[str, float]], list[dict[str, Any]]]:
    collections = [collection] if collection else None
    samples: dict[str, list[float]] = {}
    items: list[dict[str, Any]] = []
    speeds: list[float] = []
    for i, q in enumerate(dataset.questions, start=1):
        try:
            answer = ws.ask(q.question, collections=collections, overrides=overrides)
        except UserError as exc:  # e.g. a question refused by the pii = reject policy
            logger.warning("question refused", extra={"id": q.id, "code": exc.code})
            items.append({"id": q.id, "kind": q.kind, "answerable": q.answerable, "abstained": True, "answer": "",
                          "em": 0.0 if q.answerable else None, "f1": 0.0 if q.answerable else None,
                          "contains": False if q.answerable else None, "context_hit": None,
                          "citations": 0, "precise_citations": 0, "sources": [],
                          "relevance": None, "support": None, "abstain_reason": exc.message,
                          "trace_id": None})
            continue
        prediction = "" if answer.abstained else " ".join(s.text for s in answer.sentences)
        gold_docs = set(q.doc_ids)
        cited = answer.cited_sources if not answer.abstained else ()
        texts = _chunk_texts(ws, [s.chunk_id for s in cited]) if cited else {}
        precise = [
            document_key(s.source) in gold_docs or m.answer_contains(texts.get(s.chunk_id, ""), q.answers)
            for s in cited
        ]
        for stage, seconds in answer.timings.items():
            if stage != "tokens_per_second":
                samples.setdefault(stage, []).append(seconds)
        if "tokens_per_second" in answer.timings:
            speeds.append(answer.timings["tokens_per_second"])
        items.append({
            "id": q.id, "kind": q.kind, "answerable": q.answerable, "abstained": answer.abstained,
            "answer": prediction,
            "em": m.exact_match(prediction, q.answers) if q.answerable else None,
            "f1": round(m.token_f1(prediction, q.answers), 4) if q.answerable else None,
            "contains": m.answer_contains(prediction, q.answers) if q.answerable else None,
            "context_hit": (any(document_key(s.source) in gold_docs for s in answer.sources)
                            if gold_docs else None),
            "citations": len(cited), "precise_citations": sum(precise),
            "sources": [document_key(s.source) for s in answer.sources],
            "relevance": answer.relevance, "support": answer.support,
            "answerability": (answer.answerability or {}).get("score"),
            "abstain_reason": answer.abstain_reason,
            "trace_id": answer.trace_id,
        })
        if progress:
            progress("question", i, len(dataset.questions))
    answerable = [it for it in items if it["answerable"]]
    abst = m.abstention_scores([it["abstained"] for it in items],
                               [not it["answerable"] for it in items])
    citations = sum(it["citations"] for it in answerable)
    with_gold = [it for it in items if it["context_hit"] is not None]
    squad_f1 = [it["f1"] if it["answerable"] else float(it["abstained"]) for it in items]
    flat = {
        "f1": m.mean(it["f1"] for it in answerable),
        "em": m.mean(it["em"] for it in answerable),
        "contains": m.mean(float(it["contains"]) for it in answerable),
        "answered": m.mean(float(not it["abstained"]) for it in answerable),
        "f1_all": m.mean(squad_f1),
        "abstention.precision": abst["precision"],
        "abstention.recall": abst["recall"],
        "abstention.f1": abst["f1"],
        "citation_precision": (sum(it["precise_citations"] for it in answerable) / citations
                               if citations else float("nan")),
        "context_recall": m.mean(float(it["context_hit"]) for it in with_gold),
        "tokens_per_second": m.mean(speeds),
    }
    if not any(not it["answerable"] for it in items):
        for key in ("abstention.precision", "abstention.recall", "abstention.f1"):
            flat[key] = float("nan")
    assert list(flat) == list(QA_METRICS)
    return {k: round(v, 4) for k, v in flat.items()}, _latency(samples), items


def by_kind(items: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per question ``kind``: n and the share correct (an answerable question's answer
    contains a gold answer; an unanswerable one was abstained on)."""
    groups: dict[str, list[bool]] = {}
    for it in items:
        ok = bool(it["contains"]) if it["answerable"] else bool(it["abstained"])
        groups.setdefault(it.get("kind") or "(none)", []).append(ok)
    return {k: {"n": len(v), "correct": round(sum(v) / len(v), 4)} for k, v in groups.items()}


def evaluate(
    ws: "Workspace",
    dataset: Dataset,
    *,
    collection: str | None = None,
    modes: Sequence[str] = MODES,
    k: int = 10,
    label: str = "",
    store: bool = True,
    progress: Progress | None = None,
    overrides: dict[str, Any] | None = None,
) -> EvalRun:
    """Evaluate ``ws`` on ``dataset`` and (by default) store the run in the workspace.
    ``overrides`` change settings for this run only (QA sets)."""
    started = time.perf_counter()
    for mode in modes:
        if mode not in MODES:
            raise UserError(f"unknown retrieval mode {mode!r}", hint=f"use one of: {', '.join(MODES)}")
    if len(dataset) == 0:
        raise UserError(f"{dataset.path}: nothing to evaluate in split {dataset.split!r}",
                        hint="choose another split, or check the data set")
    ingest: dict[str, Any] | None = None
    if dataset.corpus_path is not None:
        collection = collection or default_collection(dataset)
        report = ingest_corpus(ws, dataset, collection, progress)
        ingest = {"added": len(report.added), "updated": len(report.updated),
                  "unchanged": len(report.unchanged), "failed": len(report.failed),
                  "chunks": report.chunks, "seconds": round(report.seconds, 2)}
    elif collection is not None:
        ws.store.require_collections([collection])
    elif dataset.kind == "retrieval":
        raise UserError("a retrieval data set needs its corpus", hint="add corpus.jsonl")
    settings = ws.settings_for([collection] if collection else None)
    if overrides:
        settings = settings.replace(**overrides)
    if dataset.kind == "retrieval":
        assert collection is not None
        metrics_, latency, items = _retrieval(ws, dataset, collection, settings, modes, k, progress)
    else:
        metrics_, latency, items = _qa(ws, dataset, collection, progress, overrides)
    from ..components import model_fingerprint

    models = {"embedder": {**model_fingerprint(settings.embedder, settings),
                           "model_id": (ws.embedder_for(collection) if collection
                                        else ws.embedder).model_id}}
    if dataset.kind == "qa":
        models["generator"] = model_fingerprint(settings.generator, settings)
    summary: dict[str, Any] = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "label": label,
        "dataset": dataset.name,
        "dataset_path": str(dataset.path),
        "dataset_fingerprint": dataset.fingerprint,
        "kind": dataset.kind,
        "split": dataset.split,
        "collection": collection,
        "items": len(items),
        "modes": list(modes) if dataset.kind == "retrieval" else None,
        "k": k,
        "metrics": {name: (None if value != value else value) for name, value in metrics_.items()},
        "latency": latency,
        "ingest": ingest,
        "settings": settings.redacted(),
        "models": models,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if any(it.get("kind") for it in items):
        summary["by_kind"] = by_kind(items)
    run = EvalRun(summary, items)
    if store:
        summary["id"] = ws.store.save_eval_run(summary, items)
    logger.info("evaluation finished", extra={"dataset": dataset.name, "kind": dataset.kind,
                                               "run_id": summary.get("id")})
    return run
