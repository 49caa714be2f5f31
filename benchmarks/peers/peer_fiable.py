"""fiable behind the same protocol as the peer scripts (see README.md), so the driver runs
every system the same way: its own process, the same files, the same JSON out.

    .venv/bin/python benchmarks/peers/peer_fiable.py --corpus C --embedder DIR --out R.json \
        [--queries Q --k 10] [--questions QS --llm-base-url URL ...] \
        [--fiable-embedder minilm-l6-v2|minilm-l6-v2-torch]

``--embedder DIR`` is accepted for the protocol; fiable loads its own pulled MiniLM (the ONNX
int8 route by default, or the torch route, which reads the same sentence-transformers
files the peers get). Retrieval uses the production path: ``candidates`` chunks from each
retriever, fused with the workspace's fusion, mapped to documents.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer_io as io  # noqa: E402

PEER = "fiable"


def main(argv: list[str]) -> None:
    embedder_name = "minilm-l6-v2"
    if "--fiable-embedder" in argv:
        i = argv.index("--fiable-embedder")
        embedder_name = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    args = io.parse_args(PEER, argv)
    io.set_offline_env(args.threads)

    from fiable import Workspace, __version__
    from fiable.evaluation.runner import (document_keys, fetch_candidates, rank_documents)
    from fiable.ingest import TextRecord
    from fiable.retrieval import fuse

    settings = {"embedder": embedder_name, "threads": args.threads, "top_k": args.top_k,
                "max_answer_tokens": args.max_tokens, "log_asks": False}
    if args.questions:
        settings.update(generator="openai", generator_url=args.llm_base_url,
                        generator_model=args.llm_model, generator_api_key=args.llm_api_key)
    corpus = io.read_corpus(args.corpus)
    tmp = tempfile.TemporaryDirectory(prefix="fiable-peer-")
    result: dict = {"peer": PEER if embedder_name == "minilm-l6-v2" else f"{PEER} ({embedder_name})",
                    "versions": {"fiable": __version__, **io.versions(["onnxruntime", "xllamacpp", "torch"])}}
    with Workspace.open(Path(tmp.name) / "ws", create=True, **settings) as ws:
        s = ws.settings
        result["pipeline"] = (f"fiable {__version__}: {embedder_name}, chunks of {s.chunk_tokens} "
                              f"tokens (overlap {s.chunk_overlap}), SQLite FTS5 BM25 + exact dense, "
                              f"{s.candidates} candidates each, fusion {s.fusion}"
                              + (f" {s.dense_weight}" if s.fusion == "weighted" else f" k={s.rrf_k}"))
        ws.embedder.embed_query("warm up")  # load the model outside the timed ingest, as peers do
        t0 = time.perf_counter()
        report = ws.ingest_records(TextRecord(d["id"], d["title"], d["text"]) for d in corpus)
        result["ingest_seconds"] = time.perf_counter() - t0
        result["documents"], result["chunks"] = len(corpus), report.chunks
        io.log(PEER, f"ingested {len(corpus)} documents, {report.chunks} chunks in "
                     f"{result['ingest_seconds']:.1f} s")
        if args.queries:
            fetch_candidates(ws, "warm up", "default", 1)
            retrieval = {}
            for n, q in enumerate(io.read_queries(args.queries), start=1):
                t = time.perf_counter()
                found = fetch_candidates(ws, q["text"], "default", s.candidates,
                                         query_pool=s.query_pool,  # type: ignore[arg-type]
                                         query_terms=s.query_terms)
                fused = fuse(found.lexical, found.dense, method=s.fusion,  # type: ignore[arg-type]
                             rrf_k=s.rrf_k, dense_weight=s.dense_weight)
                seconds = time.perf_counter() - t
                key = document_keys(ws, [cid for cid, _ in fused])
                retrieval[q["id"]] = {
                    "ranked": rank_documents(fused, key)[:args.k], "seconds": seconds,
                    "modes": {"bm25": rank_documents(found.lexical, key)[:args.k],
                              "dense": rank_documents(found.dense, key)[:args.k]},
                }
                if n % 100 == 0:
                    io.log(PEER, f"{n} queries")
            result["retrieval"] = retrieval
        if args.questions:
            from fiable.ingest import document_key

            qa = {}
            for n, q in enumerate(io.read_questions(args.questions), start=1):
                t = time.perf_counter()
                answer = ws.ask(q["question"], collections=["default"])
                qa[q["id"]] = {
                    "answer": " ".join(s.text for s in answer.sentences),  # no [n] markers
                    "abstained": answer.abstained,
                    "context_ids": [document_key(src.source) for src in answer.sources],
                    "seconds": time.perf_counter() - t,
                }
                if n % 20 == 0:
                    io.log(PEER, f"{n} questions")
            result["qa"] = qa
    io.write_result(args.out, result)
    print(io.summary_line(result, args.out))


if __name__ == "__main__":
    main(sys.argv[1:])
