"""Ingestion: files -> load -> chunk -> embed (batched across files) -> store.

This module decides what is written: which files are new, changed or unchanged, how
results are grouped into transactions, what is reported. The work in between (load -> PII
policy -> chunk -> embed) is mapped over the changed files by a :class:`FileExecutor`:
:class:`LocalExecutor` in this process by default, :mod:`fiable.executors.ray` on a Ray
cluster. The driver reads and hashes every file itself and hands executors the bytes of
the changed ones, never paths.

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
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

from .chunking import CHUNKER_VERSION, Chunk, chunk_document, embedding_text
from .documents import Block, LoadedDocument
from .embedders.base import Embedder, Vectors
from .errors import EmptyFileError, FileTooLargeError, LoadError, UserError
from .loaders import SUPPORTED_EXTENSIONS, load_bytes
from .settings import Settings
from .store.base import DocumentWrite, Store
from .trust.pii import PiiRejectedError

__all__ = ["RECORD_PREFIX", "FileExecutor", "FileFailure", "FileJob", "IngestProgress",
           "IngestReport", "LocalExecutor", "PreparedDocument", "TextRecord", "discover",
           "document_key", "ingest_paths", "ingest_records", "pipeline_signature",
           "prepare_files"]

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
class FileJob:
    """A new or changed file for an executor: its bytes travel with it, not its path, so
    workers on other machines need no shared filesystem. ``source`` names it (the
    extension picks the loader; it is never opened)."""

    source: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A document loaded, with the PII policy applied, chunked and embedded (one vector
    per chunk): what an executor hands back for the driver to store."""

    source: str
    title: str
    format: str
    pages: int | None
    metadata: dict[str, str]
    chunks: list[Chunk]
    vectors: Vectors
    chunk_languages: list[str] = field(default_factory=list)  # ISO 639-1, one per chunk


class FileExecutor(Protocol):
    """Maps load -> PII policy -> chunk -> embed over the files an ingest found changed.

    Contract:
    - ``model_id`` is the model id of the embedder that does the work, known before the
      first job (the driver compares it with what is stored to skip unchanged files).
    - ``map(jobs)`` yields one result per job, in any order: a :class:`PreparedDocument`,
      or a :class:`FileFailure` (its ``path`` the job's ``source``) for a file that cannot
      be loaded (:class:`~fiable.errors.LoadError`) or that the PII policy rejects. Any
      other error propagates; the driver has then stored every group before it.
    - ``jobs`` are pulled lazily, a bounded number ahead of the results (a large corpus
      is never all in memory).
    - A result equals :func:`prepare_files` on the same bytes and settings (vectors to
      float tolerance), so documents do not depend on where they were prepared.
    """

    @property
    def model_id(self) -> str: ...

    def map(self, jobs: Iterable[FileJob]) -> Iterator[PreparedDocument | FileFailure]: ...


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


