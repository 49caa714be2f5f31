"""Erasure on request (GDPR art. 17): a document, or every trace of a data subject.

- ``erase_document``: the document leaves the index and the vectors; every logged answer
  that cited it (the trace holds its passages), the feedback on those answers, and the
  content of their audit records go too.
- ``erase_subject``: every occurrence of a name or an e-mail address (case-insensitive,
  any spacing) is replaced by ``[erased]`` in the documents' chunks, which are re-embedded
  and re-indexed in the same transaction as the rest of their document; ask-log records,
  feedback, evaluation runs and conversation turns that mention it are deleted (a
  conversation title that names it becomes ``[erased]``); audit records keep their chain
  but lose their question/answer text.

Both leave one ``erase`` audit record saying what was removed (counts, ids, hashes) and
never the erased words. Erasing something that does not exist is an error
(NothingToEraseError), so a typo is not mistaken for compliance.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from ..chunking import embedding_text
from ..errors import NothingToEraseError, UserError
from ..store.base import DocumentWrite

__all__ = ["ERASED", "ErasureReport", "erase_document", "erase_subject", "subject_pattern"]

logger = logging.getLogger(__name__)

ERASED = "[erased]"
_MAX_CHUNKS = 100_000  # lexical candidates checked for a subject


@dataclass
class ErasureReport:
    kind: str
    documents_deleted: list[str] = field(default_factory=list)
    documents_redacted: list[str] = field(default_factory=list)
    chunks_redacted: int = 0
    records: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "documents_deleted": self.documents_deleted,
                "documents_redacted": self.documents_redacted,
                "chunks_redacted": self.chunks_redacted, "records": self.records}

    @property
    def total(self) -> int:
        return (len(self.documents_deleted) + len(self.documents_redacted)
                + sum(self.records.values()))


def subject_pattern(subject: str) -> re.Pattern[str]:
    """The subject's words with any whitespace between them, case-insensitive, not inside
    a longer word."""
    words = subject.split()
    if not words or len(subject.strip()) < 3:
        raise UserError(f"subject {subject!r} is too short to erase safely",
                        hint="give the full name or the e-mail address")
    body = r"\s+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![\w@.]){body}(?![\w@])", re.IGNORECASE)


def _needles(text: str) -> list[str]:
    """``text`` as it may appear in stored JSON records (raw, and \\u-escaped)."""
    escaped = json.dumps(text)[1:-1]
    return list(dict.fromkeys([text, escaped]))


def _erase_records(store: Any, needles: list[str], traces: list[str]) -> dict[str, int]:
    """Delete the records mentioning ``needles`` and the answers ``traces``, with the
    feedback and audit text of every answer deleted (found by its trace id)."""
    found = store.find_records(needles) if needles else \
        {"asks": [], "feedback": [], "eval_runs": [], "audit": [], "turns": [],
         "conversations": []}
    traces = sorted(set(found["asks"]) | set(traces))
    if traces:
        linked = store.find_records(traces)
        for kind in ("feedback", "audit", "turns"):
            found[kind] = sorted(set(found[kind]) | set(linked[kind]))
    return store.erase_records(asks=traces, feedback=found["feedback"],
                               eval_runs=found["eval_runs"], audit=found["audit"],
                               turns=found["turns"], conversations=found["conversations"])


def erase_document(store: Any, *, actor: str, collection: str | None, document: str
                   ) -> ErasureReport:
    """Erase one document, named by its source or its id (``fiable documents`` lists
    both), in ``collection`` (None: look in every collection)."""
    names = [collection] if collection else [c.name for c in store.collections()]
    if collection:
        store.require_collections([collection])
    matches = [d for name in names for d in store.documents(name)
               if d.source == document or str(d.id) == document]
    if not matches:
        raise NothingToEraseError(f"no document {document!r}"
                                  + (f" in collection {collection!r}" if collection else ""),
                                  hint="list documents with `fiable documents -c COLLECTION`; "
                                  "give the source path or the id shown there")
    if len(matches) > 1:
        where = ", ".join(f"{d.collection}:{d.id}" for d in matches)
        raise UserError(f"{document!r} is in several collections ({where})",
                        hint="name the collection with --collection, or give the id")
    doc = matches[0]
    report = ErasureReport("document")
    traces = store.find_records(_needles(doc.source))["asks"]
    store.delete_documents(doc.collection, [doc.source])
    report.documents_deleted.append(doc.source)
    report.records = _erase_records(store, [], traces)
    store.append_audit(actor, "erase", {
        "kind": "document", "collection": doc.collection, "document_id": doc.id,
        "content_hash": doc.content_hash, "chunks": doc.chunks, "records": report.records})
    logger.info("document erased", extra={"collection": doc.collection, "document_id": doc.id,
                                          "records": report.records})
    return report


def erase_subject(store: Any, embedder_for: Callable[[str], Any], *, actor: str,
                  subject: str) -> ErasureReport:
    """Erase every occurrence of ``subject`` (see module docstring). ``embedder_for(name)``
    is the embedder of collection ``name``, which re-embeds its redacted chunks."""
    pattern = subject_pattern(subject)
    report = ErasureReport("subject")
    for info in store.collections():
        hits = store.lexical_search(subject, _MAX_CHUNKS, [info.name])
        chunk_ids = {cid for cid, _ in hits}
        sources = {c.source for c in store.chunks(sorted(chunk_ids))
                   if pattern.search(c.text) or pattern.search(c.title)}
        if not sources:
            continue
        embedder = embedder_for(info.name)
        writes = [_redacted(w, pattern, embedder.embed_documents)
                  for w in store.export_documents(info.name, sources=sources)]
        store.replace_documents(info.name, [w for w, _ in writes],
                                embedding_model=embedder.model_id)
        report.documents_redacted += [f"{info.name}:{w.source}" for w, _ in writes]
        report.chunks_redacted += sum(n for _, n in writes)
    report.records = _erase_records(store, _needles(subject), [])
    if report.total == 0:
        raise NothingToEraseError("nothing stored mentions this subject",
                                  hint="check the spelling; give the name as written in the "
                                  "documents, or the e-mail address")
    store.append_audit(actor, "erase", {
        "kind": "subject", "documents_redacted": len(report.documents_redacted),
        "chunks_redacted": report.chunks_redacted, "records": report.records})
    logger.info("subject erased", extra={"documents": len(report.documents_redacted),
                                         "chunks": report.chunks_redacted,
                                         "records": report.records})
    return report


def _redacted(write: DocumentWrite, pattern: re.Pattern[str],
              embed: Callable[[list[str]], np.ndarray]) -> tuple[DocumentWrite, int]:
    title = pattern.sub(ERASED, write.title)
    chunks, changed = [], []
    for i, chunk in enumerate(write.chunks):
        text = pattern.sub(ERASED, chunk.text)
        headings = tuple(pattern.sub(ERASED, h) for h in chunk.heading_path)
        if text != chunk.text or headings != chunk.heading_path or title != write.title:
            chunk = replace(chunk, text=text, heading_path=headings,
                            content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest())
            changed.append(i)
        chunks.append(chunk)
    vectors = np.array(write.vectors, dtype=np.float32, copy=True)
    if changed:
        fresh = embed([embedding_text(title, chunks[i].heading_path, chunks[i].text)
                       for i in changed])
        vectors[changed] = fresh
    return replace(write, title=title, chunks=chunks, vectors=vectors), len(changed)
