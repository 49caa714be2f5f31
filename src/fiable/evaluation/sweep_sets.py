"""Retrieval settings tuned on several development splits at once (``fiable eval sweep``).

A default must hold on data it was not tuned on, so it is chosen by the mean over data
sets, each counting once, never by one set:

1. every data set's corpus is ingested into its own collection (``eval-<name>``), and each
   query's candidates are fetched once per query-side variant: dense from the embedder's
   truncation (``query_pool = first``) or from the mean of sentence windows (``mean``),
   BM25 over every term or the 16 / 32 / 64 / 128 rarest (``query_terms``), 100 of each;
2. stage 1 picks the query-side variant (with RRF k = 60 and weighted 0.5, 50 candidates),
   stage 2 the fusion (:data:`fiable.evaluation.sweep.GRID`) and the candidate depth
   (20 / 50 / 100), all scored on the same lists: nDCG@k for retrieval sets, MRR@k of the
   gold documents for QA sets;
3. the winner is written with its evidence (each set's score beside the current
   setting's) as workspace-wide settings in ``fiable.toml``, or for one collection.

The current setting is kept unless another beats its mean; sets where the winner scores
below the current setting are named in the notes. Test splits are refused.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..errors import UserError
from ..retrieval import QUERY_POOLS, fuse, query_vector, query_windows, rank_documents
from ..settings import write_collection_settings, write_settings
from . import metrics as m
from .datasets import Dataset
from .runner import default_collection, document_keys, ingest_corpus
from .sweep import GRID, fusion_of, refuse_test_split, relevance_pairs

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["DEPTHS", "Lists", "QUERY_TERMS", "SetLists", "SetsSweepResult", "fetch_lists",
           "ranked_documents", "score_lists", "sweep_sets"]

QUERY_TERMS: tuple[int, ...] = (0, 16, 32, 64, 128)
DEPTHS: tuple[int, ...] = (20, 50, 100)
Lists = dict[tuple[str, Any], list[tuple[int, float]]]  # ("dense", pool) | ("bm25", terms)


@dataclass(slots=True)
class SetLists:
    """One data set's candidates: per query, its relevant documents and every variant's list."""

    name: str
    kind: str
    queries: list[tuple[dict[str, int], Lists]]
    key: dict[int, str]


@dataclass(slots=True)
class SetsSweepResult:
    metric: str
    sets: list[str]
    queries: list[int]
    best: dict[str, Any]
    best_scores: list[float]
    current: dict[str, Any]
    current_scores: list[float]
    ranking: list[tuple[dict[str, Any], float, list[float]]]
    written: str | None = None
    run_id: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def best_mean(self) -> float:
        return round(m.mean(self.best_scores), 4)

    @property
    def current_mean(self) -> float:
        return round(m.mean(self.current_scores), 4)


def fetch_lists(ws: "Workspace", text: str, collection: str, depth: int = max(DEPTHS)) -> Lists:
    """``text``'s candidates for every query-side variant (variants that cannot differ, a
    query that fits the embedder or has few terms, are fetched once)."""
    embedder = ws.embedder_for(collection)
    out: Lists = {("dense", "first"): ws.store.vector_search(embedder.embed_query(text), depth,
                                                              [collection])}
    out["dense", "mean"] = (out["dense", "first"] if len(query_windows(embedder, text)) == 1
                            else ws.store.vector_search(query_vector(embedder, text, pool="mean"),
                                                        depth, [collection]))
    for terms in QUERY_TERMS:
        out["bm25", terms] = ws.store.lexical_search(text, depth, [collection], max_terms=terms)
    return out


def ranked_documents(lists: Lists, key: Mapping[int, str], setting: Mapping[str, Any], *,
                     mode: str = "hybrid", doc_pool: str = "max",
                     exclude: str | None = None) -> list[str]:
    """Documents best first for ``setting`` (fusion, rrf_k, dense_weight, candidates,
    query_pool, query_terms) from one query's ``lists``; ``mode`` ``bm25`` / ``dense`` ranks
    by that retriever alone; ``exclude`` is a document left out (a paragraph query's own)."""
    depth = setting["candidates"]
    lexical = lists["bm25", setting["query_terms"]][:depth]
    dense = lists["dense", setting["query_pool"]][:depth]
    if mode == "bm25":
        ranked = lexical
    elif mode == "dense":
        ranked = dense
    else:
        ranked = fuse(lexical, dense, method=setting["fusion"], rrf_k=setting.get("rrf_k", 60),
                      dense_weight=setting.get("dense_weight", 0.5))
    return [d for d in rank_documents(ranked, key, pool=doc_pool)  # type: ignore[arg-type]
            if d != exclude]


def score_lists(lists: Lists, key: Mapping[int, str], relevant: Mapping[str, int],
                setting: Mapping[str, Any], *, k: int = 10, metric: str = "ndcg") -> float:
    """The ``metric`` (``ndcg`` or ``mrr``) at ``k`` of ``setting`` on one query's ``lists``."""
    ranked = ranked_documents(lists, key, setting)
    if metric == "ndcg":
        return m.ndcg_at_k(ranked, relevant, k)
    return m.reciprocal_rank(ranked, relevant, k)


def _setting_of(settings: Any) -> dict[str, Any]:
    return {**fusion_of(settings), "candidates": settings.candidates,
            "query_pool": settings.query_pool, "query_terms": settings.query_terms}


def _check(datasets: Sequence[Dataset]) -> None:
    if not datasets:
        raise UserError("a sweep needs at least one data set", hint="fiable eval sweep DATASET...")
    for d in datasets:
        refuse_test_split(d)
        if d.corpus_path is None:
            raise UserError(f"{d.name} has no corpus.jsonl to search",
                            hint="give BEIR or QA folders with their corpus.jsonl")
        if not relevance_pairs(d):
            raise UserError(f"{d.path}: no question has gold doc_ids to tune retrieval on",
                            hint="add doc_ids to the answerable questions")
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise UserError(f"data set given twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}",
                        hint="give each data set once")


def sweep_sets(ws: "Workspace", datasets: Sequence[Dataset], *, k: int = 10,
               collection: str | None = None, write: bool = True,
               progress: Callable[[str, int, int], None] | None = None) -> SetsSweepResult:
    """Tune fusion, candidate depth and the long-query settings by the mean over
    ``datasets`` (dev splits); write the best workspace-wide, or for ``collection``."""
    _check(datasets)
    if collection is not None:
        ws.store.require_collections([collection])
    sets: list[SetLists] = []
    for dataset in datasets:
        target = default_collection(dataset)
        ingest_corpus(ws, dataset, target, progress)
        pairs = relevance_pairs(dataset)
        queries = []
        for i, (text, relevant) in enumerate(pairs, start=1):
            queries.append((relevant, fetch_lists(ws, text, target)))
            if progress:
                progress(f"queries of {dataset.name}", i, len(pairs))
        ids = {cid for _, lists in queries for ranked in lists.values() for cid, _ in ranked}
        sets.append(SetLists(dataset.name, dataset.kind, queries, document_keys(ws, sorted(ids))))

    def per_set(setting: Mapping[str, Any]) -> list[float]:
        return [round(m.mean([score_lists(lists, s.key, rel, setting, k=k,
                                          metric="ndcg" if s.kind == "retrieval" else "mrr")
                              for rel, lists in s.queries]), 4) for s in sets]

    settings = ws.settings_for([collection]) if collection else ws.settings
    current = _setting_of(settings)

    def scored(setting: dict[str, Any]) -> tuple[dict[str, Any], float, list[float]]:
        scores = per_set(setting)
        return setting, round(m.mean(scores), 4), scores

    stage1 = [scored({**f, "candidates": 50, "query_pool": pool, "query_terms": terms})
              for pool, terms in itertools.product(QUERY_POOLS, QUERY_TERMS)
              for f in ({"fusion": "rrf", "rrf_k": 60}, {"fusion": "weighted", "dense_weight": 0.5})]

    # ties (a short question reads the same whatever its long-query settings) keep what is
    # set now: nothing changes without a measured gain
    def changes(setting: Mapping[str, Any]) -> int:
        return sum(current.get(name) != value for name, value in setting.items())

    side = min(stage1, key=lambda r: (-r[1], changes(r[0])))[0]
    ranking = [scored({**dict(f), "candidates": depth, "query_pool": side["query_pool"],
                       "query_terms": side["query_terms"]})
               for f in GRID for depth in DEPTHS]
    ranking.sort(key=lambda r: (-r[1], changes(r[0])))
    cur = scored(current)
    best = ranking[0] if ranking[0][1] > cur[1] else cur
    names = [s.name for s in sets]
    metric = f"ndcg@{k}" if all(s.kind == "retrieval" for s in sets) else f"ndcg@{k} / mrr@{k}"
    result = SetsSweepResult(metric, names, [len(s.queries) for s in sets], best[0], best[2],
                             current, cur[2], ranking)
    if best[0] == current:
        result.notes.append("the current setting is already the best by the mean over the sets")
    worse = [f"{n} ({b:.4f} < {c:.4f})" for n, b, c in zip(names, best[2], cur[2]) if b < c]
    if worse and best[0] != current:
        result.notes.append("the chosen setting scores below the current one on: " + ", ".join(worse))
    if len(sets) > 1:
        result.notes.append(f"spread across sets (std): {statistics.pstdev(best[2]):.4f}")
    today = datetime.now(timezone.utc).date().isoformat()
    comment = [f"tuned by `fiable eval sweep` on {today}, {metric} by the mean over "
               f"{len(sets)} dev split(s): {best[1]:.4f} (was {cur[1]:.4f} with {current})"]
    comment += [f"  {n} ({q} queries): {b:.4f} (was {c:.4f})"
                for n, q, b, c in zip(names, result.queries, best[2], cur[2])]
    values = {name: value for name, value in best[0].items()}
    changed = any(getattr(settings, name) != value for name, value in values.items())
    if write and changed:
        path = (write_collection_settings(ws.path, collection, values, comment="\n".join(comment))
                if collection else write_settings(ws.path, values, comment="\n".join(comment)))
        result.written = str(path)
        ws.reload_collection_settings()
    elif not changed:
        result.notes.append("nothing written: the settings are already these")
    summary = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "label": "sweep", "dataset": "+".join(names), "dataset_path": ", ".join(str(d.path) for d in datasets),
        "dataset_fingerprint": "+".join(d.fingerprint for d in datasets), "kind": "sweep",
        "split": "+".join(str(d.split) for d in datasets), "collection": collection,
        "items": sum(result.queries), "k": k,
        "metrics": {"best.mean": best[1], "current.mean": cur[1],
                    **{f"best.{n}": v for n, v in zip(names, best[2])},
                    **{f"current.{n}": v for n, v in zip(names, cur[2])}},
        "best": best[0], "current": current, "written": result.written,
        "settings": settings.redacted(), "models": {"embedder": {"model_id": ws.embedder.model_id}},
        "latency": {}, "seconds": 0.0,
    }
    result.run_id = ws.store.save_eval_run(
        summary, [{"setting": s, "mean": v, **dict(zip(names, per))} for s, v, per in ranking])
    return result
