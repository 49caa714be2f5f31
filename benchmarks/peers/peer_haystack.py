"""Haystack peer: indexing Pipeline DocumentSplitter(word, 512, overlap 32) -> SentenceTransformersDocumentEmbedder
-> DocumentWriter(InMemoryDocumentStore); query Pipeline SentenceTransformersTextEmbedder -> InMemoryEmbeddingRetriever
and InMemoryBM25Retriever -> DocumentJoiner(join_mode="reciprocal_rank_fusion"); answers with ChatPromptBuilder
(the "first RAG pipeline" tutorial prompt) -> OpenAIChatGenerator(api_base_url=...).

Follows the Haystack tutorials "Creating a Hybrid Retrieval Pipeline" (33) and "Creating Your First QA
Pipeline with Retrieval-Augmentation" (27), and the DocumentJoiner docs page for the RRF join mode.
Run with the haystack venv: .venvs/haystack/bin/python benchmarks/peers/peer_haystack.py ...
See README.md for the protocol.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _peer_io as io  # noqa: E402

PEER = "haystack"
PACKAGES = [
    "haystack-ai",
    "sentence-transformers-haystack",
    "sentence-transformers",
    "transformers",
    "torch",
    "openai",
]
DOC_ID_KEY = "doc_id"

# Tutorial 27 ("Creating Your First QA Pipeline with Retrieval-Augmentation"), verbatim.
RAG_TEMPLATE = """
Given the following information, answer the question.

Context:
{% for document in documents %}
    {{ document.content }}
{% endfor %}

Question: {{question}}
Answer:
"""


def main() -> None:
    args = io.parse_args(PEER)
    io.set_offline_env(args.threads)

    import torch

    torch.set_num_threads(args.threads)

    from haystack import Document, Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.preprocessors import DocumentSplitter
    from haystack.components.retrievers.in_memory import (
        InMemoryBM25Retriever,
        InMemoryEmbeddingRetriever,
    )
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.utils import ComponentDevice
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )

    corpus = io.read_corpus(args.corpus)
    io.log(PEER, f"{len(corpus)} documents; embedder {args.embedder}")
    device = ComponentDevice.from_str("cpu")
    docs = [Document(content=d["content"], meta={DOC_ID_KEY: d["id"]}) for d in corpus]

    document_store = InMemoryDocumentStore()
    indexing = Pipeline()
    indexing.add_component(
        "document_splitter", DocumentSplitter(split_by="word", split_length=512, split_overlap=32)
    )
    indexing.add_component(
        "document_embedder",
        SentenceTransformersDocumentEmbedder(model=args.embedder, device=device, progress_bar=False),
    )
    indexing.add_component("document_writer", DocumentWriter(document_store))
    indexing.connect("document_splitter", "document_embedder")
    indexing.connect("document_embedder", "document_writer")

    indexing.warm_up()  # loads the model, outside the ingest timing (as for the other peers)

    # Ingest: split, embed, write (the in-memory store builds its BM25 statistics on write).
    with io.Timer() as t_ingest:
        indexing.run({"document_splitter": {"documents": docs}})
    n_chunks = document_store.count_documents()
    io.log(PEER, f"ingest: {n_chunks} chunks in {t_ingest.seconds:.1f} s")

    def hybrid_pipeline(joiner_top_k):
        p = Pipeline()
        p.add_component(
            "text_embedder",
            SentenceTransformersTextEmbedder(model=args.embedder, device=device, progress_bar=False),
        )
        p.add_component(
            "embedding_retriever",
            InMemoryEmbeddingRetriever(document_store, top_k=io.CANDIDATES_PER_RETRIEVER),
        )
        p.add_component(
            "bm25_retriever", InMemoryBM25Retriever(document_store, top_k=io.CANDIDATES_PER_RETRIEVER)
        )
        p.add_component(
            "document_joiner",
            DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=joiner_top_k),
        )
        p.connect("text_embedder", "embedding_retriever")
        p.connect("bm25_retriever", "document_joiner")
        p.connect("embedding_retriever", "document_joiner")
        return p

    result = {
        "peer": PEER,
        "versions": io.versions(PACKAGES),
        "pipeline": (
            "DocumentSplitter(word, 512, overlap 32) -> SentenceTransformersDocumentEmbedder -> InMemoryDocumentStore; "
            "InMemoryBM25Retriever (BM25L) + InMemoryEmbeddingRetriever -> DocumentJoiner(reciprocal_rank_fusion); "
            "QA: ChatPromptBuilder (tutorial prompt) -> OpenAIChatGenerator"
        ),
        "ingest_seconds": t_ingest.seconds,
        "documents": len(corpus),
        "chunks": n_chunks,
    }

    if args.queries:
        retrieval = hybrid_pipeline(None)  # all fused chunks (up to 2 x 40)
        retrieval.warm_up()
        queries = io.read_queries(args.queries)

        def retrieve(q):
            out = retrieval.run(
                {"text_embedder": {"text": q["text"]}, "bm25_retriever": {"query": q["text"]}}
            )
            hits = out["document_joiner"]["documents"]
            return {"ranked": io.dedup_doc_ids((h.meta.get(DOC_ID_KEY) for h in hits), args.k)}

        result["retrieval"] = io.run_each(PEER, "retrieval", queries, retrieve)

    if args.questions:
        from haystack.components.builders import ChatPromptBuilder
        from haystack.components.generators.chat import OpenAIChatGenerator
        from haystack.dataclasses import ChatMessage
        from haystack.utils import Secret

        rag = hybrid_pipeline(args.top_k)
        rag.add_component(
            "prompt_builder", ChatPromptBuilder(template=[ChatMessage.from_user(RAG_TEMPLATE)])
        )
        rag.add_component(
            "llm",
            OpenAIChatGenerator(
                api_key=Secret.from_token(args.llm_api_key),
                model=args.llm_model,
                api_base_url=args.llm_base_url,
                generation_kwargs={"temperature": 0, "max_tokens": args.max_tokens},
            ),
        )
        rag.connect("document_joiner", "prompt_builder.documents")
        rag.connect("prompt_builder.prompt", "llm.messages")
        rag.warm_up()
        questions = io.read_questions(args.questions)

        def answer(q):
            out = rag.run(
                {
                    "text_embedder": {"text": q["question"]},
                    "bm25_retriever": {"query": q["question"]},
                    "prompt_builder": {"question": q["question"]},
                },
                include_outputs_from={"document_joiner"},
            )
            replies = out["llm"]["replies"]
            return {
                "answer": (replies[0].text or "") if replies else "",
                "context_ids": [d.meta.get(DOC_ID_KEY) for d in out["document_joiner"]["documents"]],
            }

        result["qa"] = io.run_each(PEER, "qa", questions, answer, every=10)

    io.write_result(args.out, result)
    print(io.summary_line(result, args.out), flush=True)


if __name__ == "__main__":
    main()
