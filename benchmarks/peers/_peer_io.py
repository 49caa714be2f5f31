"""Stdlib-only helpers shared by the peer scripts (peer_llamaindex.py, peer_langchain.py,
peer_haystack.py).

Each peer script runs inside its own virtualenv (``.venvs/NAME/bin/python peer_NAME.py``)
and imports this module from its own folder. Nothing here imports a third-party package, so
the same file works in every venv. See README.md for the protocol.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

# Chunks retrieved from EACH retriever before fusion (retrieval task).
CANDIDATES_PER_RETRIEVER = 40

_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # No telemetry from any framework (there is no network anyway).
    "ANONYMIZED_TELEMETRY": "False",
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "LANGCHAIN_TRACING_V2": "false",
    "DO_NOT_TRACK": "1",
}


def set_offline_env(threads: int) -> None:
    """Call BEFORE importing torch / transformers / the framework."""
    for key, value in _OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[key] = str(threads)


def parse_args(peer: str, argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=f"peer_{peer}.py",
        description=f"Run the {peer} hybrid RAG pipeline on BEIR-style data; write raw JSON results.",
    )
    p.add_argument("--corpus", required=True, help="BEIR corpus.jsonl: {_id, title, text} per line")
    p.add_argument("--embedder", required=True, help="local sentence-transformers model folder")
    p.add_argument("--out", required=True, help="result JSON path")
    p.add_argument("--queries", help="BEIR queries.jsonl: {_id, text} per line (retrieval task)")
    p.add_argument("--k", type=int, default=10, help="doc ids kept per query (retrieval task)")
    p.add_argument("--questions", help="questions.jsonl: {id, question} per line (QA task)")
    p.add_argument("--llm-base-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--llm-model", default="local")
    p.add_argument("--llm-api-key", default="none")
    p.add_argument("--top-k", type=int, default=3, help="passages given to the LLM (QA task)")
    p.add_argument("--max-tokens", type=int, default=320)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.questions and not args.llm_base_url:
        p.error("--questions needs --llm-base-url")
    if args.k < 1 or args.top_k < 1 or args.threads < 1:
        p.error("--k, --top-k and --threads must be >= 1")
    return args


def read_jsonl(path: str) -> Iterator[Dict[str, Any]]:
    with open(path, "r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{lineno}: bad JSON: {exc}")


def read_corpus(path: str) -> List[Dict[str, str]]:
    """[{"id", "title", "text", "content"}]; content = "title\\n\\ntext" (or text alone)."""
    docs = []
    for row in read_jsonl(path):
        doc_id = str(row["_id"])
        title = (row.get("title") or "").strip()
        text = row.get("text") or ""
        content = f"{title}\n\n{text}" if title else text
        docs.append({"id": doc_id, "title": title, "text": text, "content": content})
    return docs


def read_queries(path: str) -> List[Dict[str, str]]:
    return [{"id": str(r["_id"]), "text": r["text"]} for r in read_jsonl(path)]


def read_questions(path: str) -> List[Dict[str, str]]:
    return [{"id": str(r["id"]), "question": r["question"]} for r in read_jsonl(path)]


def dedup_doc_ids(doc_ids: Iterable[Any], limit: Optional[int] = None) -> List[str]:
    """Chunk hits (already mapped to doc ids, best first) -> unique doc ids, first occurrence kept."""
    seen = set()
    out: List[str] = []
    for d in doc_ids:
        if d is None:
            continue
        d = str(d)
        if d in seen:
            continue
        seen.add(d)
        out.append(d)
        if limit is not None and len(out) >= limit:
            break
    return out


def versions(packages: Iterable[str]) -> Dict[str, Optional[str]]:
    out: Dict[str, Optional[str]] = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = "%d.%d.%d" % sys.version_info[:3]
    return out


def log(peer: str, msg: str) -> None:
    print(f"[{peer}] {msg}", file=sys.stderr, flush=True)


class Timer:
    """with Timer() as t: ...; t.seconds"""

    def __enter__(self) -> "Timer":
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self._t0


def run_each(
    peer: str,
    what: str,
    items: List[Dict[str, str]],
    fn: Callable[[Dict[str, str]], Dict[str, Any]],
    every: int = 100,
) -> Dict[str, Dict[str, Any]]:
    """Run fn(item) for each item, timing it; returns {item id: fn result + "seconds"}."""
    results: Dict[str, Dict[str, Any]] = {}
    t_all = time.perf_counter()
    n = len(items)
    for i, item in enumerate(items, 1):
        t0 = time.perf_counter()
        res = fn(item)
        res["seconds"] = time.perf_counter() - t0
        results[item["id"]] = res
        if i % every == 0 or i == n:
            log(peer, f"{what}: {i}/{n} ({time.perf_counter() - t_all:.1f} s)")
    return results


def write_result(path: str, result: Dict[str, Any]) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def summary_line(result: Dict[str, Any], path: str) -> str:
    parts = [
        f"peer={result.get('peer')}",
        f"documents={result.get('documents')}",
        f"chunks={result.get('chunks')}",
        f"ingest_s={result.get('ingest_seconds', 0.0):.2f}",
    ]
    if "retrieval" in result:
        parts.append(f"queries={len(result['retrieval'])}")
    if "qa" in result:
        parts.append(f"questions={len(result['qa'])}")
    parts.append(f"out={path}")
    return " ".join(parts)
