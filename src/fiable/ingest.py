"""Ingestion: files -> load -> chunk -> embed (batched across files) -> store.

- A file whose bytes (sha256) and pipeline (chunker version, chunk sizes, embedder) are
  unchanged is skipped; a changed file replaces its previous version atomically.
- Documents are written in groups, each group in one transaction: an exception, a crash or
  Ctrl-C leaves every earlier group committed and nothing of the interrupted one.
- A file that cannot be loaded is reported (what and how to fix) and the others go on;
  what was stored for it before stays.
- ``sync=True`` removes the collection's documents that lie under a given folder but whose
  file is gone.

:func:`ingest_records` does the same for texts that are not files (an evaluation corpus,
rows of a database): each record's source is ``record:<id>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .chunking import CHUNKER_VERSION, Chunk, chunk_document, embedding_text
from .documents import Block, LoadedDocument
from .embedders.base import Embedder
from .errors import EmptyFileError, FileTooLargeError, LoadError, UserError
from .loaders import SUPPORTED_EXTENSIONS, load
from .settings import Settings
from .store.base import DocumentWrite, Store
from .trust.pii import PiiRejectedError

__all__ = ["RECORD_PREFIX", "FileFailure", "IngestProgress", "IngestReport", "TextRecord",
           "discover", "document_key", "ingest_paths", "ingest_records", "pipeline_signature"]

logger = logging.getLogger(__name__)

_GROUP_CHUNKS = 256  # chunks embedded and written per transaction
RECORD_PREFIX = "record:"


def document_key(source: str) -> str:
    """A document's short id: the record id of ``record:<id>``, else the file name."""
    if source.startswith(RECORD_PREFIX):
        return source[len(RECORD_PREFIX):]
    return Path(source).name


@dataclass(frozen=True, slots=True)
class TextRecord:
    """A text to ingest that is not a file: ``id`` must be unique in its collection."""

    id: str
    title: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)


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
            f"overlap={settings.chunk_overlap};embedder={embedder.model_id}"
            + (f";pii={settings.pii}" if settings.pii != "keep" else ""))


def _apply_pii(doc: LoadedDocument, settings: Settings, pii: Any) -> LoadedDocument:
    """The document with the ``pii`` policy applied to every block (one mapping for the
    whole document, so an entity keeps its placeholder). PiiRejectedError on ``reject``."""
    if settings.pii == "keep" or pii is None:
        return doc
    from .trust.pii import apply_policy

    mapping: dict[str, str] = {}
    blocks = []
    for block in doc.blocks:
        text, _, mapping = apply_policy(block.text, settings.pii, pii, mapping)  # type: ignore[arg-type]
        heading = tuple(apply_policy(h, settings.pii, pii, mapping)[0] for h in block.heading_path)
        blocks.append(dataclasses.replace(block, text=text, heading_path=heading))
    return dataclasses.replace(doc, blocks=tuple(blocks))


@dataclass(slots=True)
class _Pending:
    source: str
    status: str
    digest: str
    size: int
    doc: LoadedDocument
    chunks: list[Chunk]


