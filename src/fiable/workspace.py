"""A workspace: one directory with a ``fiable.toml`` and, by default, a SQLite database;
with ``store = "postgresql://..."`` the documents and index live on that server instead.

    ws = Workspace.open("my-workspace", create=True)
    ws.ingest(["handbook/"], collection="hr")
    answer = ws.ask("How many days of leave do I get?")
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .answer import Answer, AskEvent, Done
from .ask import AskRequest, ask_events
from .components import make_embedder, make_generator
from .embedders.base import Embedder
from .errors import WorkspaceError
from .generators.base import Generator
from .ingest import IngestProgress, IngestReport, TextRecord, ingest_paths, ingest_records
from .retrieval import Hit, hybrid_search
from .settings import SETTINGS_FILE, Settings, load_settings, read_collection_settings
from .store import open_store
from .store.base import CollectionInfo, DocumentInfo, Store

__all__ = ["Workspace", "DATABASE_FILE"]

logger = logging.getLogger(__name__)

DATABASE_FILE = "fiable.db"


class Workspace:
    """Documents, index and settings in one directory. Use :meth:`open` to get one."""

    def __init__(
        self,
        path: Path,
        settings: Settings,
        store: Store,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        collection_settings: Mapping[str, Settings] | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.collection_settings = dict(collection_settings or {})
        self.store = store
        self._embedder = embedder
        self._generator = generator
        self._owns_generator = generator is None
        self._pii: Any = None
        self._otlp: Any = None  # fiable.observability.otlp.OtlpExporter, when otlp_endpoint is set
        self._drift: Any = None  # fiable.observability.drift.DriftWatch, built on first log
        self._lock = threading.Lock()

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = False,
        embedder: Embedder | str | None = None,
        generator: Generator | str | None = None,
        **settings: Any,
    ) -> "Workspace":
        """Open the workspace at ``path`` (``create=True`` makes it if missing).

        Keyword ``settings`` override ``fiable.toml`` and ``FIABLE_*`` variables.
        ``embedder`` and ``generator`` are settings when given as names (``"fake"``,
        ``"smollm2-135m"``), or instances that replace the configured ones (custom code).
        """
        if isinstance(embedder, str):
            settings["embedder"], embedder = embedder, None
        if isinstance(generator, str):
            settings["generator"], generator = generator, None
        directory = Path(path).expanduser()
        db = directory / DATABASE_FILE
        if not db.exists() and not (directory / SETTINGS_FILE).is_file():
            if not create:
                raise WorkspaceError(
                    f"no fiable workspace at {directory}",
                    hint=f"create one with `fiable init {directory}` "
                    "(or Workspace.open(path, create=True))",
                )
            if directory.exists() and not directory.is_dir():
                raise WorkspaceError(f"{directory} is a file, not a folder",
                                     hint="choose another workspace path")
            directory.mkdir(parents=True, exist_ok=True)
            toml = directory / SETTINGS_FILE
            if not toml.exists():
                toml.write_text(
                    "# fiable workspace settings: see `fiable settings` for the full table.\n"
                    "# Precedence: command-line flags > FIABLE_* environment > this file > "
                    "defaults.\n",
                    encoding="utf-8",
                )
        resolved = load_settings(directory, overrides=settings)
        store = open_store(resolved.store, db)
        return cls(directory, resolved, store, embedder=embedder, generator=generator,
                   collection_settings=_per_collection(directory, settings))

    def close(self) -> None:
        """Flush exported traces, release the model and the store."""
        if self._otlp is not None:
            self._otlp.close()
            self._otlp = None
        if self._drift is not None:
            self._drift.close()  # before the store closes: a scheduled check reads it
            self._drift = None
        if self._owns_generator and self._generator is not None:
            close = getattr(self._generator, "close", None)
            if callable(close):
                close()
        self._generator = None
        self.store.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def settings_for(self, collections: Sequence[str] | None) -> Settings:
        """The settings a question on ``collections`` runs with: the workspace's, with the
        collection's own ``[collections."NAME"]`` table applied when exactly one collection
        is searched (named, or the workspace's only one)."""
        if not self.collection_settings:
            return self.settings
        names = list(collections) if collections else [c.name for c in self.store.collections()]
        if len(set(names)) != 1:
            return self.settings
        return self.collection_settings.get(names[0], self.settings)

    def reload_collection_settings(self, **overrides: Any) -> None:
        """Re-read the per-collection tables of ``fiable.toml`` (after writing them)."""
        self.collection_settings = _per_collection(self.path, overrides)

    # -- components ---------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def generator(self) -> Generator:
        with self._lock:
            if self._generator is None:
                self._generator = make_generator(self.settings)
            return self._generator

    @property
    def pii_detector(self) -> Any:
        """The :class:`fiable.trust.pii.PiiDetector` the ``pii`` settings use (built once)."""
        with self._lock:
            if self._pii is None:
                from .components import make_pii_detector

                self._pii = make_pii_detector(self.settings)
            return self._pii

    @property
    def otlp_exporter(self) -> Any:
        """The :class:`fiable.observability.otlp.OtlpExporter` for ``otlp_endpoint`` (built
        once; None when the setting is empty). ConfigError without the ``otlp`` extra."""
        if not self.settings.otlp_endpoint:
            return None
        with self._lock:
            if self._otlp is None:
                from .observability.otlp import OtlpExporter

                self._otlp = OtlpExporter(self.settings.otlp_endpoint)
            return self._otlp

    def drift(self, **options: Any) -> Any:
        """The drift state now (:func:`fiable.observability.drift.drift_state`: the last
        ``drift_window`` answers against the baseline; ``options`` are its keywords)."""
        from .observability.drift import drift_state

        return drift_state(self.store, self.settings, **options)

    def _drift_watch(self) -> Any:
        with self._lock:
            if self._drift is None:
                from .observability.drift import DriftWatch

                self._drift = DriftWatch(self.store, self.settings)
            return self._drift

    def _pii_for(self, settings: Settings) -> Any:
        return self.pii_detector if settings.pii != "keep" else None

    # -- documents ----------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        collection: str = "default",
        sync: bool = False,
        progress: Callable[[IngestProgress], None] | None = None,
        executor: str | None = None,
    ) -> IngestReport:
        """Ingest files and folders into ``collection`` (see :mod:`fiable.ingest`).
        ``executor`` runs load, chunk and embed: ``local`` or ``ray`` (default: the
        ``ingest_executor`` setting; see :mod:`fiable.executors`)."""
        from .executors import open_executor

        settings = self.settings_for([collection])
        with open_executor(executor or settings.ingest_executor, settings,
                           embedder=lambda: self.embedder,
                           pii=lambda: self._pii_for(settings)) as runner:
            return ingest_paths(
                [Path(p) for p in paths], store=self.store, settings=settings,
                collection=collection, sync=sync, progress=progress, executor=runner,
            )

    def ingest_records(
        self,
        records: Iterable[TextRecord],
        *,
        collection: str = "default",
        total: int = 0,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Ingest texts that are not files (rows, an evaluation corpus): each record is
        stored as ``record:<id>``; unchanged records are skipped."""
        settings = self.settings_for([collection])
        return ingest_records(records, store=self.store, embedder=self.embedder,
                              settings=settings, collection=collection, total=total,
                              progress=progress, pii=self._pii_for(settings))

    def collections(self) -> list[CollectionInfo]:
        return self.store.collections()

    def documents(self, collection: str) -> list[DocumentInfo]:
        return self.store.documents(collection)

    def delete_documents(self, collection: str, sources: Sequence[str]) -> int:
        return self.store.delete_documents(collection, sources)

    def reindex(self) -> int:
        """Re-embed every chunk with the configured embedder (after changing it)."""
        from .chunking import embedding_text

        embedder = self.embedder
        return self.store.reembed(
            lambda rows: embedder.embed_documents([embedding_text(*r) for r in rows]),
            embedding_model=embedder.model_id,
        )

    # -- questions ----------------------------------------------------------------------
    def search(
        self, query: str, *, collections: Sequence[str] | None = None, k: int | None = None
    ) -> list[Hit]:
        """Hybrid search without generation."""
        s = self.settings_for(collections)
        return hybrid_search(
            self.store, self.embedder, query, k=k or s.top_k, collections=collections,
            fusion=s.fusion, rrf_k=s.rrf_k, dense_weight=s.dense_weight,  # type: ignore[arg-type]
            candidates=s.candidates,
        ).hits

    def ask_stream(
        self,
        question: str,
        *,
        collections: Sequence[str] | None = None,
        top_k: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Iterator[AskEvent]:
        """Answer ``question`` as a stream of events: ``Retrieved``, ``Token``..., ``Done``.
        ``overrides`` change settings for this question only (e.g. ``{"verify": "off"}``).

        With ``log_asks`` the request is stored (:meth:`history`, ``fiable traces``) with its
        trace, and the drift watch counts it; with ``otlp_endpoint`` the trace is exported."""
        settings = self.settings_for(collections)
        if overrides:
            settings = settings.replace(**overrides)
        exporter = self.otlp_exporter  # a missing extra fails here, before any work
        if settings.pii != "keep":
            from .trust.pii import apply_policy

            question = apply_policy(question, settings.pii, self.pii_detector)[0]  # type: ignore[arg-type]
        events = ask_events(
            AskRequest(question, collections, top_k), store=self.store, embedder=self.embedder,
            generator_factory=lambda: self.generator, settings=settings,
        )
        for event in events:
            if isinstance(event, Done):
                if exporter is not None and event.trace:
                    exporter.export(event.trace)
                if settings.log_asks:
                    self.store.log_ask(self._ask_record(event, settings))
                    self._drift_watch().observe()
            yield event

    def _ask_record(self, done: Done, settings: Settings) -> dict[str, Any]:
        """The ask-log record of one request: question, answer, exact prompt, settings and
        trace (spans and passages, ids and scores). Without ``trace_content`` it keeps no
        prompt nor passage text; with ``pii_logs = "mask"`` personal data is masked."""
        trace = done.trace
        record: dict[str, Any] = {
            "trace_id": done.answer.trace_id,
            "question": done.answer.question,
            "answer": done.answer.to_dict(),
            "messages": list(done.messages),
            "settings": settings.redacted(),
            "trace": {"started_at": trace.get("started_at"), "spans": trace.get("spans", []),
                      "passages": trace.get("passages", []),
                      "content": settings.trace_content},
        }
        if not settings.trace_content:
            record = _without_content(record)
        if settings.pii_logs == "mask":
            record = _masked(record, self.pii_detector)
        return record

    def ask(
        self,
        question: str,
        *,
        collections: Sequence[str] | None = None,
        top_k: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Answer:
        """Answer ``question`` with a citation on every supported sentence."""
        for event in self.ask_stream(question, collections=collections, top_k=top_k,
                                     overrides=overrides):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("ask pipeline ended without an answer")  # pragma: no cover

    def history(self, limit: int = 20, trace_id: str | None = None) -> list[dict[str, Any]]:
        """Past questions with their answers and exact prompts, newest first."""
        return self.store.asks(limit=limit, trace_id=trace_id)


def _per_collection(directory: Path, overrides: Mapping[str, Any]) -> dict[str, Settings]:
    tables = read_collection_settings(directory / SETTINGS_FILE)
    return {name: load_settings(directory, overrides=overrides, collection=name)
            for name in tables}


# Not masked in the ask log: identifiers and settings, and the sources' snippets, which are
# document text (the `pii` setting governs documents at ingest) repeated from the prompt.
# The trace holds no content either: timings, counts, scores, ids and hashes.
_TECHNICAL_KEYS = frozenset({"trace_id", "content_hash", "created_at", "prompt_version",
                             "embedder_model", "generator_model", "settings", "timings", "usage",
                             "sources", "cited_sources", "checks", "trace"})


def _without_content(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` without the prompt and passage text (``trace_content = false``): the
    sources keep their ids, hashes, offsets and scores; screening findings in passages keep
    their kind and place, not the text."""
    answer = dict(record["answer"])
    answer["sources"] = [{**s, "snippet": ""} for s in answer.get("sources", [])]
    answer["screening"] = [{**f, "text": ""} if f.get("where") == "passage" else f
                           for f in answer.get("screening", [])]
    return {**record, "answer": answer, "messages": []}


def _masked(value: Any, detector: Any) -> Any:
    """``value`` with personal data masked in every string (one mapping for the record, so
    a name keeps its placeholder across question, answer and prompt); identifiers, hashes
    and settings are left as they are."""
    mapping: dict[str, str] = {}

    def walk(v: Any) -> Any:
        nonlocal mapping
        if isinstance(v, str) and len(v) > 4:
            masked, mapping = detector.mask(v, mapping=mapping)
            return masked
        if isinstance(v, dict):
            if v.get("role") == "system":
                return v  # the fixed system prompt
            return {k: x if k in _TECHNICAL_KEYS else walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    return walk(value)
