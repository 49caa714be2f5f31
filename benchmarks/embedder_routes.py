"""Torch vs ONNX: the two routes to all-MiniLM-L6-v2, measured on the same texts in one run.

Routes:
  onnx   fiable.embedders.onnx.OnnxEmbedder (onnxruntime + tokenizers, int8-stored weights)
  torch  fiable.embedders.torch.SentenceTransformerEmbedder (sentence-transformers, fp32)

Measures, with the same settings for both (batch 32, max 256 tokens, 2 threads; numpy's
BLAS limited to one thread):
  - load time (import + model) and resident memory added, in this order: onnx, then torch;
  - encoding throughput in docs/s on the first N SciFact abstracts (title + text); each
    measurement is repeated (default 3 times, routes interleaved) and the best is kept,
    because other work shares this machine;
  - single-query latency p50/p95 on SciFact test queries (best of the repeated passes);
  - agreement: cosine between the two routes' vectors for the same text (mean/min);
  - with --quality: SciFact nDCG@10 (and recall@100) with exact dense search over the
    full corpus (5183 docs) on the test qrels, for each route (a few minutes per route);
  - install footprint: installed files of onnxruntime+tokenizers vs
    torch+sentence-transformers+transformers, alone and with their dependencies.

Run it in the torch venv (it has both routes):
    .venv-torch/bin/python benchmarks/embedder_routes.py --quality

Model files: --onnx/--tokenizer/--st-dir, else FIABLE_TEST_MINILM_ONNX,
FIABLE_TEST_MINILM_TOKENIZER, FIABLE_TEST_MINILM_ST_DIR (default: the tokenizer's folder).
"""

from __future__ import annotations

import os

# Before numpy is imported: BLAS threads would compete with the encoders' threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import argparse  # noqa: E402
import importlib.metadata as md  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# onnx-b32: the ONNX route with plain batches of 32 (no token budget), for comparison.
ROUTES = ("onnx", "torch", "onnx-b32")
SHARED = {"numpy"}  # needed by fiable's core anyway: not counted against either route


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("/work/shared/data/scifact"))
    p.add_argument("-n", "--docs", type=int, default=500, help="abstracts for the throughput test")
    p.add_argument("--queries", type=int, default=100, help="queries for the latency test")
    p.add_argument("--repeats", type=int, default=3, help="repeats per measurement; best kept")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quality", action="store_true", help="also SciFact nDCG@10 on the full corpus")
    p.add_argument("--routes", default="onnx,torch", help="comma-separated, from " + ",".join(ROUTES))
    p.add_argument("--max-batch-tokens", type=int, default=2048, help="the onnx route's token budget")
    p.add_argument("--onnx", type=Path, default=_env_path("FIABLE_TEST_MINILM_ONNX"))
    p.add_argument("--tokenizer", type=Path, default=_env_path("FIABLE_TEST_MINILM_TOKENIZER"))
    p.add_argument("--st-dir", type=Path, default=_env_path("FIABLE_TEST_MINILM_ST_DIR"))
    p.add_argument("--json", type=Path, default=None, help="where to write the results (JSON)")
    args = p.parse_args(argv)
    args.routes = [r for r in args.routes.split(",") if r]
    if not set(args.routes) <= set(ROUTES) or not args.routes:
        p.error(f"--routes takes a subset of {ROUTES}")
    if {"onnx", "onnx-b32"} & set(args.routes) and (args.onnx is None or args.tokenizer is None):
        p.error("give --onnx and --tokenizer (or FIABLE_TEST_MINILM_ONNX/_TOKENIZER)")
    if args.st_dir is None and args.tokenizer is not None:
        args.st_dir = args.tokenizer.parent
    if "torch" in args.routes and (args.st_dir is None or not (args.st_dir / "modules.json").is_file()):
        p.error("give --st-dir: a sentence-transformers directory (with modules.json)")
    return args


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


# -- data --------------------------------------------------------------------------------