class _GroupWriter:
    """Collects loaded documents; embeds and writes them a group (one transaction) at a time."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings, collection: str,
                 report: IngestReport, tell: Callable[[str, str], None], pii: Any = None) -> None:
        self.store, self.embedder, self.settings, self.pii = store, embedder, settings, pii
        self.collection, self.report, self.tell = collection, report, tell
        self.signature = pipeline_signature(settings, embedder)
        self.pending: list[_Pending] = []

    def unchanged(self, source: str, digest: str) -> tuple[bool, bool]:
        """(is unchanged, already stored) for ``source`` with content ``digest``."""
        previous = self.store.document(self.collection, source)
        if previous is None:
            return False, False
        return previous.content_hash == digest and previous.pipeline == self.signature, True

    def add(self, source: str, status: str, digest: str, size: int, doc: LoadedDocument) -> None:
        s = self.settings
        doc = _apply_pii(doc, s, self.pii)
        chunks = chunk_document(doc, count_tokens=self.embedder.count_tokens,
                                max_tokens=s.chunk_tokens, overlap=s.chunk_overlap)
        self.pending.append(_Pending(source, status, digest, size, doc, chunks))

    @property
    def full(self) -> bool:
        return sum(len(p.chunks) for p in self.pending) >= _GROUP_CHUNKS

    def flush(self) -> None:
        pending = self.pending
        if not pending:
            return
        texts = [embedding_text(p.doc.title, c.heading_path, c.text)
                 for p in pending for c in p.chunks]
        vectors = self.embedder.embed_documents(texts)
        writes, offset = [], 0
        for p in pending:
            n = len(p.chunks)
            writes.append(DocumentWrite(
                source=p.source, title=p.doc.title, format=p.doc.format,
                content_hash=p.digest, pipeline=self.signature, size_bytes=p.size,
                pages=p.doc.pages, chunks=p.chunks, vectors=vectors[offset:offset + n],
                metadata=dict(p.doc.metadata),
            ))
            offset += n
        self.store.replace_documents(self.collection, writes,
                                     embedding_model=self.embedder.model_id)
        for p in pending:
            (self.report.added if p.status == "added" else self.report.updated).append(p.source)
            self.report.chunks += len(p.chunks)
            self.tell(p.source, p.status)
        pending.clear()


def ingest_paths(
    paths: Sequence[Path],
    *,
    store: Store,
    embedder: Embedder,
    settings: Settings,
    collection: str = "default",
    sync: bool = False,
    progress: Callable[[IngestProgress], None] | None = None,
    pii: Any = None,
) -> IngestReport:
    """Ingest ``paths`` into ``collection`` (created if needed); see the module docstring.
    ``pii`` is the PiiDetector the ``pii`` setting needs (unless it is ``keep``)."""
    started = time.perf_counter()
    files, skipped, roots = discover(paths)
    store.ensure_collection(collection)
    report = IngestReport(collection=collection, skipped=skipped)
    max_bytes = settings.max_file_mb * 1024 * 1024
    done = 0

    def tell(source: str, status: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(IngestProgress(done, len(files), source, status))

    writer = _GroupWriter(store, embedder, settings, collection, report, tell, pii)
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
            same, stored = writer.unchanged(source, digest)
            if same:
                report.unchanged.append(source)
                tell(source, "unchanged")
                continue
            doc = load(path, max_bytes=max_bytes)
            writer.add(source, "updated" if stored else "added", digest, size, doc)
        except (LoadError, PiiRejectedError) as exc:
            report.failed.append(FileFailure(source, exc.code, exc.message, exc.hint))
            logger.warning("file not ingested", extra={"path": source, "code": exc.code})
            tell(source, "failed")
            continue
        except OSError as exc:
            report.failed.append(FileFailure(source, "unreadable", str(exc),
                                             "check the file's permissions"))
            tell(source, "failed")
            continue
        if writer.full:
            writer.flush()
    writer.flush()

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
    return _finished(report, started)


def _finished(report: IngestReport, started: float) -> IngestReport:
    report.seconds = time.perf_counter() - started
    logger.info("ingest finished", extra={
        "collection": report.collection, "added": len(report.added),
        "updated": len(report.updated), "unchanged": len(report.unchanged),
        "failed": len(report.failed), "removed": len(report.removed), "chunks": report.chunks})
    return report


def _record_document(record: TextRecord) -> LoadedDocument:
    paragraphs = [p for p in (" ".join(part.split()) for part in record.text.split("\n\n")) if p]
    if not paragraphs:
        raise EmptyFileError("has no text", path=RECORD_PREFIX + record.id,
                             hint="give the record some text, or leave it out")
    title = record.title.strip() or record.id
    blocks = tuple(Block(p) for p in paragraphs)
    return LoadedDocument(source=RECORD_PREFIX + record.id, title=title, format="text",
                          blocks=blocks, metadata=dict(record.metadata))


def ingest_records(
    records: Iterable[TextRecord],
    *,
    store: Store,
    embedder: Embedder,
    settings: Settings,
    collection: str = "default",
    total: int = 0,
    progress: Callable[[IngestProgress], None] | None = None,
    pii: Any = None,
) -> IngestReport:
    """Ingest texts (not files) into ``collection``; unchanged records are skipped.

    ``total`` (when known) is reported in the progress events.
    """
    started = time.perf_counter()
    store.ensure_collection(collection)
    report = IngestReport(collection=collection)
    done = 0

    def tell(source: str, status: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(IngestProgress(done, total, source, status))

    writer = _GroupWriter(store, embedder, settings, collection, report, tell, pii)
    max_bytes = settings.max_file_mb * 1024 * 1024
    for record in records:
        source = RECORD_PREFIX + record.id
        payload = json.dumps([record.title, record.text, record.metadata], sort_keys=True)
        if len(payload) > max_bytes:  # characters: a lower bound on the UTF-8 size
            exc = FileTooLargeError(
                f"{len(payload) / 1024 / 1024:.1f} MB is over the {settings.max_file_mb} MB limit",
                path=source, hint="raise the max_file_mb setting or split the record")
            report.failed.append(FileFailure(source, exc.code, exc.message, exc.hint))
            tell(source, "failed")
            continue
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        same, stored = writer.unchanged(source, digest)
        if same:
            report.unchanged.append(source)
            tell(source, "unchanged")
            continue
        try:
            doc = _record_document(record)
            writer.add(source, "updated" if stored else "added", digest, len(payload), doc)
        except (LoadError, PiiRejectedError) as exc:
            report.failed.append(FileFailure(source, exc.code, exc.message, exc.hint))
            tell(source, "failed")
            continue
        if writer.full:
            writer.flush()
    writer.flush()
    return _finished(report, started)

