"""Ingestion: files -> load -> chunk -> embed (batched across files) -> store.

- A file whose bytes (sha256) and pipeline (chunker version, chunk sizes, embedder) are
  unchanged is skipped; a changed file replaces its previous version atomically.
- Documents are written in groups, each group in one transaction: an exception, a crash or
  Ctrl-C leaves every earlier group committed and nothing of the interrupted one.
- A file that cannot be loaded is reported (what and how to fix) and the others go on;
  what was stored for it before stays.
- ``sync=True`` removes the collection's documents that lie under a given folder but whose
  file is gone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .chunking import CHUNKER_VERSION, Chunk, chunk_document, embedding_text
from .documents import LoadedDocument
from .embedders.base import Embedder
from .errors import FileTooLargeError, LoadError, UserError
from .loaders import SUPPORTED_EXTENSIONS, load
from .settings import Settings
from .store.base import DocumentWrite, Store

__all__ = ["FileFailure", "IngestProgress", "IngestReport", "discover", "ingest_paths",
           "pipeline_signature"]

logger = logging.getLogger(__name__)

_GROUP_CHUNKS = 256  # chunks embedded and written per transaction


@dataclass(frozen=True, slots=True)
class FileFailure:
    path: str
    code: str
    message: str
    hint: str | None


@dataclass(slots=True)
class IngestReport:
    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True, slots=True)
class IngestProgress:
    done: int
    total: int
    path: str
    status: str  # "added" | "updated" | "unchanged" | "failed"


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]], list[Path]]:
    """Files to ingest under ``paths`` (folders walked recursively, hidden entries skipped).

    Returns (files, skipped (path, reason), folders walked). A path given explicitly must
    exist and have a supported extension.
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    roots: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise UserError(f"{given}: no such file or folder", hint="check the path")
        path = path.resolve()
        if path.is_dir():
            roots.append(path)
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    candidate = Path(dirpath) / name
                    if candidate.suffix.lower() in SUPPORTED_EXTENSIONS:
                        files.append(candidate)
                    else:
                        skipped.append((str(candidate), f"unsupported extension {candidate.suffix!r}"))
        else:
            files.append(path)
    return list(dict.fromkeys(files)), skipped, roots


def pipeline_signature(settings: Settings, embedder: Embedder) -> str:
    """What, besides the bytes, decides a document's chunks and vectors."""
    return (f"chunker={CHUNKER_VERSION};tokens={settings.chunk_tokens};"
            f"overlap={settings.chunk_overlap};embedder={embedder.model_id}")


@dataclass(slots=True)
class _Pending:
    path: Path
    status: str
    digest: str
    size: int
    doc: LoadedDocument
    chunks: list[Chunk]


def ingest_paths(
    paths: Sequence[Path],
    *,
    store: Store,
    embedder: Embedder,
    settings: Settings,
    collection: str = "default",
    sync: bool = False,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestReport:
    """Ingest ``paths`` into ``collection`` (created if needed); see the module docstring."""
    started = time.perf_counter()
    files, skipped, roots = discover(paths)
    store.ensure_collection(collection)
    report = IngestReport(collection=collection, skipped=skipped)
    signature = pipeline_signature(settings, embedder)
    max_bytes = settings.max_file_mb * 1024 * 1024
    pending: list[_Pending] = []
    done = 0

    def tell(path: Path, status: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(IngestProgress(done, len(files), str(path), status))

    def flush() -> None:
        if not pending:
            return
        texts = [embedding_text(p.doc.title, c.heading_path, c.text)
                 for p in pending for c in p.chunks]
        vectors = embedder.embed_documents(texts)
        writes, offset = [], 0
        for p in pending:
            n = len(p.chunks)
            writes.append(DocumentWrite(
                source=str(p.path), title=p.doc.title, format=p.doc.format,
                content_hash=p.digest, pipeline=signature, size_bytes=p.size,
                pages=p.doc.pages, chunks=p.chunks, vectors=vectors[offset:offset + n],
                metadata=dict(p.doc.metadata),
            ))
            offset += n
        store.replace_documents(collection, writes, embedding_model=embedder.model_id)
        for p in pending:
            (report.added if p.status == "added" else report.updated).append(str(p.path))
            report.chunks += len(p.chunks)
            tell(p.path, p.status)
        pending.clear()

    for path in files:
        source = str(path)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise FileTooLargeError(
                    f"{size / 1024 / 1024:.1f} MB is over the {settings.max_file_mb} MB limit",
                    path=source, hint="raise the max_file_mb setting or split the file")
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            previous = store.document(collection, source)
            if previous is not None and previous.content_hash == digest \
                    and previous.pipeline == signature:
                report.unchanged.append(source)
                tell(path, "unchanged")
                continue
            doc = load(path, max_bytes=max_bytes)
            chunks = chunk_document(doc, count_tokens=embedder.count_tokens,
                                    max_tokens=settings.chunk_tokens,
                                    overlap=settings.chunk_overlap)
        except LoadError as exc:
            report.failed.append(FileFailure(source, exc.code, exc.message, exc.hint))
            logger.warning("file not ingested", extra={"path": source, "code": exc.code})
            tell(path, "failed")
            continue
        except OSError as exc:
            report.failed.append(FileFailure(source, "unreadable", str(exc),
                                             "check the file's permissions"))
            tell(path, "failed")
            continue
        pending.append(_Pending(path, "added" if previous is None else "updated", digest, size,
                                doc, chunks))
        if sum(len(p.chunks) for p in pending) >= _GROUP_CHUNKS:
            flush()
    flush()

    if sync and roots:
        seen = {str(f) for f in files}
        gone = [
            d.source for d in store.documents(collection)
            if d.source not in seen and any(Path(d.source).is_relative_to(r) for r in roots)
            and not Path(d.source).exists()
        ]
        if gone:
            store.delete_documents(collection, gone)
            report.removed.extend(gone)
    report.seconds = time.perf_counter() - started
    logger.info("ingest finished", extra={
        "collection": collection, "added": len(report.added), "updated": len(report.updated),
        "unchanged": len(report.unchanged), "failed": len(report.failed),
        "removed": len(report.removed), "chunks": report.chunks})
    return report

