"""The prompt-only baseline behind the peer protocol (see README.md): what a RAG answer is
worth with no trust layer at all.

    .venv/bin/python benchmarks/peers/peer_baseline.py --corpus C --embedder DIR --out R.json \
        --questions QS --llm-base-url URL [--top-k 3 ...]

Retrieval is a plain reciprocal-rank fusion (k = 60) of fiable's BM25 and MiniLM over the
same chunks fiable makes; the top ``--top-k`` passages go to the model with one plain
instruction ("answer only from the documents, else say not in the documents"). No
relevance gate, no answerability check, no verification, no citations: the model's reply
is the answer. Only the QA task (``--questions``) is run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer_io as io  # noqa: E402

PEER = "baseline"
SYSTEM = ("Answer the question using only the documents below. If the documents do not "
          "contain the answer, say: Not in the documents.")


def main(argv: list[str]) -> None:
    args = io.parse_args(PEER, argv)
    if not args.questions:
        raise SystemExit("peer_baseline.py runs the QA task only: give --questions")
    io.set_offline_env(args.threads)

    from fiable import Workspace, __version__
    from fiable.generators.base import ChatMessage, GenerationOptions
    from fiable.generators.openai_compat import OpenAICompatibleGenerator
    from fiable.ingest import TextRecord, document_key

    corpus = io.read_corpus(args.corpus)
    tmp = tempfile.TemporaryDirectory(prefix="fiable-baseline-")
    result: dict = {"peer": PEER, "versions": {"fiable": __version__, **io.versions(["xllamacpp"])}}
    generator = OpenAICompatibleGenerator(args.llm_base_url, model=args.llm_model,
                                          api_key=args.llm_api_key)
    options = GenerationOptions(max_tokens=args.max_tokens, temperature=0.0, seed=0)
    with Workspace.open(Path(tmp.name) / "ws", create=True, threads=args.threads,
                        fusion="rrf", rrf_k=60, top_k=args.top_k, log_asks=False) as ws:
        s = ws.settings
        result["pipeline"] = (f"fiable {__version__} chunks ({s.chunk_tokens} tokens), BM25 + "
                              f"MiniLM fused by plain RRF k={s.rrf_k}, top {args.top_k} passages, "
                              "one plain prompt; no gate, no verification")
        t0 = time.perf_counter()
        report = ws.ingest_records(TextRecord(d["id"], d["title"], d["text"]) for d in corpus)
        result["ingest_seconds"] = time.perf_counter() - t0
        result["documents"], result["chunks"] = len(corpus), report.chunks
        io.log(PEER, f"ingested {len(corpus)} documents, {report.chunks} chunks")

        def answer(q: dict) -> dict:
            hits = ws.search(q["question"], collections=["default"], k=args.top_k)
            documents = "\n\n".join(f"Document {n}: {h.chunk.title}\n{h.chunk.text}"
                                    for n, h in enumerate(hits, start=1))
            messages = [ChatMessage("system", SYSTEM),
                        ChatMessage("user", f"{documents}\n\nQuestion: {q['question']}")]
            text = "".join(generator.stream(messages, options)).strip()
            return {"answer": text, "context_ids": [document_key(h.chunk.source) for h in hits]}

        result["qa"] = io.run_each(PEER, "qa", io.read_questions(args.questions), answer, every=20)
    generator.close()
    io.write_result(args.out, result)
    print(io.summary_line(result, args.out))


if __name__ == "__main__":
    main(sys.argv[1:])
