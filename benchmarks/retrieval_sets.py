"""Retrieval defaults chosen across data sets, short and long queries (issue 22).

Data sets, each with a dev split (tuned on) and a test split (reported), from
``../shared/data`` and the bundled evaluation set:

- short queries: ``scifact`` (claims -> abstracts; dev = train qrels, test = the 167 test
  queries), ``squad`` / ``piaf`` (questions -> their paragraph, SQuAD 2.0 dev and PIAF
  v1.1; split by a hash of the question id as ``fiable eval import-squad`` does),
  ``evalset`` (the bundled Ferrand Holt questions -> their documents, their own split);
- long queries (a paragraph of 100-300 words, longer than MiniLM's 256-token window for a
  good share): ``scifact-long`` (an abstract -> the claims it supports; test = abstracts of
  the test qrels), ``squad-long`` / ``piaf-long`` (a paragraph -> the other paragraphs of
  its article, itself excluded; split by a hash of the article title).

Each query's candidates are fetched once per query-side variant (dense: the embedder's
truncation ``first`` or the mean of sentence windows ``mean``; BM25: every term or the
16/32/64/128 rarest), 100 of each; every fusion (RRF k 5-100, min-max weighted 0.1-0.9),
candidate depth (20/50/100) and document pooling (max / sum of two / RRF across chunks) is
scored on the same lists. Stage 1 picks the query-side variant, stage 2 the rest, both by
the mean nDCG@10 over the dev splits of every set (each set counts once). The test table
then shows BM25 alone, dense alone, today's hybrid (weighted 0.5, 50 candidates, first,
every term), the new defaults and a plain RRF (k = 60, 50 candidates, first, every term);
and query latency p50/p95 through ``hybrid_search`` (the production path) for short and
long queries, new defaults beside the plain RRF.

    FIABLE_BENCH_DATA=../shared/data python benchmarks/retrieval_sets.py   # ~25 min first run
    python benchmarks/retrieval_sets.py --sets scifact squad --limit 100       # a quick run

Workspaces are cached in ``benchmarks/results/retrieval_sets/`` (ingest once); results go
to ``results.json`` there.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine, mean, ndcg_at_k, percentile, recall_at_k, scifact, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation.runner import document_keys  # noqa: E402
from fiable.evaluation.sweep import GRID  # noqa: E402
from fiable.evaluation.sweep_sets import (DEPTHS, QUERY_TERMS, Lists, fetch_lists,  # noqa: E402
                                          ranked_documents)
from fiable.ingest import TextRecord, document_key  # noqa: E402
from fiable.retrieval import QUERY_POOLS, hybrid_search, query_windows  # noqa: E402
from fiable.samples import evalset_dir, evalset_questions  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "retrieval_sets"
K = 10
DOC_POOLS = ("max", "sum2", "rrf")
FUSIONS: tuple[dict[str, Any], ...] = tuple(dict(f) for f in GRID if f.get("dense_weight") not in (0.0, 1.0))
TODAY = {"fusion": "weighted", "dense_weight": 0.5, "candidates": 50, "query_pool": "first",
         "query_terms": 0, "doc_pool": "max"}
PLAIN_RRF = {"fusion": "rrf", "rrf_k": 60, "candidates": 50, "query_pool": "first",
             "query_terms": 0, "doc_pool": "max"}


@dataclass
class Query:
    id: str
    text: str
    relevant: dict[str, int]
    split: str
    exclude: str | None = None  # the query's own document (long sets)


@dataclass
class QuerySet:
    name: str
    collection: str
    long: bool
    queries: list[Query]
    lists: list[Lists] = field(default_factory=list)  # per query, every variant's candidates
    key: dict[int, str] = field(default_factory=dict)


def _bucket(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _squad_like(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def _squad_records(articles: list[dict[str, Any]]) -> Iterable[TextRecord]:
    for a, article in enumerate(articles):
        title = str(article.get("title", "")).replace("_", " ")
        for p, para in enumerate(article["paragraphs"]):
            yield TextRecord(f"p{a:03d}-{p:03d}", title, para["context"])


def _squad_sets(name: str, articles: list[dict[str, Any]]) -> tuple[QuerySet, QuerySet]:
    short: list[Query] = []
    long: list[Query] = []
    for a, article in enumerate(articles):
        title = str(article.get("title", ""))
        pids = [f"p{a:03d}-{p:03d}" for p in range(len(article["paragraphs"]))]
        article_split = "dev" if _bucket(f"0:{title}") < 0.3 else "test"
        for p, para in enumerate(article["paragraphs"]):
            pid = pids[p]
            for qa in para.get("qas", []):
                if qa.get("is_impossible") or not qa.get("answers"):
                    continue
                qid = str(qa["id"])
                short.append(Query(qid, qa["question"].strip(), {document_key(f"record:{pid}"): 1},
                                   "dev" if _bucket(f"0:{qid}") < 0.3 else "test"))
            others = {document_key(f"record:{o}"): 1 for o in pids if o != pid}
            if others:
                long.append(Query(pid, para["context"], others, article_split,
                                  exclude=document_key(f"record:{pid}")))
    return QuerySet(name, name, False, short), QuerySet(f"{name}-long", name, True, long)


def build_sets(names: list[str], ws: Workspace, log: Callable[[str], None]) -> list[QuerySet]:
    sets: list[QuerySet] = []
    if "scifact" in names or "scifact-long" in names:
        corpus, queries, qrels = scifact()
        if "scifact" in names:
            _ingest(ws, "scifact", (TextRecord(d["_id"], d["title"], d["text"]) for d in corpus),
                    len(corpus), log)
            qs = [Query(q, queries[q], {document_key(f"record:{d}"): s for d, s in rel.items()},
                        "dev" if split == "train" else "test")
                  for split in ("train", "test") for q, rel in qrels[split].items()]
            sets.append(QuerySet("scifact", "scifact", False, qs))
        if "scifact-long" in names:
            _ingest(ws, "scifact-claims", (TextRecord(q, "", t) for q, t in queries.items()),
                    len(queries), log)
            cites: dict[str, dict[str, int]] = {}
            test_docs = set()
            for split in ("train", "test"):
                for q, rel in qrels[split].items():
                    for d in rel:
                        cites.setdefault(d, {})[document_key(f"record:{q}")] = 1
                        if split == "test":
                            test_docs.add(d)
            docs = {d["_id"]: d for d in corpus}
            qs = [Query(d, f"{docs[d]['title']}. {docs[d]['text']}", rel,
                        "test" if d in test_docs else "dev") for d, rel in cites.items()]
            sets.append(QuerySet("scifact-long", "scifact-claims", True, qs))
    for name, path in (("squad", DATA / "squad2" / "dev-v2.0.json"),
                       ("piaf", DATA / "piaf" / "piaf-v1.1.json")):
        wanted = [n for n in (name, f"{name}-long") if n in names]
        if not wanted:
            continue
        articles = _squad_like(path)
        records = list(_squad_records(articles))
        _ingest(ws, name, records, len(records), log)
        sets.extend(s for s in _squad_sets(name, articles) if s.name in wanted)
    if "evalset" in names:
        ws.ingest([evalset_dir()], collection="evalset")  # unchanged files are skipped
        qs = []
        for q in evalset_questions():
            if q.get("answerable") and q.get("doc_ids"):
                qs.append(Query(q["id"], q["question"], {d: 1 for d in q["doc_ids"]}, q["split"]))
        sets.append(QuerySet("evalset", "evalset", False, qs))
    return sets


def _ingest(ws: Workspace, collection: str, records: Iterable[TextRecord], total: int,
            log: Callable[[str], None]) -> None:
    t0 = time.perf_counter()
    report = ws.ingest_records(records, collection=collection, total=total)
    if report.chunks:
        log(f"ingested {collection}: {report.chunks} chunks in {time.perf_counter() - t0:.0f} s")


def fetch(ws: Workspace, qset: QuerySet, log: Callable[[str], None]) -> None:
    for i, q in enumerate(qset.queries, start=1):
        qset.lists.append(fetch_lists(ws, q.text, qset.collection))
        if i % 200 == 0:
            log(f"{qset.name}: {i}/{len(qset.queries)} queries")
    ids = {cid for lists in qset.lists for ranked in lists.values() for cid, _ in ranked}
    qset.key = document_keys(ws, sorted(ids))


def score(qset: QuerySet, split: str, config: dict[str, Any], mode: str = "hybrid"
          ) -> tuple[float, float]:
    """(nDCG@10, recall@10) of ``config`` on ``qset``'s ``split``; ``mode`` bm25/dense ranks
    by that retriever alone."""
    ndcgs, recalls = [], []
    for q, lists in zip(qset.queries, qset.lists):
        if q.split == split:
            docs = ranked_documents(lists, qset.key, config, mode=mode,
                                    doc_pool=config["doc_pool"], exclude=q.exclude)
            ndcgs.append(ndcg_at_k(docs, q.relevant, K))
            recalls.append(recall_at_k(docs, q.relevant, K))
    return mean(ndcgs), mean(recalls)


def _name(config: dict[str, Any]) -> str:
    fusion = (f"rrf k={config['rrf_k']}" if config["fusion"] == "rrf"
              else f"weighted {config['dense_weight']:.1f}")
    return (f"{fusion}, {config['candidates']} cand., dense {config['query_pool']}, bm25 "
            f"{config['query_terms'] or 'all'} terms, doc {config['doc_pool']}")


def choose(sets: list[QuerySet], log: Callable[[str], None]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Stage 1: query-side variant; stage 2: fusion x depth x document pooling; both by the
    mean dev nDCG@10 over the sets."""
    dev = [s for s in sets if any(q.split == "dev" for q in s.queries)]

    def ranked(configs: Iterable[dict[str, Any]], stage: int) -> list[dict[str, Any]]:
        rows = []
        for config in configs:
            per = [score(s, "dev", config)[0] for s in dev]
            rows.append({"stage": stage, "config": config, "name": _name(config),
                         "dev_mean": round(mean(per), 4), "spread": round(statistics.pstdev(per), 4),
                         "per_set": {s.name: round(p, 4) for s, p in zip(dev, per)}})
        return sorted(rows, key=lambda r: -r["dev_mean"])

    stage1 = ranked(({**f, "candidates": 50, "query_pool": pool, "query_terms": terms, "doc_pool": "max"}
                     for pool, terms in itertools.product(QUERY_POOLS, QUERY_TERMS)
                     for f in ({"fusion": "rrf", "rrf_k": 60}, {"fusion": "weighted", "dense_weight": 0.5})), 1)
    side = stage1[0]["config"]
    log(f"stage 1: {stage1[0]['name']} (dev mean {stage1[0]['dev_mean']:.4f})")
    stage2 = ranked(({**f, "candidates": depth, "query_pool": side["query_pool"],
                      "query_terms": side["query_terms"], "doc_pool": doc_pool}
                     for f, depth, doc_pool in itertools.product(FUSIONS, DEPTHS, DOC_POOLS)), 2)
    log(f"stage 2: {stage2[0]['name']} (dev mean {stage2[0]['dev_mean']:.4f})")
    return stage2[0]["config"], stage1 + stage2


