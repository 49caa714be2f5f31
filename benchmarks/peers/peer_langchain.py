"""LangChain peer: RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings + InMemoryVectorStore
and BM25Retriever (rank_bm25), fused by EnsembleRetriever(weights=[0.5, 0.5]) (weighted reciprocal rank,
c=60); answers with ChatOpenAI and the RAG tutorial prompt (rlm/rag-prompt, inlined) in an LCEL chain.

Follows the LangChain docs: RAG tutorial (splitter, InMemoryVectorStore, rlm/rag-prompt, format_docs),
"How to combine results from multiple retrievers" (EnsembleRetriever + BM25Retriever), "How to return
sources" (RunnableParallel(...).assign(answer=...)).
Run with the langchain venv: .venvs/langchain/bin/python benchmarks/peers/peer_langchain.py ...
See README.md for the protocol.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _peer_io as io  # noqa: E402

PEER = "langchain"
PACKAGES = [
    "langchain",
    "langchain-classic",
    "langchain-core",
    "langchain-community",
    "langchain-huggingface",
    "langchain-openai",
    "langchain-text-splitters",
    "rank-bm25",
    "sentence-transformers",
    "transformers",
    "torch",
    "openai",
]
DOC_ID_KEY = "doc_id"

# The hub prompt "rlm/rag-prompt" used by the LangChain RAG tutorial, verbatim (one human message);
# the hub cannot be reached from here.
RAG_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, just say that you don't know. "
    "Use three sentences maximum and keep the answer concise.\n"
    "Question: {question} \n"
    "Context: {context} \n"
    "Answer:"
)


def main() -> None:
    args = io.parse_args(PEER)
    io.set_offline_env(args.threads)

    import torch

    torch.set_num_threads(args.threads)

    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.documents import Document
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    corpus = io.read_corpus(args.corpus)
    io.log(PEER, f"{len(corpus)} documents; loading embedder {args.embedder}")
    embeddings = HuggingFaceEmbeddings(model_name=args.embedder, model_kwargs={"device": "cpu"})

    docs = [Document(page_content=d["content"], metadata={DOC_ID_KEY: d["id"]}) for d in corpus]

    # Ingest: split (RAG tutorial settings), embed + InMemoryVectorStore, BM25 over the same splits.
    with io.Timer() as t_ingest:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=1000, chunk_overlap=200, add_start_index=True
        )
        splits = splitter.split_documents(docs)
        vector_store = InMemoryVectorStore(embeddings)
        vector_store.add_documents(documents=splits)
        bm25_retriever = BM25Retriever.from_documents(splits, k=io.CANDIDATES_PER_RETRIEVER)
    io.log(PEER, f"ingest: {len(splits)} chunks in {t_ingest.seconds:.1f} s")

    vector_retriever = vector_store.as_retriever(search_kwargs={"k": io.CANDIDATES_PER_RETRIEVER})
    # Fuses the full lists (up to 2 x 40 chunks), deduplicated by page_content (id_key=None default).
    ensemble = EnsembleRetriever(retrievers=[bm25_retriever, vector_retriever], weights=[0.5, 0.5])

    result = {
        "peer": PEER,
        "versions": io.versions(PACKAGES),
        "pipeline": (
            "RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings + InMemoryVectorStore "
            "and BM25Retriever (rank_bm25 Okapi, whitespace tokens) -> EnsembleRetriever(weights=[0.5, 0.5], c=60); "
            "QA: ChatOpenAI + rlm/rag-prompt, LCEL stuff chain"
        ),
        "ingest_seconds": t_ingest.seconds,
        "documents": len(corpus),
        "chunks": len(splits),
    }

    if args.queries:
        queries = io.read_queries(args.queries)

        def retrieve(q):
            hits = ensemble.invoke(q["text"])
            return {"ranked": io.dedup_doc_ids((h.metadata[DOC_ID_KEY] for h in hits), args.k)}

        result["retrieval"] = io.run_each(PEER, "retrieval", queries, retrieve)

    if args.questions:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
        from langchain_openai import ChatOpenAI

        llm = ChatOpenAI(
            base_url=args.llm_base_url,
            model=args.llm_model,
            api_key=args.llm_api_key,
            temperature=0,
            max_tokens=args.max_tokens,
        )
        prompt = ChatPromptTemplate.from_messages([("human", RAG_PROMPT)])
        top_k = args.top_k
        retriever = ensemble | RunnableLambda(lambda hits: hits[:top_k])

        def format_docs(hits):
            return "\n\n".join(doc.page_content for doc in hits)

        rag_chain_from_docs = (
            RunnablePassthrough.assign(context=lambda x: format_docs(x["context"]))
            | prompt
            | llm
            | StrOutputParser()
        )
        rag_chain = RunnableParallel(
            {"context": retriever, "question": RunnablePassthrough()}
        ).assign(answer=rag_chain_from_docs)
        questions = io.read_questions(args.questions)

        def answer(q):
            out = rag_chain.invoke(q["question"])
            return {
                "answer": out["answer"],
                "context_ids": [d.metadata[DOC_ID_KEY] for d in out["context"]],
            }

        result["qa"] = io.run_each(PEER, "qa", questions, answer, every=10)

    io.write_result(args.out, result)
    print(io.summary_line(result, args.out), flush=True)


if __name__ == "__main__":
    main()
