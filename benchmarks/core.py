"""Core benchmark: ingestion throughput, retrieval latency and quality, generation speed.

Everything runs in one process on the same machine, each fiable figure beside its peer:

1. ingestion: SciFact abstracts written as .txt files, ingested by fiable (load, chunk,
   embed, store), against the embedder alone on exactly the same chunk texts;
2. retrieval latency at >= 10k chunks: hybrid search (embed query + BM25 + dense + RRF),
   p50/p95 over SciFact queries, with the per-stage split;
3. retrieval quality: SciFact nDCG@10 / recall@10 for BM25 alone, dense alone, RRF and
   weighted fusion (fusion chosen on the train qrels, reported on test);
4. generation: tokens/s of fiable's LlamaCppGenerator against the raw xllamacpp binding on
   the same prompt (alternating runs), and time to first token through ``Workspace.ask``.

    python benchmarks/core.py                  # full SciFact corpus (5,183 abstracts)
    python benchmarks/core.py --docs 1000 --generator smollm2-135m   # quicker
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS must not fight the models

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (machine, mean, ndcg_at_k, percentile, recall_at_k, scifact, table,  # noqa: E402
                     write_corpus)

from fiable import Workspace  # noqa: E402
from fiable.chunking import embedding_text  # noqa: E402
from fiable.retrieval import fuse  # noqa: E402

COMMAND = "python benchmarks/core.py " + " ".join(sys.argv[1:])


def bench_ingest(ws: Workspace, folder: Path) -> tuple[list[list[str]], int]:
    ws.embedder.embed_documents(["warm up"])  # load the model outside the timed part
    t0 = time.perf_counter()
    report = ws.ingest([folder], collection="scifact")
    fiable_s = time.perf_counter() - t0
    rows = ws.store._query(  # the exact texts fiable embedded
        "SELECT k.text, k.heading_path, d.title FROM chunks k JOIN documents d ON d.id = k.document_id")
    texts = [embedding_text(r["title"], (), r["text"]) for r in rows]
    t0 = time.perf_counter()
    ws.embedder.embed_documents(texts)
    raw_s = time.perf_counter() - t0
    n = report.chunks
    out = [
        ["fiable ingest (load+chunk+embed+store)", f"{n}", f"{fiable_s:.1f}", f"{n / fiable_s:.1f}"],
        ["embedder alone, same texts", f"{len(texts)}", f"{raw_s:.1f}", f"{len(texts) / raw_s:.1f}"],
    ]
    print(f"\nfiable/raw throughput: {(n / fiable_s) / (len(texts) / raw_s):.1%} (goal >= 85%)")
    return out, n


def pad_to(ws: Workspace, target: int) -> int:
    """Copy the scifact chunks (same texts and vectors) into more collections up to target."""
    import numpy as np

    from fiable.store.base import DocumentWrite
    from fiable.chunking import Chunk

    rows = ws.store._query(
        "SELECT k.*, d.source, d.title FROM chunks k JOIN documents d ON d.id = k.document_id")
    total, copy = len(rows), 0
    while total < target:
        copy += 1
        name = f"copy{copy}"
        ws.store.ensure_collection(name)
        writes = []
        for r in rows:
            chunk = Chunk(0, r["text"], r["char_start"], r["char_end"], (), None, None,
                          r["token_count"], r["content_hash"])
            writes.append(DocumentWrite(source=f"{r['source']}#{r['id']}", title=r["title"],
                                        format="text", content_hash="x", pipeline="copy",
                                        size_bytes=0, pages=None, chunks=[chunk],
                                        vectors=np.frombuffer(r["embedding"], np.float32)[None, :]))
        ws.store.replace_documents(name, writes, embedding_model=ws.embedder.model_id)
        total += len(rows)
    return total


def bench_latency(ws: Workspace, queries: list[str]) -> list[list[str]]:
    from fiable.retrieval import hybrid_search

    s = ws.settings
    hybrid_search(ws.store, ws.embedder, "warm up", k=10)  # loads the vector matrix once
    totals, stages = [], {"embed_query": [], "lexical": [], "dense": [], "fuse_fetch": []}
    for q in queries:
        t0 = time.perf_counter()
        result = hybrid_search(ws.store, ws.embedder, q, k=s.top_k, fusion=s.fusion,
                               candidates=s.candidates)
        totals.append(time.perf_counter() - t0)
        for k in stages:
            stages[k].append(result.timings[k])
    rows = [["hybrid search, total", f"{percentile(totals, 50) * 1e3:.1f}",
             f"{percentile(totals, 95) * 1e3:.1f}"]]
    for k, v in stages.items():
        rows.append([f"  {k}", f"{percentile(v, 50) * 1e3:.1f}", f"{percentile(v, 95) * 1e3:.1f}"])
    return rows


def bench_quality(ws: Workspace, queries: dict[str, str], qrels: dict) -> list[list[str]]:
    def doc_of(chunk_ids: list[int]) -> list[str]:
        chunks = {c.id: c for c in ws.store.chunks(chunk_ids)}
        ranked: list[str] = []
        for cid in chunk_ids:
            doc = Path(chunks[cid].source).stem
            if doc not in ranked:
                ranked.append(doc)
        return ranked

    variants = {
        "BM25 (FTS5)": lambda lex, den: lex,
        "dense (MiniLM int8)": lambda lex, den: den,
        "hybrid RRF k=60": lambda lex, den: fuse(lex, den, method="rrf", rrf_k=60),
        "hybrid weighted 0.5": lambda lex, den: fuse(lex, den, method="weighted", dense_weight=0.5),
        "hybrid weighted 0.3": lambda lex, den: fuse(lex, den, method="weighted", dense_weight=0.3),
    }
    results = {name: {"train": [], "test": [], "rtest": []} for name in variants}
    for split in ("train", "test"):
        for qid, rel in qrels[split].items():
            q = queries[qid]
            lex = ws.store.lexical_search(q, 50, ["scifact"])
            den = ws.store.vector_search(ws.embedder.embed_query(q), 50, ["scifact"])
            for name, combine in variants.items():
                ranked = doc_of([cid for cid, _ in combine(lex, den)][:40])
                results[name][split].append(ndcg_at_k(ranked, rel))
                if split == "test":
                    results[name]["rtest"].append(recall_at_k(ranked, rel))
    return [[name, f"{mean(r['train']):.3f}", f"{mean(r['test']):.3f}", f"{mean(r['rtest']):.3f}"]
            for name, r in results.items()]


def bench_generation(model: str, runs: int, workspace: Path) -> list[list[str]]:
    import xllamacpp

    from fiable import models
    from fiable.components import make_generator
    from fiable.generators.base import GenerationOptions
    from fiable.ask import build_messages
    from fiable.samples import handbook_dir

    settings_ws = Workspace.open(workspace, create=True, generator=model)
    settings_ws.ingest([handbook_dir()], collection="handbook")
    # a request that makes the model write at length, so decode speed is measured on ~128 tokens
    question = "List every rule about annual leave in these passages, one sentence per rule."
    hits = settings_ws.search(question)
    messages, _, _ = build_messages(question, hits, settings_ws.settings, budget_tokens=3000)
    options = GenerationOptions(max_tokens=128, temperature=0.0, seed=0)
    threads = os.cpu_count() or 2

    path = models.resolve_file(model, "model.gguf", model_dir=models.default_model_dir())
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = settings_ws.settings.context_size
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 0
    params.n_parallel = 1
    raw = xllamacpp.Server(params)
    request = {"messages": [{"role": m.role, "content": m.content} for m in messages],
               "stream": True, "max_tokens": options.max_tokens, "temperature": 0.0, "seed": 0}

    def run_raw() -> tuple[float, float, int]:
        state = {"first": None, "n": 0}
        t0 = time.perf_counter()

        def cb(chunk):
            for c in chunk.get("choices") or ():
                if (c.get("delta") or {}).get("content"):
                    state["n"] += 1
                    if state["first"] is None:
                        state["first"] = time.perf_counter() - t0
            return False

        raw.handle_chat_completions(request, cb)
        return time.perf_counter() - t0, state["first"], state["n"]

    gen = make_generator(settings_ws.settings.replace(threads=threads))

    def run_fiable() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        first, n = None, 0
        for _ in gen.stream(messages, options):
            n += 1
            if first is None:
                first = time.perf_counter() - t0
        return time.perf_counter() - t0, first, n

    raw_runs: list[tuple[float, float, int]] = []
    fiable_runs: list[tuple[float, float, int]] = []
    for i in range(runs):  # alternate the order, so drift on a shared machine hits both alike
        order = [(raw_runs, run_raw), (fiable_runs, run_fiable)]
        for into, fn in (order if i % 2 == 0 else order[::-1]):
            into.append(fn())

    def summarise(name: str, runs_: list[tuple[float, float, int]]) -> list[str]:
        decode = [(n - 1) / (total - first) for total, first, n in runs_ if n > 1]
        return [name, f"{runs_[0][2]}", f"{percentile([r[1] for r in runs_], 50):.2f}",
                f"{max(decode):.1f}", f"{mean(decode):.1f}"]

    rows = [summarise(f"raw xllamacpp binding, {threads} threads", raw_runs),
            summarise(f"fiable LlamaCppGenerator, {threads} threads", fiable_runs)]
    overhead = 1 - float(rows[1][4]) / float(rows[0][4])
    print(f"\ngeneration overhead (mean decode tok/s): {overhead:+.1%} (goal <= 5%)")
    gen.close()
    gen = make_generator(settings_ws.settings.replace(threads=1))
    rows.append(summarise("fiable LlamaCppGenerator, 1 thread", [run_fiable() for _ in range(runs)]))

    times = []
    from fiable.samples import handbook_questions

    for q in [q["question"] for q in handbook_questions() if q["answerable"]][:5]:
        answer = settings_ws.ask(q)
        times.append((answer.timings.get("first_token", float("nan")) + answer.timings["retrieve"],
                      answer.timings["total"]))
    print(f"Workspace.ask end to end ({model}, 5 different questions): time to first token p50 "
          f"{percentile([t[0] for t in times], 50):.2f} s (retrieval included), total p50 "
          f"{percentile([t[1] for t in times], 50):.2f} s; answer: {answer.text[:120]!r}")
    gen.close()
    settings_ws.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=0, help="SciFact abstracts to ingest (0: all)")
    parser.add_argument("--min-chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--generator", default="", help="GGUF model (default: qwen2.5-coder-0.5b"
                        " if pulled, else smollm2-135m); 'none' skips generation")
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()

    print(f"# fiable core benchmark\nmachine: {machine()}\nrerun: {COMMAND}")
    corpus, queries, qrels = scifact()
    if args.docs:
        corpus = corpus[: args.docs]
    tmp = Path(tempfile.mkdtemp(prefix="fiable-bench-"))
    try:
        write_corpus(corpus, tmp / "corpus")
        ws = Workspace.open(tmp / "ws", create=True, log_asks=False)
        print(f"\n## 1. Ingestion: {len(corpus)} SciFact abstracts as .txt files, embedder "
              f"{ws.embedder.model_id}")
        rows, n_chunks = bench_ingest(ws, tmp / "corpus")
        print(table(rows, ["what", "chunks", "seconds", "chunks/s"]))

        total = pad_to(ws, args.min_chunks)
        qtexts = list(queries.values())[: args.queries]
        print(f"\n## 2. Retrieval latency: {total} chunks ({n_chunks} SciFact + copies), "
              f"{len(qtexts)} queries, top_k={ws.settings.top_k}, exact dense search")
        print(table(bench_latency(ws, qtexts), ["stage", "p50 ms", "p95 ms"]))

        if args.docs:
            print("\n## 3. Retrieval quality: skipped (needs the full corpus; drop --docs)")
        else:
            print("\n## 3. Retrieval quality: SciFact nDCG@10 (train: 809 queries, choose here; "
                  "test: 167 queries)")
            print(table(bench_quality(ws, queries, qrels),
                        ["retriever", "nDCG@10 train", "nDCG@10 test", "recall@10 test"]))
        ws.close()

        model = args.generator
        if not model:
            from fiable import models

            pulled = {s.name for s in models.list_models(model_dir=models.default_model_dir())
                      if s.pulled}
            model = "qwen2.5-coder-0.5b" if "qwen2.5-coder-0.5b" in pulled else "smollm2-135m"
        if model != "none":
            print(f"\n## 4. Generation: {model}, same prompt (top_k handbook passages, a listing question; repeated, so its TTFT is a prompt-cache hit), "
                  f"max 128 tokens, temperature 0, {args.runs} runs each, alternating")
            print(table(bench_generation(model, args.runs, tmp / "gen-ws"),
                        ["backend", "tokens", "TTFT p50 s", "decode tok/s best", "decode tok/s mean"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
