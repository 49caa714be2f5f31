"""LlamaIndex peer: VectorStoreIndex (default SentenceSplitter, HuggingFaceEmbedding) + BM25Retriever,
fused by QueryFusionRetriever(mode="reciprocal_rerank", num_queries=1); answers through
RetrieverQueryEngine.from_args with OpenAILike and the default (compact) response synthesizer.

Follows the LlamaIndex docs "Reciprocal Rerank Fusion Retriever" and "BM25 Retriever" examples.
Run with the llamaindex venv: .venvs/llamaindex/bin/python benchmarks/peers/peer_llamaindex.py ...
See README.md for the protocol.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _peer_io as io  # noqa: E402

PEER = "llamaindex"
PACKAGES = [
    "llama-index-core",
    "llama-index-embeddings-huggingface",
    "llama-index-llms-openai-like",
    "llama-index-llms-openai",
    "llama-index-retrievers-bm25",
    "bm25s",
    "PyStemmer",
    "sentence-transformers",
    "transformers",
    "torch",
    "openai",
]
DOC_ID_KEY = "doc_id"


def main() -> None:
    args = io.parse_args(PEER)
    io.set_offline_env(args.threads)

    import torch

    torch.set_num_threads(args.threads)

    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.retrievers.bm25 import BM25Retriever

    # Never let a default resolve to the OpenAI cloud; QueryFusionRetriever only uses its LLM to
    # generate extra queries, which num_queries=1 turns off.
    Settings.llm = MockLLM()

    corpus = io.read_corpus(args.corpus)
    io.log(PEER, f"{len(corpus)} documents; loading embedder {args.embedder}")
    embed_model = HuggingFaceEmbedding(model_name=args.embedder, device="cpu")

    documents = [
        Document(
            text=d["content"],
            id_=d["id"],
            metadata={DOC_ID_KEY: d["id"]},
            # keep the id out of the embedded / BM25 / LLM text
            excluded_embed_metadata_keys=[DOC_ID_KEY],
            excluded_llm_metadata_keys=[DOC_ID_KEY],
        )
        for d in corpus
    ]

    # Ingest: default transformations (Settings.node_parser = SentenceSplitter(chunk_size=1024,
    # chunk_overlap=200)), embed, SimpleVectorStore; then the BM25 index over the same nodes.
    with io.Timer() as t_ingest:
        index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)
        bm25_retriever = BM25Retriever.from_defaults(
            docstore=index.docstore, similarity_top_k=io.CANDIDATES_PER_RETRIEVER
        )
    n_chunks = len(index.docstore.docs)
    io.log(PEER, f"ingest: {n_chunks} chunks in {t_ingest.seconds:.1f} s")
    vector_retriever = index.as_retriever(similarity_top_k=io.CANDIDATES_PER_RETRIEVER)

    def fused(top_k: int, llm) -> QueryFusionRetriever:
        return QueryFusionRetriever(
            [vector_retriever, bm25_retriever],
            llm=llm,
            similarity_top_k=top_k,
            num_queries=1,  # no LLM-generated queries
            mode="reciprocal_rerank",
            use_async=False,
        )

    def node_doc_id(nws) -> str:
        return nws.node.metadata.get(DOC_ID_KEY) or nws.node.ref_doc_id

    result = {
        "peer": PEER,
        "versions": io.versions(PACKAGES),
        "pipeline": (
            "VectorStoreIndex (SentenceSplitter 1024/200, HuggingFaceEmbedding, SimpleVectorStore) "
            "+ BM25Retriever (bm25s) -> QueryFusionRetriever(mode=reciprocal_rerank, num_queries=1); "
            "QA: RetrieverQueryEngine.from_args(OpenAILike), default compact synthesizer"
        ),
        "ingest_seconds": t_ingest.seconds,
        "documents": len(corpus),
        "chunks": n_chunks,
    }

    if args.queries:
        queries = io.read_queries(args.queries)
        # Keep every fused chunk (up to 2 x 40) so --k distinct documents can be filled.
        retriever = fused(2 * io.CANDIDATES_PER_RETRIEVER, MockLLM())

        def retrieve(q):
            hits = retriever.retrieve(q["text"])
            return {"ranked": io.dedup_doc_ids((node_doc_id(h) for h in hits), args.k)}

        result["retrieval"] = io.run_each(PEER, "retrieval", queries, retrieve)

    if args.questions:
        from llama_index.llms.openai_like import OpenAILike

        llm = OpenAILike(
            api_base=args.llm_base_url,
            model=args.llm_model,
            api_key=args.llm_api_key,
            is_chat_model=True,
            temperature=0,
            max_tokens=args.max_tokens,
        )
        Settings.llm = llm
        query_engine = RetrieverQueryEngine.from_args(fused(args.top_k, llm), llm=llm)
        questions = io.read_questions(args.questions)

        def answer(q):
            response = query_engine.query(q["question"])
            return {
                "answer": str(response.response or ""),
                "context_ids": [node_doc_id(n) for n in response.source_nodes],
            }

        result["qa"] = io.run_each(PEER, "qa", questions, answer, every=10)

    io.write_result(args.out, result)
    print(io.summary_line(result, args.out), flush=True)


if __name__ == "__main__":
    main()