def pipeline_signature(settings: Settings, embedder: Embedder | str) -> str:
    """What, besides the bytes, decides a document's chunks and vectors (``embedder``: the
    embedder or its model id)."""
    model_id = embedder if isinstance(embedder, str) else embedder.model_id
    return (f"chunker={CHUNKER_VERSION};tokens={settings.chunk_tokens};"
            f"overlap={settings.chunk_overlap};embedder={model_id}"
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


def _failure(source: str, exc: LoadError | PiiRejectedError) -> FileFailure:
    return FileFailure(source, exc.code, exc.message, exc.hint)


def _prepare_in_groups(
    items: Iterable[tuple[str, Callable[[], LoadedDocument]]],
    *,
    embedder: Embedder,
    settings: Settings,
    pii: Any,
) -> Iterator[PreparedDocument | FileFailure]:
    """Load (the callable), apply the PII policy and chunk each item; embed the chunks of
    about ``_GROUP_CHUNKS`` at a time in one call. Failures come out at once, documents a
    group at a time (so each group is one write for the driver)."""
    group: list[tuple[str, LoadedDocument, list[Chunk]]] = []
    count = 0
    for source, load_doc in items:
        try:
            doc = _apply_pii(load_doc(), settings, pii)
        except (LoadError, PiiRejectedError) as exc:
            yield _failure(source, exc)
            continue
        chunks = chunk_document(doc, count_tokens=embedder.count_tokens,
                                max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap)
        group.append((source, doc, chunks))
        count += len(chunks)
        if count >= _GROUP_CHUNKS:
            yield from _embedded(group, embedder)
            group, count = [], 0
    yield from _embedded(group, embedder)


def _embedded(group: list[tuple[str, LoadedDocument, list[Chunk]]],
              embedder: Embedder) -> list[PreparedDocument]:
    if not group:
        return []
    vectors = embedder.embed_documents([embedding_text(doc.title, c.heading_path, c.text)
                                        for _, doc, chunks in group for c in chunks])
    out, offset = [], 0
    for source, doc, chunks in group:
        n = len(chunks)
        metadata, languages = _languages(doc, chunks)
        out.append(PreparedDocument(source, doc.title, doc.format, doc.pages,
                                    metadata, chunks, vectors[offset:offset + n], languages))
        offset += n
    return out


def _languages(doc: LoadedDocument, chunks: list[Chunk]) -> tuple[dict[str, str], list[str]]:
    """The document's metadata with its ``language`` (a loader's or one given in the
    metadata wins; else detected from its text), and each chunk's language."""
    from .lexical import chunk_languages, document_language

    metadata = dict(doc.metadata)
    texts = [c.text for c in chunks]
    language = metadata.get("language") or document_language(texts)
    metadata["language"] = language
    return metadata, chunk_languages(texts, language)


def _file_items(jobs: Iterable[FileJob],
                max_bytes: int) -> Iterator[tuple[str, Callable[[], LoadedDocument]]]:
    for job in jobs:
        yield job.source, partial(load_bytes, job.data, job.source, max_bytes=max_bytes)


def prepare_files(
    jobs: Iterable[FileJob], *, embedder: Embedder, settings: Settings, pii: Any = None
) -> list[PreparedDocument | FileFailure]:
    """Load -> PII policy -> chunk -> embed ``jobs``: the pure function executors map.
    ``pii`` is the PiiDetector the ``pii`` setting needs (unless it is ``keep``)."""
    max_bytes = settings.max_file_mb * 1024 * 1024
    return list(_prepare_in_groups(_file_items(jobs, max_bytes), embedder=embedder,
                                   settings=settings, pii=pii))


class LocalExecutor:
    """The default :class:`FileExecutor`: this process, one embedder, files embedded in
    groups of about ``_GROUP_CHUNKS`` chunks (one embed call and one write per group)."""

    def __init__(self, embedder: Embedder, settings: Settings, pii: Any = None) -> None:
        self.embedder, self.settings, self.pii = embedder, settings, pii

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def map(self, jobs: Iterable[FileJob]) -> Iterator[PreparedDocument | FileFailure]:
        max_bytes = self.settings.max_file_mb * 1024 * 1024
        return _prepare_in_groups(_file_items(jobs, max_bytes), embedder=self.embedder,
                                  settings=self.settings, pii=self.pii)


@dataclass(frozen=True, slots=True)
class _Change:
    status: str  # "added" | "updated"
    digest: str
    size: int


class _GroupWriter:
    """Collects prepared documents; writes them a group (one transaction) at a time."""

    def __init__(self, store: Store, model_id: str, settings: Settings, collection: str,
                 report: IngestReport, tell: Callable[[str, str], None]) -> None:
        self.store, self.model_id, self.settings = store, model_id, settings
        self.collection, self.report, self.tell = collection, report, tell
        self.signature = pipeline_signature(settings, model_id)
        # sources handed to the executor and not back yet (a list: record ids may repeat)
        self.changes: dict[str, list[_Change]] = {}
        self.pending: list[tuple[PreparedDocument, _Change]] = []

    def unchanged(self, source: str, digest: str) -> tuple[bool, bool]:
        """(is unchanged, already stored) for ``source`` with content ``digest``."""
        previous = self.store.document(self.collection, source)
        if previous is None:
            return False, False
        return previous.content_hash == digest and previous.pipeline == self.signature, True

    def expect(self, source: str, status: str, digest: str, size: int) -> None:
        """``source`` goes to the executor; its result will be written with these."""
        self.changes.setdefault(source, []).append(_Change(status, digest, size))

    def write_all(self, results: Iterable[PreparedDocument | FileFailure]) -> None:
        """Write every result, a group per transaction; report failures as they come."""
        for result in results:
            if isinstance(result, FileFailure):
                self.fail(result)
                continue
            self.pending.append((result, self._change(result.source)))
            if sum(len(p.chunks) for p, _ in self.pending) >= _GROUP_CHUNKS:
                self.flush()
        self.flush()

    def _change(self, source: str) -> _Change:
        waiting = self.changes[source]
        change = waiting.pop(0)
        if not waiting:
            del self.changes[source]
        return change

    def fail(self, failure: FileFailure) -> None:
        """Report ``failure``; what was stored for its source stays."""
        if failure.path in self.changes:
            self._change(failure.path)
        self.report.failed.append(failure)
        logger.warning("file not ingested", extra={"path": failure.path, "code": failure.code})
        self.tell(failure.path, "failed")

    def flush(self) -> None:
        pending = self.pending
        if not pending:
            return
        writes = [DocumentWrite(
            source=p.source, title=p.title, format=p.format, content_hash=c.digest,
            pipeline=self.signature, size_bytes=c.size, pages=p.pages, chunks=p.chunks,
            vectors=p.vectors, metadata=dict(p.metadata), chunk_languages=p.chunk_languages,
        ) for p, c in pending]
        self.store.replace_documents(self.collection, writes, embedding_model=self.model_id)
        for p, c in pending:
            (self.report.added if c.status == "added" else self.report.updated).append(p.source)
            self.report.chunks += len(p.chunks)
            self.tell(p.source, c.status)
        pending.clear()


def ingest_paths(
    paths: Sequence[Path],
    *,
    store: Store,
    embedder: Embedder | None = None,
    settings: Settings,
    collection: str = "default",
    sync: bool = False,
    progress: Callable[[IngestProgress], None] | None = None,
    pii: Any = None,
    executor: FileExecutor | None = None,
) -> IngestReport:
    """Ingest ``paths`` into ``collection`` (created if needed); see the module docstring.

    ``executor`` prepares the changed files (default: a :class:`LocalExecutor` with
    ``embedder`` and ``pii``, the PiiDetector the ``pii`` setting needs unless it is
    ``keep``); either ``embedder`` or ``executor`` is required.
    """
    if executor is None:
        if embedder is None:
            raise TypeError("ingest_paths needs an embedder or an executor")
        executor = LocalExecutor(embedder, settings, pii)
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

    writer = _GroupWriter(store, executor.model_id, settings, collection, report, tell)

    def changed() -> Iterator[FileJob]:  # pulled by the executor, at its pace
        for path in files:
            source = str(path)
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    raise FileTooLargeError(
                        f"{size / 1024 / 1024:.1f} MB is over the {settings.max_file_mb} MB limit",
                        path=source, hint="raise the max_file_mb setting or split the file")
                data = path.read_bytes()
            except LoadError as exc:
                writer.fail(_failure(source, exc))
                continue
            except OSError as exc:
                writer.fail(FileFailure(source, "unreadable", str(exc),
                                        "check the file's permissions"))
                continue
            digest = hashlib.sha256(data).hexdigest()
            same, stored = writer.unchanged(source, digest)
            if same:
                report.unchanged.append(source)
                tell(source, "unchanged")
                continue
            writer.expect(source, "updated" if stored else "added", digest, size)
            yield FileJob(source, data)

    writer.write_all(executor.map(changed()))

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

    writer = _GroupWriter(store, embedder.model_id, settings, collection, report, tell)
    max_bytes = settings.max_file_mb * 1024 * 1024

    def changed() -> Iterator[tuple[str, Callable[[], LoadedDocument]]]:
        for record in records:
            source = RECORD_PREFIX + record.id
            payload = json.dumps([record.title, record.text, record.metadata], sort_keys=True)
            if len(payload) > max_bytes:  # characters: a lower bound on the UTF-8 size
                writer.fail(_failure(source, FileTooLargeError(
                    f"{len(payload) / 1024 / 1024:.1f} MB is over the {settings.max_file_mb} MB"
                    " limit", path=source, hint="raise the max_file_mb setting or split the record")))
                continue
            digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
            same, stored = writer.unchanged(source, digest)
            if same:
                report.unchanged.append(source)
                tell(source, "unchanged")
                continue
            writer.expect(source, "updated" if stored else "added", digest, len(payload))
            yield source, partial(_record_document, record)

    writer.write_all(_prepare_in_groups(changed(), embedder=embedder, settings=settings, pii=pii))
    return _finished(report, started)