def load_corpus(data: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with open(data / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            ids.append(str(row["_id"]))
            texts.append(f"{row.get('title', '')} {row.get('text', '')}".strip())
    return ids, texts


def load_queries(data: Path) -> dict[str, str]:
    with open(data / "queries.jsonl", encoding="utf-8") as f:
        return {str(row["_id"]): row["text"] for row in map(json.loads, f)}


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        next(f)  # header: query-id corpus-id score
        for line in f:
            if line.strip():
                qid, did, score = line.split("\t")
                qrels.setdefault(qid, {})[did] = int(score)
    return qrels


# -- routes ------------------------------------------------------------------------------


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def build(route: str, args: argparse.Namespace) -> Any:
    common = dict(max_tokens=args.max_tokens, batch_size=args.batch_size, threads=args.threads)
    if route.startswith("onnx"):
        from fiable.embedders.onnx import OnnxEmbedder

        budget = args.max_batch_tokens if route == "onnx" else args.batch_size * args.max_tokens
        return OnnxEmbedder(args.onnx, args.tokenizer, max_batch_tokens=budget, **common)
    from fiable.embedders.torch import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(args.st_dir, **common)
    import torch

    torch.set_num_threads(args.threads)
    return embedder


def reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (Linux)
    except OSError:
        pass


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def query_latencies(embedder: Any, queries: list[str]) -> np.ndarray:
    out = []
    for q in queries:
        start = time.perf_counter()
        embedder.embed_query(q)
        out.append(time.perf_counter() - start)
    return np.array(out) * 1000


def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def retrieval_quality(
    doc_vectors: np.ndarray, doc_ids: list[str], query_vectors: np.ndarray, query_ids: list[str],
    qrels: dict[str, dict[str, int]],
) -> dict[str, float]:
    scores = query_vectors @ doc_vectors.T  # exact dense search (cosine: rows are unit)
    ndcg, recall = [], []
    for row, qid in enumerate(query_ids):
        top = np.argpartition(-scores[row], 100)[:100]
        top = top[np.argsort(-scores[row][top], kind="stable")]
        ranked = [doc_ids[i] for i in top]
        relevant = qrels[qid]
        ndcg.append(ndcg_at_k(ranked, relevant, 10))
        hits = sum(1 for d in ranked[:100] if relevant.get(d, 0) > 0)
        recall.append(hits / sum(1 for g in relevant.values() if g > 0))
    return {"ndcg@10": float(np.mean(ndcg)), "recall@100": float(np.mean(recall)), "queries": len(query_ids)}


# -- footprint ---------------------------------------------------------------------------


def _dist_size(dist: md.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        try:
            total += Path(dist.locate_file(f)).stat().st_size
        except OSError:
            pass
    return total


def _requires(dist: md.Distribution) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for spec in dist.requires or []:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        names.append(req.name)
    return names


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def footprint(roots: list[str]) -> dict[str, Any]:
    """Installed size of ``roots`` alone and with their (non-extra) dependency closure."""
    dists = {_norm(d.metadata["Name"]): d for d in md.distributions()}
    seen: set[str] = set()
    todo = [_norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name in SHARED or name not in dists:
            continue
        seen.add(name)
        todo.extend(_norm(n) for n in _requires(dists[name]))
    sizes = {n: _dist_size(dists[n]) for n in sorted(seen)}
    own = sum(sizes.get(_norm(r), 0) for r in roots)
    return {
        "packages": roots,
        "own_mb": own / 1e6,
        "with_deps_mb": sum(sizes.values()) / 1e6,
        "deps": {n: round(s / 1e6, 1) for n, s in sorted(sizes.items(), key=lambda kv: -kv[1])},
        "versions": {n: dists[n].version for n in sorted(seen)},
    }


def model_files_mb(route: str, args: argparse.Namespace) -> float:
    if route.startswith("onnx"):
        return (args.onnx.stat().st_size + args.tokenizer.stat().st_size) / 1e6
    return sum(p.stat().st_size for p in args.st_dir.rglob("*") if p.is_file()) / 1e6


# -- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    load_before = os.getloadavg()
    doc_ids, corpus = load_corpus(args.data)
    queries = load_queries(args.data)
    qrels = load_qrels(args.data / "qrels" / "test.tsv")
    docs = corpus[: args.docs]
    test_qids = [q for q in qrels if q in queries]
    latency_queries = [queries[q] for q in test_qids[: args.queries]]

    res: dict[str, dict[str, Any]] = {r: {} for r in args.routes}
    embedders: dict[str, Any] = {}
    for route in args.routes:  # load in order: each RSS delta is the route's own cost
        rss, start = rss_mb(), time.perf_counter()
        embedders[route] = build(route, args)
        loaded = rss_mb()
        reset_peak_rss()
        embedders[route].embed_documents(docs[: args.batch_size])  # warm-up, long texts
        res[route]["load_s"] = time.perf_counter() - start
        res[route]["rss_loaded_mb"] = loaded - rss
        res[route]["encode_peak_extra_mb"] = peak_rss_mb() - loaded
        res[route]["model_id"] = embedders[route].model_id
        res[route]["model_files_mb"] = model_files_mb(route, args)
        print(f"loaded {route}: {embedders[route]!r}", file=sys.stderr)

    # Throughput: routes interleaved so that background load hits both alike.
    best = {r: math.inf for r in args.routes}
    vectors: dict[str, np.ndarray] = {}
    for i in range(args.repeats):
        for route in args.routes:
            seconds, vectors[route] = best_of(1, lambda: embedders[route].embed_documents(docs))
            best[route] = min(best[route], seconds)
            print(f"  pass {i + 1}: {route} {len(docs) / seconds:.1f} docs/s", file=sys.stderr)
    for route in args.routes:
        res[route]["docs_per_s"] = len(docs) / best[route]
        res[route]["tokens_per_doc"] = float(np.mean([min(embedders[route].count_tokens(d) + 2, args.max_tokens) for d in docs]))

    # Latency: the pass with the best p50 is kept.
    for route in args.routes:
        query_latencies(embedders[route], latency_queries[:10])  # warm-up
        passes = [query_latencies(embedders[route], latency_queries) for _ in range(args.repeats)]
        chosen = min(passes, key=lambda a: float(np.percentile(a, 50)))
        res[route]["query_p50_ms"] = float(np.percentile(chosen, 50))
        res[route]["query_p95_ms"] = float(np.percentile(chosen, 95))

    agreement: dict[str, float] = {}
    pair = [r for r in ("onnx", "torch") if r in args.routes]
    if len(pair) == 2:
        a, b = (vectors[r] for r in pair)
        cos_docs = (a * b).sum(axis=1)
        qa, qb = (embedders[r].embed_documents(latency_queries) for r in pair)
        cos_queries = (qa * qb).sum(axis=1)
        agreement = {
            "docs_mean": float(cos_docs.mean()), "docs_min": float(cos_docs.min()),
            "queries_mean": float(cos_queries.mean()), "queries_min": float(cos_queries.min()),
        }

    if args.quality:
        query_texts = [queries[q] for q in test_qids]
        for route in [r for r in args.routes if r != "onnx-b32"]:  # same vectors as onnx
            print(f"encoding the full corpus ({len(corpus)} docs) with {route}...", file=sys.stderr)
            start = time.perf_counter()
            doc_vectors = embedders[route].embed_documents(corpus)
            res[route]["corpus_encode_s"] = time.perf_counter() - start
            query_vectors = embedders[route].embed_documents(query_texts)
            res[route]["quality"] = retrieval_quality(doc_vectors, doc_ids, query_vectors, test_qids, qrels)

    fp = {
        "onnx": footprint(["onnxruntime", "tokenizers"]),
        "torch": footprint(["torch", "sentence-transformers", "transformers"]),
    }
    fp["onnx-b32"] = fp["onnx"]
    load_after = os.getloadavg()
    report = {
        "command": command,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": load_after},
        "routes": res, "agreement": agreement, "footprint": fp,
    }
    print_table(report, args, len(docs), len(latency_queries))
    out = args.json or ROOT / "benchmarks" / "results" / f"embedder_routes-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nresults: {out}")
    return 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def print_table(report: dict[str, Any], args: argparse.Namespace, n_docs: int, n_queries: int) -> None:
    res, fp, agr = report["routes"], report["footprint"], report["agreement"]
    routes = list(res)
    rows: list[tuple[str, list[str]]] = [
        ("model variant (all-MiniLM-L6-v2/...)", [res[r]["model_id"].rsplit("/", 1)[-1] for r in routes]),
        (f"encode docs/s (SciFact, first {n_docs}, best of {args.repeats})", [f"{res[r]['docs_per_s']:.1f}" for r in routes]),
        ("mean tokens per doc (capped)", [f"{res[r]['tokens_per_doc']:.0f}" for r in routes]),
        (f"query latency p50 ms ({n_queries} queries)", [f"{res[r]['query_p50_ms']:.1f}" for r in routes]),
        ("query latency p95 ms", [f"{res[r]['query_p95_ms']:.1f}" for r in routes]),
        ("load s (import + model + 1st batch)", [f"{res[r]['load_s']:.1f}" for r in routes]),
        ("RSS added by import + load MB", [f"{res[r]['rss_loaded_mb']:.0f}" for r in routes]),
        (f"+ peak while encoding {args.batch_size} abstracts MB", [f"{res[r]['encode_peak_extra_mb']:.0f}" for r in routes]),
        ("model files MB", [f"{res[r]['model_files_mb']:.0f}" for r in routes]),
        ("runtime packages MB (see below)", [f"{fp[r]['own_mb']:.0f}" for r in routes]),
        ("  with all their dependencies MB (numpy excluded)", [f"{fp[r]['with_deps_mb']:.0f}" for r in routes]),
    ]
    if any("quality" in res[r] for r in routes):
        q = next(res[r]["quality"]["queries"] for r in routes if "quality" in res[r])
        rows += [
            (f"SciFact nDCG@10 (full corpus, {q} test queries)", [_q(res[r], "ndcg@10") for r in routes]),
            ("SciFact recall@100", [_q(res[r], "recall@100") for r in routes]),
            ("full corpus encode s (one pass)",
             [f"{res[r]['corpus_encode_s']:.0f}" if "corpus_encode_s" in res[r] else "-" for r in routes]),
        ]
    width = max(len(label) for label, _ in rows)
    print(f"\nEmbedder routes, {report['machine']['cpu']} ({report['machine']['cpus']} CPUs), "
          f"batch {args.batch_size}, max {args.max_tokens} tokens, {args.threads} threads, BLAS 1 thread")
    print(f"| {'':{width}} | " + " | ".join(f"{r:>10}" for r in routes) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * 12 for _ in routes) + "|")
    for label, values in rows:
        print(f"| {label:{width}} | " + " | ".join(f"{v:>10}" for v in values) + " |")
    if agr:
        print(f"\nagreement (cosine, same text, onnx vs torch): docs mean {agr['docs_mean']:.4f} "
              f"min {agr['docs_min']:.4f}; queries mean {agr['queries_mean']:.4f} min {agr['queries_min']:.4f}")
    print("runtime packages: " + "; ".join(
        f"{r}: {' + '.join(fp[r]['packages'])}" for r in dict.fromkeys(routes) if r != "onnx-b32"
    ) + " (installed files, from the packages' RECORD)")
    lb, la = report["machine"]["loadavg_before"], report["machine"]["loadavg_after"]
    print(f"\nThroughput: best of {args.repeats} passes (routes interleaved); latency: the pass with the "
          f"best p50. The machine is shared (load average {lb[0]:.2f} before, {la[0]:.2f} after): "
          "figures vary by ~20% from run to run.")
    if "onnx" in routes:
        print(f"The onnx route batches at most {args.batch_size} texts and {args.max_batch_tokens} padded tokens"
              " (onnx-b32: plain batches of 32); torch: sentence-transformers' batches of 32.")
    print(f"rerun: {report['command']}")


def _q(route: dict[str, Any], key: str) -> str:
    return f"{route['quality'][key]:.4f}" if "quality" in route else "-"


if __name__ == "__main__":
    raise SystemExit(main())
