"""A workspace: one directory with a ``fiable.toml`` and, by default, a SQLite database;
with ``store = "postgresql://..."`` the documents and index live on that server instead.

    ws = Workspace.open("my-workspace", create=True)
    ws.ingest(["handbook/"], collection="hr")
    answer = ws.ask("How many days of leave do I get?")
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .answer import Answer, AskEvent, Done
from .ask import AskRequest, ask_events
from .components import make_embedder, make_generator
from .conversations import Conversations, Exchange
from .embedders.base import Embedder
from .errors import AccessDeniedError, WorkspaceError
from .generators.base import Generator
from .governance.access import OWNER, Principal, principal_for, read_scope
from .governance.audit import answer_entry
from .ingest import IngestProgress, IngestReport, TextRecord, ingest_paths, ingest_records
from .retrieval import Hit, hybrid_search, search_options
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
        self._embedders: dict[str, Embedder] = {}  # per-collection embedders, by setting
        self._generator = generator
        self._owns_generator = generator is None
        self._pii: Any = None
        self._otlp: Any = None  # fiable.observability.otlp.OtlpExporter, when otlp_endpoint is set
        self._drift: Any = None  # fiable.observability.drift.DriftWatch, built on first log
        self._model_hashes: dict[str, str | None] | None = None
        self._overrides: dict[str, Any] = {}  # settings given to open(), kept on reloads
        self._runtime: Any = None  # fiable.experts.run.ExpertsRuntime, built on first use
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
        ws = cls(directory, resolved, store, embedder=embedder, generator=generator,
                 collection_settings=_per_collection(directory, settings))
        ws._overrides = dict(settings)
        try:
            ws._audit_settings()
        except BaseException:
            store.close()
            raise
        return ws

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
        if self._runtime is not None:
            self._runtime.close()  # the experts' own generators
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
        """Re-read the per-collection tables of ``fiable.toml`` (after writing them). The
        components the workspace was opened with (embedder, generator, store) stay; tuning
        values come from the file, so written settings take effect."""
        kept = {k: v for k, v in self._overrides.items() if k in _COMPONENT_SETTINGS}
        self.collection_settings = _per_collection(self.path, {**kept, **overrides})

    # -- components ---------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    def embedder_for(self, collection: str) -> Embedder:
        """The embedder of ``collection``: its ``[collections."NAME"]`` ``embedder`` (e.g.
        ``multilingual-e5-small`` for a French collection), else the workspace's."""
        name = self.settings_for([collection]).embedder
        if name == self.settings.embedder:
            return self.embedder
        with self._lock:
            if name not in self._embedders:
                self._embedders[name] = make_embedder(self.settings.replace(embedder=name))
            return self._embedders[name]

    def dense_route(self, collections: Sequence[str] | None
                    ) -> tuple[Embedder, list[tuple[Embedder, list[str]]] | None]:
        """(embedder, dense groups) for a search of ``collections`` (all when None): one
        embedder when they share one (no groups), else one group per embedder model (see
        :func:`fiable.retrieval.hybrid_search`)."""
        if not self.collection_settings:
            return self.embedder, None
        groups = self._embedder_groups(collections)
        if len(groups) <= 1:
            return (groups[0][0] if groups else self.embedder), None
        return groups[0][0], groups

    def _embedder_groups(self, collections: Sequence[str] | None
                         ) -> list[tuple[Embedder, list[str]]]:
        """``collections`` (all when None) grouped by their embedder's model, in order."""
        names = list(collections) if collections else [c.name for c in self.store.collections()]
        groups: dict[str, tuple[Embedder, list[str]]] = {}
        for name in names:
            embedder = self.embedder_for(name)
            groups.setdefault(embedder.model_id, (embedder, []))[1].append(name)
        return list(groups.values())

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
        actor: str = "local",
    ) -> IngestReport:
        """Ingest files and folders into ``collection`` (see :mod:`fiable.ingest`).
        ``executor`` runs load, chunk and embed: ``local`` or ``ray`` (default: the
        ``ingest_executor`` setting; see :mod:`fiable.executors`)."""
        from .executors import open_executor

        settings = self.settings_for([collection])
        with open_executor(executor or settings.ingest_executor, settings,
                           embedder=lambda: self.embedder_for(collection),
                           pii=lambda: self._pii_for(settings)) as runner:
            report = ingest_paths(
                [Path(p) for p in paths], store=self.store, settings=settings,
                collection=collection, sync=sync, progress=progress, executor=runner,
            )
        self._audit_ingest(report, actor)
        self._warn_english_embedder(collection, report)
        return report

    def _warn_english_embedder(self, collection: str, report: IngestReport) -> None:
        """Log a hint when a collection is mostly not English but its embedder is English-only
        (the embedder is never switched silently: its vectors would need re-embedding)."""
        if not (report.added or report.updated):
            return
        languages = self.store.languages([collection])
        model = self.embedder_for(collection).model_id
        if languages and languages[0] != "en" and model.lower().startswith("all-minilm"):
            logger.warning(
                "collection is mostly not in English but its embedder is English-only",
                extra={"collection": collection, "language": languages[0], "embedder": model,
                       "hint": f'set embedder = "multilingual-e5-small" in [collections."'
                               f'{collection}"] of fiable.toml, then `fiable reindex`'})

    def _audit_ingest(self, report: IngestReport, actor: str) -> None:
        if not (report.added or report.updated or report.removed or report.failed):
            return
        changed = {*report.added, *report.updated}
        hashes = {d.source: d.content_hash for d in self.store.documents(report.collection)
                  if d.source in changed}
        self.audit(actor, "ingest", {
            "collection": report.collection,
            "added": [[s, hashes.get(s)] for s in report.added],
            "updated": [[s, hashes.get(s)] for s in report.updated],
            "removed": list(report.removed), "failed": [f.path for f in report.failed],
            "chunks": report.chunks})

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
        report = ingest_records(records, store=self.store, embedder=self.embedder_for(collection),
                                settings=settings, collection=collection, total=total,
                                progress=progress, pii=self._pii_for(settings))
        self._audit_ingest(report, "local")
        self._warn_english_embedder(collection, report)
        return report

    def collections(self) -> list[CollectionInfo]:
        return self.store.collections()

    def documents(self, collection: str) -> list[DocumentInfo]:
        return self.store.documents(collection)

    def delete_documents(self, collection: str, sources: Sequence[str], *,
                         actor: str = "local") -> int:
        removed = self.store.delete_documents(collection, sources)
        self.audit(actor, "delete", {"collection": collection, "sources": list(sources),
                                     "removed": removed})
        return removed

    def reindex(self, collections: Sequence[str] | None = None) -> int:
        """Re-embed every chunk of ``collections`` (all by default) with each collection's
        configured embedder (after changing it)."""
        from .chunking import embedding_text

        done = 0
        for embedder, group in self._embedder_groups(collections):
            done += self.store.reembed(
                lambda rows, e=embedder: e.embed_documents([embedding_text(*r) for r in rows]),
                embedding_model=embedder.model_id, collections=group,
            )
        return done

    # -- governance ---------------------------------------------------------------------
    def principal(self, name: str) -> Principal:
        """The principal ``name`` (an API key's name) with its groups and rights."""
        return principal_for(self.store, name)

    def readable(self, who: Principal, collections: Sequence[str] | None) -> list[str] | None:
        """``collections`` (None: all) narrowed to what ``who`` may read. A name ``who`` may
        not read is reported exactly like one that does not exist; AccessDeniedError when
        ``who`` may read nothing at all."""
        scope = read_scope(self.store, who)
        if scope.collections is None:
            return list(collections) if collections is not None else None
        allowed = scope.restrict(collections, (c.name for c in self.store.collections()))
        if not allowed:
            raise AccessDeniedError(f"{who.name!r} may not read any collection",
                                    hint="an admin can grant a right: fiable access grant "
                                    f"--user {who.name} --collection NAME --right read")
        return allowed

    def audit(self, actor: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Append one administrative act to the audit trail."""
        return self.store.append_audit(actor, action, payload)

    def _model_files(self) -> dict[str, str | None]:
        from .governance.models import model_file_hashes

        with self._lock:
            if self._model_hashes is None:
                self._model_hashes = model_file_hashes(self.settings)
            return self._model_hashes

    def _audit_settings(self) -> None:
        """Record the settings file when it changed since the last record (by any means:
        a command, an editor), without secrets."""
        from .governance.chain import canonical

        path = self.path / SETTINGS_FILE
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        records = self.store.audit_records(0, 1, action="settings", newest_first=True)
        if records and json.loads(records[0]["payload"]).get("file_sha256") == digest:
            return
        self.store.append_audit("local", "settings", {
            "file_sha256": digest, "settings": json.loads(canonical(self.settings.redacted())),
            "collections": {name: json.loads(canonical(c.redacted()))
                            for name, c in sorted(self.collection_settings.items())}})

    def erase_document(self, document: str, *, collection: str | None = None,
                       actor: str = "local") -> Any:
        """Erase one document and every logged trace of it (:mod:`fiable.governance.erase`)."""
        from .governance.erase import erase_document

        return erase_document(self.store, actor=actor, collection=collection, document=document)

    def erase_subject(self, subject: str, *, actor: str = "local") -> Any:
        """Erase every occurrence of a person's name or e-mail (:mod:`fiable.governance.erase`)."""
        from .governance.erase import erase_subject

        return erase_subject(self.store, self.embedder_for, actor=actor, subject=subject)

    # -- questions ----------------------------------------------------------------------
    def search(
        self, query: str, *, collections: Sequence[str] | None = None, k: int | None = None,
        principal: Principal | None = None,
    ) -> list[Hit]:
        """Hybrid search without generation (within what ``principal`` may read)."""
        collections = self.readable(principal or OWNER, collections)
        s = self.settings_for(collections)
        embedder, groups = self.dense_route(collections)
        return hybrid_search(
            self.store, embedder, query, k=k or s.top_k, collections=collections,
            dense_groups=groups, **search_options(s),
        ).hits

    @property
    def conversations(self) -> Conversations:
        """The conversation threads (list, open, rename, delete), as their owners see them;
        ``ask(..., conversation=ID)`` continues one."""
        return Conversations(self.store)

    def ask_stream(
        self,
        question: str,
        *,
        collections: Sequence[str] | None = None,
        top_k: int | None = None,
        overrides: Mapping[str, Any] | None = None,
        principal: Principal | None = None,
        conversation: str | None = None,
        history: Sequence[Exchange] = (),
    ) -> Iterator[AskEvent]:
        """Answer ``question`` as a stream of events: ``Retrieved``, ``Token``..., ``Done``.
        ``overrides`` change settings for this question only (e.g. ``{"verify": "off"}``).
        ``principal`` (default: the owner) limits the search to what it may read
        (:mod:`fiable.governance.access`); every answer is written to the audit trail.

        In a conversation (:mod:`fiable.conversations`), ``question`` is the next message:
        ``conversation`` (a thread id of ``principal``'s) reads the earlier turns from the
        store and records this one; ``history`` gives them instead (an OpenAI ``messages``
        list), stored nowhere. A follow-up is made a standalone question first.

        With ``log_asks`` the request is stored (:meth:`history`, ``fiable traces``) with its
        trace, and the drift watch counts it; with ``otlp_endpoint`` the trace is exported."""
        who = principal or OWNER
        collections = self.readable(who, collections)
        exporter = self.otlp_exporter  # a missing extra fails here, before any work
        if conversation is not None:
            history = self.conversations.history(conversation, who.name)
        settings, question = self._prepare(question, collections, overrides)
        embedder, groups = self.dense_route(collections)
        events = ask_events(
            AskRequest(question, collections, top_k, history=tuple(history)), store=self.store,
            embedder=embedder, generator_factory=lambda: self.generator, settings=settings,
            dense_groups=groups,
        )
        for event in events:
            if isinstance(event, Done):
                if conversation is not None:
                    event = dataclasses.replace(event, answer=dataclasses.replace(
                        event.answer, conversation_id=conversation))
                self._record_answer(event, settings, who, exporter)
                if conversation is not None:
                    # the owner's own exchange, kept as the pipeline saw it (the question after
                    # the `pii` policy; pii_logs is for logs: masking a thread would garble it
                    # when reopened and for the next follow-up); no passage text without
                    # trace_content
                    self.conversations.record(
                        conversation, who.name, event.answer,
                        mask=None if settings.trace_content else _without_content)
            yield event

    def _prepare(self, question: str, collections: Sequence[str] | None,
                 overrides: Mapping[str, Any] | None) -> tuple[Settings, str]:
        """The settings of a question on ``collections`` (with ``overrides``) and the
        question as the pipeline sees it (personal data masked or refused per ``pii``)."""
        settings = self.settings_for(collections)
        if overrides:
            settings = settings.replace(**overrides)
        if settings.pii != "keep":
            from .trust.pii import apply_policy

            question = apply_policy(question, settings.pii, self.pii_detector)[0]  # type: ignore[arg-type]
        return settings, question

    def _record_answer(self, done: Done, settings: Settings, who: Principal,
                       exporter: Any) -> None:
        """Export the answer's trace, log it (``log_asks``; the drift watch counts it) and
        append it to the audit trail."""
        if exporter is not None and done.trace:
            exporter.export(done.trace)
        record = self._ask_record(done, settings, who)
        if settings.log_asks:
            self.store.log_ask(record)
            self._drift_watch().observe()
        payload, content = answer_entry(record, self._model_files())
        self.store.append_audit(who.name, "answer", payload, content)

    def _ask_record(self, done: Done, settings: Settings,
                    who: Principal = OWNER) -> dict[str, Any]:
        """The ask-log record of one request: question, answer, exact prompt, settings and
        trace (spans and passages, ids and scores). Without ``trace_content`` it keeps no
        prompt nor passage text; with ``pii_logs = "mask"`` personal data is masked."""
        trace = done.trace
        record: dict[str, Any] = {
            "trace_id": done.answer.trace_id,
            "principal": who.name,
            "question": done.answer.question,
            "answer": done.answer.to_dict(),
            "messages": list(done.messages),
            "settings": settings.redacted(),
            "trace": {"started_at": trace.get("started_at"), "spans": trace.get("spans", []),
                      "passages": trace.get("passages", []),
                      "content": settings.trace_content},
        }
        return self._logged(record, settings)

    def _logged(self, record: dict[str, Any], settings: Settings) -> dict[str, Any]:
        """A record as it may be logged: without passage text unless ``trace_content``,
        personal data masked with ``pii_logs = "mask"``."""
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
        principal: Principal | None = None,
        conversation: str | None = None,
        history: Sequence[Exchange] = (),
    ) -> Answer:
        """Answer ``question`` with a citation on every supported sentence (the next message
        of ``conversation`` or after ``history``: see :meth:`ask_stream`)."""
        for event in self.ask_stream(question, collections=collections, top_k=top_k,
                                     overrides=overrides, principal=principal,
                                     conversation=conversation, history=history):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("ask pipeline ended without an answer")  # pragma: no cover

    def history(self, limit: int = 20, trace_id: str | None = None) -> list[dict[str, Any]]:
        """Past questions with their answers and exact prompts, newest first."""
        return self.store.asks(limit=limit, trace_id=trace_id)

    # -- experts (docs/experts.md) ------------------------------------------------------
    def experts(self) -> list[Any]:
        """The experts declared in ``fiable.toml`` (:class:`fiable.experts.Expert`)."""
        from .experts.config import read_experts

        return read_experts(self.path)

    def add_expert(self, expert: Any) -> None:
        """Add or replace an expert (:class:`fiable.experts.Expert`) in ``fiable.toml``;
        UnknownCollectionError when it names a collection the workspace lacks."""
        from .experts.config import check_collections, write_expert

        check_collections([expert], [c.name for c in self.store.collections()])
        write_expert(self.path, expert)

    def experts_runtime(self) -> Any:
        """The experts' gate and their own generators (:class:`fiable.experts.run.
        ExpertsRuntime`), built on first use and closed with the workspace."""
        from .experts.run import ExpertsRuntime

        embedder = self.embedder  # takes self._lock itself
        with self._lock:
            if self._runtime is None:
                self._runtime = ExpertsRuntime(self.store, embedder, make_generator,
                                               embedder_for=self.embedder_for)
            return self._runtime

    def _experts_readable(self, readable: Any, principal: Principal | None) -> Any:
        """``readable`` (None: all), narrowed to what ``principal`` may read when given."""
        if principal is not None:
            return self.readable(principal, None if readable is None else list(readable))
        if readable:
            self.store.require_collections(list(readable))  # a misspelt name is an error
        return readable

    def route(self, question: str, *, readable: Any = None,
              principal: Principal | None = None,
              overrides: Mapping[str, Any] | None = None) -> tuple[Any, list[Any]]:
        """How ``--experts`` would split ``question`` and route each part, without
        answering (:func:`fiable.experts.run.route_question`): ``(Split, [GateResult])``."""
        from .experts.config import check_collections
        from .experts.run import route_question

        settings = self.settings.replace(**overrides) if overrides else self.settings
        experts = self.experts()
        readable = self._experts_readable(readable, principal)
        names = [c.name for c in self.store.collections()]
        check_collections(experts, names, shown=names if readable is None
                          else [n for n in names if n in set(readable)])
        return route_question(question, experts, self.experts_runtime().gate, settings,
                              readable=readable, embedder=self.embedder,
                              split_generator=lambda: self.generator)

    def ask_experts_stream(
        self,
        question: str,
        *,
        readable: Any = None,
        principal: Principal | None = None,
        top_k: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Iterator[AskEvent]:
        """Answer ``question`` with the experts (:mod:`fiable.experts.run`): split into its
        asks, each routed by the gate among the experts whose collections are all in
        ``readable`` (None: all; or what ``principal`` may read), answered in parallel,
        merged. Events: ``Retrieved`` (all parts' sources), one ``Token``, ``Done``.
        Logged, exported and audited like :meth:`ask_stream`."""
        from .experts.run import ask_experts_events

        who = principal or OWNER
        readable = self._experts_readable(readable, principal)
        exporter = self.otlp_exporter
        settings, question = self._prepare(question, None, overrides)

        def part_settings(expert: Any, collections: Sequence[str] | None) -> Settings:
            s = self.settings_for(collections)
            if overrides:
                s = s.replace(**overrides)
            return s.replace(**expert.overrides()) if expert is not None else s

        events = ask_experts_events(
            question, experts=self.experts(), runtime=self.experts_runtime(),
            store=self.store, embedder=self.embedder, settings=settings,
            part_settings=part_settings, default_generator=lambda: self.generator,
            readable=readable, top_k=top_k, dense_route=self.dense_route)
        for event in events:
            if isinstance(event, Done):
                self._record_answer(event, settings, who, exporter)
            yield event

    def ask_experts(
        self,
        question: str,
        *,
        readable: Any = None,
        principal: Principal | None = None,
        top_k: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Answer:
        """:meth:`ask_experts_stream`'s final answer (``answer.parts``: one per sub-question)."""
        for event in self.ask_experts_stream(question, readable=readable, principal=principal,
                                             top_k=top_k, overrides=overrides):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("experts pipeline ended without an answer")  # pragma: no cover


_COMPONENT_SETTINGS = frozenset({"store", "embedder", "generator", "generator_url",
                                 "generator_model", "model_dir"})


def _per_collection(directory: Path, overrides: Mapping[str, Any]) -> dict[str, Settings]:
    tables = read_collection_settings(directory / SETTINGS_FILE)
    return {name: load_settings(directory, overrides=overrides, collection=name)
            for name in tables}


# Not masked in the ask log: identifiers and settings, and the sources' snippets, which are
# document text (the `pii` setting governs documents at ingest) repeated from the prompt.
# The trace holds no content either: timings, counts, scores, ids and hashes.
_TECHNICAL_KEYS = frozenset({"trace_id", "content_hash", "created_at", "prompt_version",
                             "embedder_model", "generator_model", "settings", "timings", "usage",
                             "sources", "cited_sources", "checks", "trace", "disclosure"})


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