def _search(ws: Workspace, qset: QuerySet, text: str, config: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    hybrid_search(ws.store, ws.embedder_for(qset.collection), text, k=5,
                  collections=[qset.collection], fusion=config["fusion"],
                  rrf_k=config.get("rrf_k", 60), dense_weight=config.get("dense_weight", 0.5),
                  candidates=config["candidates"], query_pool=config["query_pool"],
                  query_terms=config["query_terms"])
    return time.perf_counter() - t0


def latency(ws: Workspace, qset: QuerySet, configs: dict[str, dict[str, Any]], n: int
            ) -> dict[str, dict[str, float]]:
    """p50/p95 of each of ``configs`` through ``hybrid_search`` on ``qset``'s first ``n``
    test queries: every query is searched with every config in turn (rotating which goes
    first), so load on the machine falls on all of them alike."""
    queries = [q for q in qset.queries if q.split == "test"][:n]
    _search(ws, qset, queries[0].text, next(iter(configs.values())))  # warms the indexes up
    seconds: dict[str, list[float]] = {name: [] for name in configs}
    names = list(configs)
    for i, q in enumerate(queries):
        for name in names[i % len(names):] + names[:i % len(names)]:
            seconds[name].append(_search(ws, qset, q.text, configs[name]))
    return {name: {"p50_ms": round(percentile(v, 50) * 1000, 1),
                   "p95_ms": round(percentile(v, 95) * 1000, 1), "n": len(v)}
            for name, v in seconds.items()}


def context_weights(ws: Workspace, sets: list[QuerySet], best: dict[str, Any],
                    weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)) -> list[dict[str, Any]]:
    """Title/heading weighting: BM25 with the context column (title, headings) weighted
    0 / 0.25 / 0.5 (the store's) / 1 against the chunk text, fused with ``best``; each
    set's BM25 lists scored again from an index built with that weight (same formula)."""
    from fiable.lexical import query_terms, rarest_terms
    from fiable.store.bm25_index import BM25Index

    rows = ws.store.index_rows()  # type: ignore[attr-defined]
    out = []
    for weight in weights:
        index = BM25Index(rows, context_weight=weight)
        dev, test = [], []
        for s in sets:
            [cid] = ws.store._collection_ids([s.collection])  # type: ignore[attr-defined]
            languages = ws.store.languages([s.collection])
            lists = []
            for q, found in zip(s.queries, s.lists):
                terms = query_terms(q.text, languages, limit=1024)
                if best["query_terms"] and len(terms) > best["query_terms"]:
                    terms = rarest_terms(terms, index.document_frequency(terms), best["query_terms"])
                lists.append({**found, ("bm25", best["query_terms"]): index.search(terms, 100, [cid])})
            swapped = QuerySet(s.name, s.collection, s.long, s.queries, lists, s.key)
            dev.append(score(swapped, "dev", best)[0])
            test.append(score(swapped, "test", best)[0])
        out.append({"context_weight": weight, "dev_mean": round(mean(dev), 4),
                    "test_mean": round(mean(test), 4),
                    "dev": {s.name: round(v, 4) for s, v in zip(sets, dev)}})
    return out


