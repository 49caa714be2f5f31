"""Multilingual retrieval: French (PIAF) beside English (SQuAD 2.0 answerable questions).

Every paragraph of the dataset is the corpus (ingested as one record each, chunked as usual);
every question is asked against all of it. A question is found when the paragraph holding
its answer is among the first 5 distinct paragraphs retrieved (recall@5); MRR over the first
50 candidates. Rows:

- BM25 as fiable indexed it before issue 10 (FTS5 ``porter unicode61``: English Porter stems
  for every language; the query's English stop words dropped), rebuilt from the same chunks
  in a scratch SQLite table, beside BM25 with per-language analysis (``fiable.lexical``:
  Snowball stems of the detected language, accents folded), with and without query stop words;
- dense search with all-MiniLM-L6-v2 and with multilingual-e5-small;
- hybrids (RRF, weighted) of the per-language BM25 with each dense model;
- ingestion (chunks/s, load+chunk+detect+embed+store) and query embedding speed per model;
- SciFact BM25 nDCG@10 (test) before/after, so English does not get worse (``--scifact``).

Indexes and query vectors are cached under benchmarks/results/cache/multilingual/ (delete
the folder, or pass --rebuild, to measure ingestion again).

    python benchmarks/multilingual.py                       # PIAF + SQuAD + SciFact (~25 min)
    python benchmarks/multilingual.py --datasets piaf --limit 500    # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS must not fight the models

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine, mean, ndcg_at_k, scifact, table  # noqa: E402

import numpy as np  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.ingest import TextRecord  # noqa: E402
from fiable.lexical import query_terms  # noqa: E402
from fiable.retrieval import fuse  # noqa: E402
from fiable.sentences import content_words  # noqa: E402

COMMAND = "python benchmarks/multilingual.py " + " ".join(sys.argv[1:])
CACHE = Path(__file__).resolve().parent / "results" / "cache" / "multilingual"
EMBEDDERS = {"MiniLM": "minilm-l6-v2", "e5-small": "multilingual-e5-small"}
DATASETS = {"piaf": ("piaf/piaf-v1.1.json", "French"), "squad": ("squad2/dev-v2.0.json", "English")}
CANDIDATES = 50


def load_squad(path: Path, limit: int | None) -> tuple[list[TextRecord], list[tuple[str, str]]]:
    """Paragraph records and (question, id of the paragraph holding its answer)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    records, questions = [], []
    for a, article in enumerate(data):
        for p, para in enumerate(article["paragraphs"]):
            pid = f"{a}-{p}"
            records.append(TextRecord(id=pid, title=article.get("title", "").replace("_", " "),
                                      text=para["context"]))
            for qa in para["qas"]:
                if not qa.get("is_impossible") and qa.get("answers"):
                    questions.append((qa["question"], pid))
    if limit:
        step = max(len(questions) // limit, 1)
        questions = questions[::step][:limit]
    return records, questions


def workspace(dataset: str, embedder: str, records: list[TextRecord], rebuild: bool
              ) -> tuple[Workspace, dict[str, float]]:
    """The cached workspace of ``dataset`` embedded by ``embedder`` (built when missing)."""
    folder = CACHE / f"{dataset}-{embedder}"
    timing_file = folder / "ingest.json"
    if rebuild and folder.exists():
        shutil.rmtree(folder)
    ws = Workspace.open(folder, create=True, embedder=embedder, generator="fake")
    if not timing_file.exists():
        ws.embedder.embed_documents(["warm up"])
        t0 = time.perf_counter()
        report = ws.ingest_records(records, collection=dataset)
        seconds = time.perf_counter() - t0
        timing = {"chunks": report.chunks, "seconds": seconds}
        timing_file.write_text(json.dumps(timing), encoding="utf-8")
    return ws, json.loads(timing_file.read_text(encoding="utf-8"))


def chunk_records(ws: Workspace) -> dict[int, str]:
    rows = ws.store._query("SELECT k.id, d.source FROM chunks k JOIN documents d "
                           "ON d.id = k.document_id")
    return {r["id"]: r["source"].split(":", 1)[1] for r in rows}


def porter_index(ws: Workspace) -> sqlite3.Connection:
    """The pre-issue-10 lexical index (FTS5 porter unicode61 over raw text) of the same chunks."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(text, context, "
                 "tokenize = 'porter unicode61 remove_diacritics 2')")
    rows = ws.store._query("SELECT k.id, k.text, k.heading_path, d.title FROM chunks k "
                           "JOIN documents d ON d.id = k.document_id")
    conn.executemany("INSERT INTO f(rowid, text, context) VALUES (?, ?, ?)",
                     [(r["id"], r["text"], " ".join([r["title"], *json.loads(r["heading_path"])]))
                      for r in rows])
    return conn


def fts_search(conn: sqlite3.Connection, table_name: str, terms: list[str], k: int
               ) -> list[tuple[int, float]]:
    if not terms:
        return []
    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    rows = conn.execute(f"SELECT rowid, bm25({table_name}, 1.0, 0.5) AS s FROM {table_name} "
                        f"WHERE {table_name} MATCH ? ORDER BY s LIMIT ?", (match, k)).fetchall()
    return [(int(r[0]), -float(r[1])) for r in rows]


def query_vectors(ws: Workspace, dataset: str, embedder: str, questions: list[tuple[str, str]]
                  ) -> tuple[np.ndarray, list[float]]:
    """Query vectors (cached) and per-query embedding times (ms, measured when computed)."""
    path = CACHE / f"{dataset}-{embedder}" / f"queries-{len(questions)}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["vectors"], list(saved["ms"])
    vectors, ms = [], []
    for question, _ in questions:
        t0 = time.perf_counter()
        vectors.append(ws.embedder.embed_query(question))
        ms.append((time.perf_counter() - t0) * 1000)
    out = np.stack(vectors).astype(np.float32)
    np.savez(path, vectors=out, ms=np.array(ms))
    return out, ms


def rank_metrics(paragraphs: list[str], gold: str) -> tuple[float, float]:
    """(recall@5, reciprocal rank) of ``gold`` among the ranked distinct ``paragraphs``."""
    if gold not in paragraphs:
        return 0.0, 0.0
    rank = paragraphs.index(gold) + 1
    return (1.0 if rank <= 5 else 0.0), 1.0 / rank


def bench_dataset(dataset: str, limit: int | None, rebuild: bool
                  ) -> tuple[list[list[str]], list[list[str]], dict[str, float]]:
    rel, language = DATASETS[dataset]
    records, questions = load_squad(DATA / rel, limit)
    print(f"\n{dataset} ({language}): {len(records)} paragraphs, {len(questions)} questions",
          flush=True)
    # every list as paragraph ids, best first: chunk ids are per workspace (each embedder's
    # tokenizer chunks a little differently), so hybrids fuse within one workspace
    lists: dict[str, list[list[str]]] = {}
    speed_rows: list[list[str]] = []
    for label, name in EMBEDDERS.items():
        ws, timing = workspace(dataset, name, records, rebuild)
        doc_of = chunk_records(ws)

        def paragraphs(ranked: list[tuple[int, float]]) -> list[str]:
            return list(dict.fromkeys(doc_of[c] for c, _ in ranked if c in doc_of))

        vectors, ms = query_vectors(ws, dataset, name, questions)
        dense = [ws.store.vector_search(v, CANDIDATES, [dataset]) for v in vectors]
        bm25 = [ws.store.lexical_search(q, CANDIDATES, [dataset]) for q, _ in questions]
        lists[f"dense {label}"] = [paragraphs(r) for r in dense]
        lists[f"hybrid RRF BM25 + {label}"] = [paragraphs(fuse(a, b, method="rrf"))
                                               for a, b in zip(bm25, dense)]
        for w in (0.3, 0.5, 0.7):
            lists[f"hybrid weighted {w} BM25 + {label}"] = [
                paragraphs(fuse(a, b, method="weighted", dense_weight=w))
                for a, b in zip(bm25, dense)]
        speed_rows.append([f"{dataset} {label}", f"{timing['chunks']}",
                           f"{timing['seconds']:.1f}", f"{timing['chunks'] / timing['seconds']:.1f}",
                           f"{statistics.median(ms):.1f}", f"{np.percentile(ms, 95):.1f}"])
        if label == "MiniLM":  # the lexical rows, on MiniLM's chunks
            langs = ws.store.languages([dataset])
            print(f"  detected chunk languages: {langs}", flush=True)
            porter = porter_index(ws)
            lists["BM25 porter (before)"] = [paragraphs(
                fts_search(porter, "f", list(dict.fromkeys(content_words(q)))[:64], CANDIDATES))
                for q, _ in questions]
            lists["BM25 per-language (now)"] = [paragraphs(r) for r in bm25]
            lists["BM25 per-language, query stop words kept"] = [paragraphs(
                fts_search(ws.store._conn, "chunks_fts",
                           query_terms(q, langs, stop_words=False), CANDIDATES))
                for q, _ in questions]
        ws.close()
    rows, summary = [], {}
    for name, ranked in lists.items():
        scores = [rank_metrics(r, gold) for r, (_, gold) in zip(ranked, questions)]
        r5, mrr = mean([s[0] for s in scores]), mean([s[1] for s in scores])
        summary[name] = r5
        rows.append([name, f"{r5:.3f}", f"{mrr:.3f}"])
    return rows, speed_rows, summary


def bench_scifact() -> list[list[str]]:
    """SciFact BM25 nDCG@10 / recall@10 before (FTS5 porter) and now (per-language)."""
    corpus, queries, qrels = scifact()
    folder = CACHE / "scifact-hashing"
    ws = Workspace.open(folder, create=True, embedder="hashing", generator="fake")
    ws.ingest_records([TextRecord(id=c["_id"], title=c["title"], text=c["text"]) for c in corpus],
                      collection="scifact")
    doc_of = chunk_records(ws)
    porter = porter_index(ws)
    rows = []
    for name, search in (
            ("BM25 porter (before)", lambda q: fts_search(
                porter, "f", list(dict.fromkeys(content_words(q)))[:64], CANDIDATES)),
            ("BM25 per-language (now)", lambda q: ws.store.lexical_search(q, CANDIDATES,
                                                                          ["scifact"]))):
        row = [name]
        for split in ("train", "test"):
            ndcg = []
            for qid, rel in qrels[split].items():
                ranked = list(dict.fromkeys(doc_of[c] for c, _ in search(queries[qid])))
                ndcg.append(ndcg_at_k(ranked, rel))
            row.append(f"{mean(ndcg):.4f}")
        rows.append(row)
    ws.close()
    return rows


def _all_vectors(ws: Workspace) -> tuple[np.ndarray, np.ndarray]:
    rows = ws.store._query("SELECT id, embedding FROM chunks ORDER BY id")
    return (np.array([r["id"] for r in rows]),
            np.stack([np.frombuffer(r["embedding"], dtype=np.float32) for r in rows]))


def bench_binary_index(datasets: list[str], n_queries: int) -> list[list[str]]:
    """How well the PostgreSQL store's binary-quantised shortlist (sign bits, Hamming
    distance, then an exact re-rank) keeps the exact top 10, per model: in numpy over all
    chunks of ``datasets`` (shortlists of 1-20% of the corpus; the store takes 400), then
    end to end through pgvector on PIAF (overlap@10 with exact search)."""
    from _common import fresh_database, pg_server

    from fiable.store.copy import copy_store
    from fiable.store.postgres import PostgresStore

    rows = []
    for label, name in EMBEDDERS.items():
        ids, vecs, queries = [], [], []
        for dataset in datasets:
            ws = Workspace.open(CACHE / f"{dataset}-{name}", embedder=name, generator="fake")
            i, v = _all_vectors(ws)
            ids.append(i)
            vecs.append(v)
            saved = sorted((CACHE / f"{dataset}-{name}").glob("queries-*.npz"))
            queries.append(np.load(saved[-1])["vectors"][:n_queries])
            ws.close()
        matrix, q = np.concatenate(vecs), np.concatenate(queries)
        bits, qbits = matrix > 0, q > 0
        row = [label, f"{len(matrix)}", f"{float(np.mean(matrix @ q[0])):.2f}"]
        for share in (0.01, 0.05, 0.2):
            size = max(int(share * len(matrix)), 10)
            kept = []
            for vec, qb in zip(q, qbits):
                exact = set(np.argsort(-(matrix @ vec))[:10])
                hamming = (bits != qb).sum(axis=1)
                shortlist = set(np.argsort(hamming, kind="stable")[:size])
                kept.append(len(exact & shortlist) / 10)
            row.append(f"{mean(kept):.3f} ({size})")
        rows.append(row)
    server = pg_server(None, CACHE)
    for label, name in EMBEDDERS.items():
        ws = Workspace.open(CACHE / f"piaf-{name}", embedder=name, generator="fake")
        pg = PostgresStore(fresh_database(server, f"fiable_ml_{label.replace('-', '_').lower()}"))
        copy_store(ws.store, pg, collections=["piaf"], sample=10)
        q = np.load(sorted((CACHE / f"piaf-{name}").glob("queries-*.npz"))[-1])["vectors"]
        def keys(store: Any, found: list[tuple[int, float]]) -> set[tuple[str, int]]:
            return {(c.source, c.ordinal) for c in store.chunks([i for i, _ in found])}

        import fiable.store.postgres as pg_module

        default = pg_module.EXACT_UP_TO
        for exact_up_to in (0, default):  # the binary index forced, then the store's default
            pg_module.EXACT_UP_TO = exact_up_to
            overlap = [len(keys(pg, pg.vector_search(v, 10)) &
                           keys(ws.store, ws.store.vector_search(v, 10))) / 10
                       for v in q[:n_queries]]
            [r for r in rows if r[0] == label][0].append(f"{mean(overlap):.3f}")
        pg_module.EXACT_UP_TO = default
        pg.close()
        ws.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="piaf,squad")
    parser.add_argument("--limit", type=int, default=None, help="questions per dataset")
    parser.add_argument("--rebuild", action="store_true", help="re-ingest (measure ingestion)")
    parser.add_argument("--no-scifact", action="store_true")
    parser.add_argument("--postgres", action="store_true",
                        help="only the binary-quantised index check (needs the indexes built)")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    if args.postgres:
        print("\nBinary-quantised shortlist: share of the exact top 10 kept (shortlist size); "
              "pgvector HNSW + re-rank overlap@10 with exact search on PIAF:")
        print(table(bench_binary_index(args.datasets.split(","), args.limit or 500),
                    ["model", "chunks", "mean cosine", "1%", "5%", "20%",
                     "PG binary index overlap@10 (PIAF)", "PG default (exact <= 20k)"]))
        print(f"\nrerun: {COMMAND}")
        return
    speed: list[list[str]] = []
    for dataset in args.datasets.split(","):
        rows, speed_rows, summary = bench_dataset(dataset, args.limit, args.rebuild)
        speed += speed_rows
        best = max((n for n in summary if n.startswith("hybrid")), key=summary.get)
        print(table(rows, ["retrieval", "recall@5", "MRR"]))
        print(f"best hybrid: {best} (recall@5 {summary[best]:.3f}; goal >= 0.85 on PIAF)")
    print("\nIngestion (load, chunk, detect language, embed, store) and query embedding:")
    print(table(speed, ["dataset, embedder", "chunks", "ingest s", "chunks/s", "query p50 ms",
                        "query p95 ms"]))
    if not args.no_scifact:
        print("\nSciFact BM25 nDCG@10 (English must not get worse):")
        print(table(bench_scifact(), ["lexical", "train", "test"]))
    print(f"\nrerun: {COMMAND}")


if __name__ == "__main__":
    main()
