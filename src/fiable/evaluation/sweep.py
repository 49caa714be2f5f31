"""Fusion tuning, and abstention calibration for QA sets, on a development split
(``fiable eval --sweep``).

Each query's BM25 and dense candidates are fetched once; every fusion setting of the grid
(RRF with several k, weighted with dense weights 0..1) is then scored on the same
candidates. For a QA set with unanswerable questions, the questions are then asked once
(``min_relevance = 0``, ``verify = flag``, the answerability classifier scoring without
abstaining) and ``min_relevance`` / ``support_threshold`` / ``answerability_threshold``
are calibrated from that pass (:mod:`fiable.evaluation.calibrate`). The best settings are
written to the collection's ``[collections."NAME"]`` table in ``fiable.toml``. Test splits are refused: tuning on them would make the reported
figures meaningless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from ..errors import UserError
from ..retrieval import fuse
from ..settings import write_collection_settings
from . import metrics as m
from .datasets import Dataset
from .calibrate import Calibration, calibrate_abstention
from .runner import (Candidates, default_collection, document_keys, evaluate, fetch_candidates,
                     ingest_corpus, rank_documents)

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["GRID", "SweepResult", "fusion_of", "refuse_test_split", "relevance_pairs", "sweep"]

GRID: tuple[dict[str, Any], ...] = (
    *({"fusion": "rrf", "rrf_k": k} for k in (5, 10, 20, 40, 60, 100)),
    *({"fusion": "weighted", "dense_weight": w / 10} for w in range(0, 11)),
)


@dataclass(slots=True)
class SweepResult:
    collection: str
    metric: str
    split: str
    scores: list[tuple[dict[str, Any], float]]
    best: dict[str, Any]
    best_score: float
    current: dict[str, Any]
    current_score: float
    written: str | None = None
    run_id: int | None = None
    notes: list[str] = field(default_factory=list)
    abstention: Calibration | None = None


def refuse_test_split(dataset: Dataset) -> None:
    """Tuning needs a development split: a test split, or none, is refused."""
    if dataset.split is None or dataset.split == "test":
        raise UserError(
            f"refusing to tune on split {dataset.split or '(none)'!r} of {dataset.name}: "
            "tuning on the test split makes its figures meaningless",
            hint="pass --split with a development split "
                 f"({', '.join(s for s in dataset.splits if s != 'test') or 'add one: qrels/dev.tsv or split fields'})")


def relevance_pairs(dataset: Dataset) -> list[tuple[str, dict[str, int]]]:
    """(query text, gold documents) of a retrieval set, or of a QA set's answerable
    questions that name their documents."""
    if dataset.kind == "retrieval":
        return [(q.text, q.relevant) for q in dataset.queries]
    return [(q.question, {d: 1 for d in q.doc_ids}) for q in dataset.questions
            if q.answerable and q.doc_ids]


def fusion_of(settings: Any) -> dict[str, Any]:
    """The fusion part of ``settings`` as a :data:`GRID` entry."""
    if settings.fusion == "rrf":
        return {"fusion": "rrf", "rrf_k": settings.rrf_k}
    return {"fusion": "weighted", "dense_weight": settings.dense_weight}


def sweep(
    ws: "Workspace",
    dataset: Dataset,
    *,
    collection: str | None = None,
    k: int = 10,
    write: bool = True,
    abstention: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> SweepResult:
    """Score every fusion setting of :data:`GRID` on ``dataset`` (a dev split) and write the
    best one for the collection (unless ``write`` is False)."""
    refuse_test_split(dataset)
    if dataset.corpus_path is not None:
        collection = collection or default_collection(dataset)
        ingest_corpus(ws, dataset, collection, progress)
    elif collection is None:
        raise UserError("a sweep needs the collection it tunes", hint="pass --collection NAME")
    ws.store.require_collections([collection])
    metric = f"ndcg@{k}" if dataset.kind == "retrieval" else f"mrr@{k}"
    settings = ws.settings_for([collection])
    pairs = relevance_pairs(dataset)
    if not pairs:
        raise UserError(f"{dataset.path}: no question has gold doc_ids to tune retrieval on",
                        hint="add doc_ids to the answerable questions")
    found: list[tuple[Candidates, dict[str, int]]] = []
    for i, (text, relevant) in enumerate(pairs, start=1):
        found.append((fetch_candidates(ws, text, collection, settings.candidates,
                                       query_pool=settings.query_pool,  # type: ignore[arg-type]
                                       query_terms=settings.query_terms), relevant))
        if progress:
            progress("query", i, len(pairs))
    key = document_keys(ws, [cid for c, _ in found for cid, _ in (*c.lexical, *c.dense)])

    def score(setting: dict[str, Any]) -> float:
        values = []
        for c, relevant in found:
            fused = fuse(c.lexical, c.dense, method=setting["fusion"],
                         rrf_k=setting.get("rrf_k", 60), dense_weight=setting.get("dense_weight", 0.5))
            ranked = rank_documents(fused, key)
            values.append(m.ndcg_at_k(ranked, relevant, k) if dataset.kind == "retrieval"
                          else m.reciprocal_rank(ranked, relevant, k))
        return round(m.mean(values), 4)

    current = fusion_of(settings)
    current_score = score(current)
    scores = [(dict(s), score(s)) for s in GRID]
    best, best_score = max(scores, key=lambda item: (item[1], item[0] == current))
    if best_score <= current_score:
        best, best_score = current, current_score
    result = SweepResult(collection, metric, dataset.split, scores, best, best_score,
                         current, current_score)
    today = datetime.now(timezone.utc).date().isoformat()
    values: dict[str, Any] = dict(best)
    comment = [f"tuned by `fiable eval --sweep` on {dataset.name} split {dataset.split}, {today}:",
               f"fusion: {metric} {best_score:.4f} over {len(pairs)} queries "
               f"(was {current_score:.4f} with {current})"]
    if best == current:
        result.notes.append("fusion: the current setting is already the best on this split")
    if abstention and dataset.kind == "qa":
        if not any(not q.answerable for q in dataset.questions):
            result.notes.append("abstention: no unanswerable question in this split, not calibrated")
        else:
            run = evaluate(ws, dataset, collection=collection, store=False, progress=progress,
                           overrides={"min_relevance": 0.0, "verify": "flag",
                                      "answerability": "classifier",
                                      "answerability_threshold": 0.0})
            cal = result.abstention = calibrate_abstention(run.items)
            values.update(min_relevance=cal.min_relevance, support_threshold=cal.support_threshold,
                          verify="abstain" if cal.support_threshold > 0 else settings.verify,
                          answerability="classifier" if cal.answerability_threshold > 0 else "off")
            if cal.answerability_threshold > 0:
                values["answerability_threshold"] = cal.answerability_threshold
            comment.append(
                f"abstention: F1 {cal.chosen['abstention.f1']:.3f}, answer F1 {cal.chosen['f1']:.3f} "
                f"(without: {cal.baseline['abstention.f1']:.3f}, {cal.baseline['f1']:.3f}) "
                f"over {len(run.items)} questions")
    changed = any(getattr(settings, k) != v for k, v in values.items())
    if write and changed:
        result.written = str(write_collection_settings(ws.path, collection, values,
                                                       comment="\n".join(comment)))
        ws.reload_collection_settings()
    elif not changed:
        result.notes.append("nothing written: the collection's settings are already these")
    summary = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "label": "sweep", "dataset": dataset.name, "dataset_path": str(dataset.path),
        "dataset_fingerprint": dataset.fingerprint, "kind": "sweep", "split": dataset.split,
        "collection": collection, "items": len(pairs), "k": k,
        "metrics": {f"best.{metric}": best_score, f"current.{metric}": current_score},
        "best": best, "current": current, "written": result.written,
        "abstention": None if result.abstention is None else {
            "min_relevance": result.abstention.min_relevance,
            "support_threshold": result.abstention.support_threshold,
            "answerability_threshold": result.abstention.answerability_threshold,
            "chosen": result.abstention.chosen, "baseline": result.abstention.baseline},
        "settings": settings.redacted(), "models": {"embedder": {"model_id": ws.embedder.model_id}},
        "latency": {}, "seconds": 0.0,
    }
    result.run_id = ws.store.save_eval_run(
        summary, [{"setting": s, metric: v} for s, v in scores])
    return result