def latency_rows(ws: Workspace, sets: list[QuerySet], best: dict[str, Any], n: int,
                 results: dict[str, Any]) -> list[list[str]]:
    """p50/p95 of SciFact's short and long test queries: the new defaults, the plain RRF
    and the previous defaults, interleaved on the same queries."""
    rows = []
    for s in sets:
        if s.name in ("scifact", "scifact-long"):
            found = latency(ws, s, {"new": best, "plain RRF": PLAIN_RRF, "previous": TODAY}, n)
            results.setdefault("latency", {})[s.name] = found
            rows += [[s.name, name, f"{v['p50_ms']}", f"{v['p95_ms']}", str(v["n"])]
                     for name, v in found.items()]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["scifact", "squad", "piaf", "evalset",
                                                      "scifact-long", "squad-long", "piaf-long"])
    parser.add_argument("--limit", type=int, default=400, help="queries per split and set")
    parser.add_argument("--latency", type=int, default=200, help="queries timed per kind")
    parser.add_argument("--workspace", default=str(OUT / "ws"))
    parser.add_argument("--latency-only", action="store_true",
                        help="only time SciFact's short and long queries, at the shipped defaults")
    args = parser.parse_args()
    started = time.time()
    log = lambda msg: print(f"[{time.time() - started:6.0f} s] {msg}", flush=True)  # noqa: E731
    OUT.mkdir(parents=True, exist_ok=True)
    with Workspace.open(args.workspace, create=True, log_asks=False) as ws:
        sets = build_sets(args.sets, ws, log)
        if args.latency_only:
            shipped = {**{k: getattr(ws.settings, k) for k in ("fusion", "rrf_k", "dense_weight",
                       "candidates", "query_pool", "query_terms")}, "doc_pool": "max"}
            rows = latency_rows(ws, sets, shipped, args.latency, {})
            print(f"Machine: {machine()}; shipped defaults: {_name(shipped)}")
            print(table(rows, ["queries", "setting", "p50 ms", "p95 ms", "n"]))
            print(f"Rerun: python benchmarks/retrieval_sets.py --sets scifact scifact-long --latency-only")
            return
        rng = random.Random(0)
        for s in sets:
            for split in ("dev", "test"):
                picked = [q for q in s.queries if q.split == split]
                if len(picked) > args.limit:
                    keep = {id(q) for q in rng.sample(picked, args.limit)}
                    s.queries = [q for q in s.queries if q.split != split or id(q) in keep]
            fetch(ws, s, log)
            words = [len(q.text.split()) for q in s.queries]
            windows = sum(len(query_windows(ws.embedder_for(s.collection), q.text)) > 1
                          for q in s.queries)
            log(f"{s.name}: {sum(q.split == 'dev' for q in s.queries)} dev, "
                f"{sum(q.split == 'test' for q in s.queries)} test queries, "
                f"{statistics.median(words):.0f} words (median), {windows} longer than the embedder reads")
        best, trail = choose(sets, log)
        columns = {"BM25": (TODAY, "bm25"), "dense": (TODAY, "dense"), "previous": (TODAY, "hybrid"),
                   "new": (best, "hybrid"), "plain RRF": (PLAIN_RRF, "hybrid")}
        results: dict[str, Any] = {"machine": machine(), "best": _name(best), "best_config": best,
                                   "sets": {}, "trail": [{k: v for k, v in t.items() if k != "config"}
                                                         for t in trail]}
        rows = []
        sums: dict[str, list[tuple[float, float]]] = {c: [] for c in columns}
        for s in sorted(sets, key=lambda s: (s.long, s.name)):
            row = [s.name, str(sum(q.split == "test" for q in s.queries))]
            results["sets"][s.name] = {}
            for column, (config, mode) in columns.items():
                ndcg, recall = score(s, "test", config, mode)
                results["sets"][s.name][column] = {"ndcg@10": round(ndcg, 4), "recall@10": round(recall, 4)}
                sums[column].append((ndcg, recall))
                row.append(f"{ndcg:.3f} / {recall:.3f}")
            rows.append(row)
        rows.append(["mean", ""] + [f"{mean([n for n, _ in v]):.3f} / {mean([r for _, r in v]):.3f}"
                                    for v in sums.values()])
        results["context_weight"] = context_weights(ws, sets, best)
        lat_rows = latency_rows(ws, sets, best, args.latency, results)
        results["chunks"] = {c.name: c.chunks for c in ws.store.collections()}
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nMachine: {machine()}; default embedder and chunking; chunks per collection: "
          + ", ".join(f"{n} {c}" for n, c in results["chunks"].items()))
    print(f"New defaults (chosen on dev): {_name(best)}\n")
    print("Dev ranking (mean nDCG@10 over the dev splits, spread = std across sets):")
    for stage in (1, 2):
        print(f"\nStage {stage}:")
        print(table([[t["name"], f"{t['dev_mean']:.4f}", f"{t['spread']:.4f}",
                      " ".join(f"{v:.3f}" for v in t["per_set"].values())]
                     for t in trail if t["stage"] == stage][:8],
                    ["setting", "dev mean", "spread", "per set: " + " ".join(next(iter(trail))["per_set"])]))
    print("\nTest splits, nDCG@10 / recall@10:")
    print(table(rows, ["set", "queries", *columns]))
    print("\nTitle/heading weight in BM25 (new defaults otherwise), nDCG@10:")
    print(table([[str(c["context_weight"]), f"{c['dev_mean']:.4f}", f"{c['test_mean']:.4f}",
                  " ".join(f"{v:.3f}" for v in c["dev"].values())] for c in results["context_weight"]],
                ["context weight", "dev mean", "test mean", "dev: " + " ".join(results["context_weight"][0]["dev"])]))
    if lat_rows:
        print("\nQuery latency through hybrid_search (ms):")
        print(table(lat_rows, ["queries", "setting", "p50", "p95", "n"]))
    print(f"\nRerun: FIABLE_BENCH_DATA={DATA} python benchmarks/retrieval_sets.py "
          f"--sets {' '.join(args.sets)} --limit {args.limit}")


if __name__ == "__main__":
    main()
