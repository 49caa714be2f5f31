"""The HTTP server: native API, OpenAI-compatible API, web chat, health and metrics.

``create_app(workspace)`` builds one FastAPI application around one open Workspace; there
is no module-level state, so tests and several apps in one process do not interfere.
Routes are described at ``/docs`` (OpenAPI). Every error is JSON with a stable ``code``
(``errors.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Literal, Sequence

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from ..answer import Done, Retrieved, Token
from ..conversations import Exchange
from ..errors import FiableError, UnsupportedFormatError
from ..loaders import SUPPORTED_EXTENSIONS
from ..governance.access import OWNER, Principal, can, check, read_scope
from .auth import hash_key
from .bridge import stream_in_thread
from .errors import ApiError, error_body, status_for
from .gate import GenerationGate, QueueFull
from .jobs import IngestJobs
from .metrics import ServerMetrics

__all__ = ["ServerState", "create_app"]

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
_DISCONNECT_CHECK_S = 0.1  # how often a stream looks for a client gone (a few tokens)


@dataclasses.dataclass
class ServerState:
    workspace: Any
    gate: GenerationGate
    metrics: ServerMetrics
    jobs: IngestJobs
    auth: bool


class AskBody(BaseModel):
    question: str = Field(..., description="The question, in plain words.")
    collections: list[str] | None = Field(None, description="Collections to search (all "
                                          "when omitted).")
    top_k: int | None = Field(None, ge=1, le=50)
    stream: bool = Field(False, description="Server-sent events: retrieved, token..., done.")
    experts: bool = Field(False, description="Split the question into its asks and route each "
                          "to the experts that know it (docs/experts.md); `collections` then "
                          "limits the experts.")
    conversation_id: str | None = Field(None, description="Continue this conversation (POST "
                                        "/v1/conversations starts one): a follow-up is "
                                        "understood from the earlier turns, and the answer "
                                        "is stored as the next turn.")


class FeedbackBody(BaseModel):
    trace_id: str = Field(..., min_length=1, max_length=100)
    kind: Literal["rating", "comment", "correction"] | None = Field(
        None, description="What the feedback is (inferred when omitted: a correction, a "
        "rating, else a comment).")
    rating: Literal["up", "down"] | None = None
    reason: str | None = Field(None, max_length=1000, description="Why this rating.")
    comment: str | None = Field(None, max_length=5000)
    correction: str | None = Field(None, max_length=20000,
                                   description="The better answer (PII-masked when stored).")


class PairwiseBody(BaseModel):
    chosen_trace_id: str = Field(..., min_length=1, max_length=100)
    rejected_trace_id: str = Field(..., min_length=1, max_length=100)
    reason: str | None = Field(None, max_length=1000)


class RegenerateOverrides(BaseModel):
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_k: int | None = Field(None, ge=1, le=50)


class RegenerateBody(BaseModel):
    trace_id: str = Field(..., min_length=1, max_length=100,
                          description="The answer to ask again.")
    overrides: RegenerateOverrides = Field(default_factory=RegenerateOverrides)


def state_of(request: Request) -> ServerState:
    return request.app.state.fiable  # type: ignore[no-any-return]


def principal(request: Request) -> Principal:
    """The caller: the owner when auth is off, else its key's principal (rights from the
    access policy, :mod:`fiable.governance.access`). 401 without a valid key."""
    state = state_of(request)
    if not state.auth:
        return OWNER
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "missing_api_key", "this request needs an API key",
                       hint="send the header `Authorization: Bearer <key>`; create a key with "
                       "`fiable keys create NAME`",
                       headers={"WWW-Authenticate": "Bearer"})
    name = state.workspace.store.api_key_name(hash_key(key))
    if name is None:
        raise ApiError(401, "invalid_api_key", "this API key is not valid (unknown or revoked)",
                       hint="check the key, or create a new one with `fiable keys create NAME`",
                       headers={"WWW-Authenticate": "Bearer"})
    return state.workspace.principal(name)  # type: ignore[no-any-return]


def admin(request: Request) -> Principal:
    """The caller, who must be a workspace admin (403 otherwise)."""
    who = principal(request)
    check(state_of(request).workspace.store, who, "admin")
    return who


def visible_trace(workspace: Any, who: Principal, trace_id: str) -> dict[str, Any]:
    """The ask-log record ``trace_id`` if ``who`` asked it or is an admin; 404 otherwise,
    exactly as for an unknown trace (no probing of other people's requests)."""
    found = workspace.store.asks(1, trace_id)
    if found and (found[0].get("principal") == who.name or can(workspace.store, who, "admin")):
        return found[0]  # type: ignore[no-any-return]
    raise ApiError(404, "unknown_trace", f"no answer with trace id {trace_id!r}",
                   hint="use the trace_id returned with one of your answers")


def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


async def answer_events(state: ServerState, request: Request, question: str,
                        collections: list[str] | None, top_k: int | None,
                        overrides: dict[str, Any] | None = None,
                        who: Principal = OWNER, experts: bool = False,
                        conversation: str | None = None,
                        history: Sequence[Exchange] = ()) -> AsyncIterator[Any]:
    """The ask events for one question, holding a generation slot for the whole answer.
    Raises ApiError 503 when the queue is full; stops (cancelling generation) when the
    client disconnects."""
    ws = state.workspace
    try:
        state.metrics.queue_depth.set(state.gate.waiting + 1)
        async with state.gate.slot():
            state.metrics.queue_depth.set(state.gate.waiting)
            state.metrics.generating.inc()
            try:
                events = stream_in_thread(lambda: ws.ask_experts_stream(
                    question, readable=collections, top_k=top_k, overrides=overrides,
                    principal=who) if experts else ws.ask_stream(
                    question, collections=collections, top_k=top_k, overrides=overrides,
                    principal=who, conversation=conversation, history=history))
                checked = time.perf_counter()
                async for event in events:
                    if isinstance(event, Done):
                        state.metrics.observe_answer(event.answer)
                    yield event
                    if time.perf_counter() - checked < _DISCONNECT_CHECK_S:
                        continue
                    checked = time.perf_counter()
                    if await request.is_disconnected():
                        state.metrics.disconnects.inc()
                        logger.info("client disconnected: generation cancelled")
                        await events.aclose()
                        return
            except (asyncio.CancelledError, GeneratorExit):
                # the response was cancelled (client gone): the bridge stops the pipeline
                state.metrics.disconnects.inc()
                raise
            finally:
                state.metrics.generating.dec()
    except QueueFull as exc:
        reason = "timeout" if type(exc).__name__ == "QueueTimeout" else "full"
        state.metrics.rejected.labels(reason).inc()
        raise ApiError(503, "queue_full" if reason == "full" else "queue_timeout",
                       "the model is busy: too many questions are waiting"
                       if reason == "full" else "the question waited too long for the model",
                       hint=f"retry in {exc.retry_after} s",
                       headers={"Retry-After": str(exc.retry_after)}) from None
    finally:
        state.metrics.queue_depth.set(state.gate.waiting)


async def started(events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """``events``, with the first one already read: the stream starts before the response
    does, so a full queue or a bad collection is a proper HTTP error rather than an error
    inside a 200 stream."""
    try:
        first = [await events.__anext__()]
    except StopAsyncIteration:
        first = []

    async def resumed() -> AsyncIterator[Any]:
        for event in first:
            yield event
        async for event in events:
            yield event

    return resumed()


def _safe_name(name: str) -> str:
    base = Path(name or "upload").name
    cleaned = re.sub(r"[^\w.\- ]+", "_", base).strip(" .") or "upload"
    return cleaned[:150]


def create_app(workspace: Any, *, auth: bool = True, slots: int | None = None) -> FastAPI:
    """The application serving ``workspace``. ``auth``: API keys required (``fiable keys``).
    ``slots``: answers generated at once (default 1 for a local model, 4 for a remote
    OpenAI-compatible server)."""
    settings = workspace.settings
    if slots is None:
        slots = 4 if settings.generator == "openai" else 1
    state = ServerState(
        workspace=workspace,
        gate=GenerationGate(slots=slots, capacity=settings.server_queue,
                            timeout=settings.server_timeout),
        metrics=ServerMetrics(),
        jobs=IngestJobs(workspace),
        auth=auth,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info("server ready", extra={"workspace": str(workspace.path), "auth": auth})
        yield
        # graceful shutdown: uvicorn has stopped accepting and drained the requests; finish
        # ingestion jobs (their writes are transactions) before the workspace closes
        await asyncio.get_running_loop().run_in_executor(None, state.jobs.wait)
        logger.info("server stopped")

    app = FastAPI(title="fiable", version=_version(), lifespan=lifespan,
                  description="Answers from your documents, with a citation on every "
                  "sentence. Native API under /v1, OpenAI-compatible /v1/chat/completions "
                  "and /v1/models, web chat at /.")
    app.state.fiable = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        state.metrics.errors.labels(exc.code).inc()
        return JSONResponse(error_body(exc.status, exc.code, exc.message, exc.hint),
                            status_code=exc.status, headers=exc.headers)

    @app.exception_handler(FiableError)
    async def _fiable_error(request: Request, exc: FiableError) -> JSONResponse:
        status = status_for(exc)
        state.metrics.errors.labels(exc.code).inc()
        return JSONResponse(error_body(status, exc.code, exc.message, exc.hint),
                            status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        state.metrics.errors.labels("invalid_request").inc()
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
            for e in exc.errors())
        return JSONResponse(error_body(422, "invalid_request", f"malformed request: {problems}",
                                       "see the request schema at /docs"), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error", extra={"path": request.url.path})
        state.metrics.errors.labels("internal_error").inc()
        return JSONResponse(error_body(500, "internal_error", "the server failed unexpectedly",
                                       "see the server log; please report it"), status_code=500)

    @app.middleware("http")
    async def _measure(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        state.metrics.requests.labels(name, str(response.status_code)).inc()
        state.metrics.request_seconds.labels(name).observe(time.perf_counter() - started)
        return response

    # -- health, metrics, pages ---------------------------------------------------------
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """The store answers and the models load: ready for questions."""
        checks: dict[str, str] = {}
        try:
            await asyncio.to_thread(workspace.store.collections)
            checks["store"] = "ok"
            await asyncio.to_thread(lambda: workspace.embedder.model_id)
            checks["embedder"] = "ok"
        except FiableError as exc:
            checks["error"] = f"{exc.code}: {exc.message}"
            return JSONResponse({"status": "not ready", "checks": checks}, status_code=503)
        return JSONResponse({"status": "ready", "checks": checks,
                             "queue": {"waiting": state.gate.waiting,
                                       "running": state.gate.running}})

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        """Prometheus text exposition."""
        state.metrics.queue_depth.set(state.gate.waiting)
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    async def chat_page() -> Response:
        return _page("index.html")

    @app.get("/admin", include_in_schema=False)
    async def admin_page() -> Response:
        return _page("admin.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        return _page(name)

    # -- questions ----------------------------------------------------------------------
    @app.post("/v1/ask", tags=["questions"])
    async def ask(body: AskBody, request: Request, who: Principal = Depends(principal)) -> Response:
        """Answer a question with cited sentences; ``stream`` for server-sent events."""
        # 404/403 before the queue, not inside a stream
        await asyncio.to_thread(workspace.readable, who, body.collections)
        if body.conversation_id is not None:
            if body.experts:
                raise ApiError(400, "experts_in_conversation", "experts answers are not kept "
                               "in conversations yet", hint="drop `experts` or `conversation_id`")
            await asyncio.to_thread(workspace.conversations.get, body.conversation_id, who.name)
        events = answer_events(state, request, body.question, body.collections, body.top_k,
                               who=who, experts=body.experts, conversation=body.conversation_id)
        if not body.stream:
            async for event in events:
                if isinstance(event, Done):
                    return JSONResponse(event.answer.to_dict())
            raise ApiError(500, "internal_error", "the pipeline ended without an answer")
        stream = await started(events)

        async def body_stream() -> AsyncIterator[bytes]:
            try:
                async for event in stream:
                    if isinstance(event, Retrieved):
                        yield sse("retrieved", {"sources": [dataclasses.asdict(s)
                                                            for s in event.sources]})
                    elif isinstance(event, Token):
                        yield sse("token", {"text": event.text})
                    elif isinstance(event, Done):
                        yield sse("done", event.answer.to_dict())
            except FiableError as exc:
                state.metrics.errors.labels(exc.code).inc()
                yield sse("error", error_body(status_for(exc), exc.code, exc.message, exc.hint))

        return StreamingResponse(body_stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    # -- collections, documents, passages -----------------------------------------------
    @app.get("/v1/collections", tags=["documents"])
    async def collections(who: Principal = Depends(principal)) -> dict[str, Any]:
        items = await asyncio.to_thread(workspace.collections)
        scope = await asyncio.to_thread(read_scope, workspace.store, who)
        items = [c for c in items if scope.allows(c.name)]
        return {"collections": [{"name": c.name, "documents": c.documents, "chunks": c.chunks,
                                 "created_at": c.created_at} for c in items]}

    @app.get("/v1/collections/{name}/documents", tags=["documents"])
    async def documents(name: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        await asyncio.to_thread(check, workspace.store, who, "read", name)
        docs = await asyncio.to_thread(workspace.documents, name)
        return {"collection": name, "documents": [
            {k: v for k, v in dataclasses.asdict(d).items() if k != "pipeline"} for d in docs]}

    @app.get("/v1/chunks/{chunk_id}", tags=["documents"])
    async def chunk(chunk_id: int, who: Principal = Depends(principal)) -> dict[str, Any]:
        """The full text of a cited passage, with where it comes from."""
        found = await asyncio.to_thread(workspace.store.chunks, [chunk_id])
        scope = await asyncio.to_thread(read_scope, workspace.store, who)
        if not found or not scope.allows(found[0].collection):
            raise ApiError(404, "unknown_chunk", f"no passage with id {chunk_id}",
                           hint="passages are replaced when their document is re-ingested; "
                           "ask again")
        c = found[0]
        return {"chunk_id": c.id, "collection": c.collection, "source": c.source,
                "title": c.title, "heading_path": list(c.heading_path),
                "page_start": c.page_start, "page_end": c.page_end, "text": c.text}

    @app.post("/v1/documents", status_code=202, tags=["documents"])
    async def upload(request: Request, files: list[UploadFile] = File(...),
                     collection: str = Form("default"),
                     who: Principal = Depends(principal)) -> dict[str, Any]:
        """Upload files; they are ingested in the background (poll ``/v1/jobs/{id}``)."""
        await asyncio.to_thread(check, workspace.store, who, "write", collection)
        limit = settings.max_file_mb * 1024 * 1024
        for f in files:
            suffix = Path(f.filename or "").suffix.lower()
            if suffix not in SUPPORTED_EXTENSIONS:
                raise UnsupportedFormatError(
                    f"{f.filename}: {suffix or 'no extension'} is not a supported format",
                    path=f.filename,
                    hint=f"upload one of: {', '.join(sorted(SUPPORTED_EXTENSIONS))}")
        job_id, folder = state.jobs.new_folder()
        saved: list[Path] = []
        try:
            for f in files:
                target = folder / _safe_name(f.filename or "upload")
                size = 0
                with target.open("wb") as out:
                    while chunk := await f.read(1024 * 1024):
                        size += len(chunk)
                        if size > limit:
                            raise ApiError(413, "file_too_large",
                                           f"{f.filename}: over the {settings.max_file_mb} MB "
                                           "limit", hint="split the file or raise max_file_mb")
                        out.write(chunk)
                saved.append(target)
        except BaseException:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
            raise
        job = state.jobs.submit(job_id, collection, saved, owner=who.name)
        return job.to_dict()

    @app.get("/v1/jobs/{job_id}", tags=["documents"])
    async def job(job_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        found = state.jobs.get(job_id)
        if found is not None and found.owner != who.name and not await asyncio.to_thread(
                can, workspace.store, who, "admin"):
            found = None  # another's job: answered like an unknown one
        if found is None:
            raise ApiError(404, "unknown_job", f"no ingestion job {job_id!r}",
                           hint="jobs are kept in memory: a restart forgets them")
        return found.to_dict()

    # -- feedback, traces, admin --------------------------------------------------------
    @app.post("/v1/feedback", status_code=201, tags=["feedback"])
    async def feedback(body: FeedbackBody, who: Principal = Depends(principal)) -> dict[str, Any]:
        """A rating, comment or correction on one answer (by its ``trace_id``)."""
        if not (body.rating or body.comment or body.correction):
            raise ApiError(422, "empty_feedback", "feedback needs a rating, a comment or a "
                           "correction", hint='send e.g. {"trace_id": ..., "rating": "up"}')
        await asyncio.to_thread(visible_trace, workspace, who, body.trace_id)
        captured = await capture_feedback({**body.model_dump(), "principal": who.name})
        if not captured.duplicate:
            state.metrics.feedback.labels(body.rating or "none").inc()
        return {"id": captured.id, "trace_id": body.trace_id, "duplicate": captured.duplicate,
                "flagged": list(captured.flagged)}

    async def capture_feedback(record: dict[str, Any]) -> Any:
        from ..feedback.records import capture

        return await asyncio.to_thread(lambda: capture(
            workspace.store, record, pii_detector=workspace.pii_detector))

    @app.post("/v1/feedback/pairwise", status_code=201, tags=["feedback"])
    async def feedback_pairwise(body: PairwiseBody,
                                who: Principal = Depends(principal)) -> dict[str, Any]:
        """Of two answers to the same question, the better one (``chosen_trace_id``)."""
        for trace_id in (body.chosen_trace_id, body.rejected_trace_id):
            await asyncio.to_thread(visible_trace, workspace, who, trace_id)
        captured = await capture_feedback({**body.model_dump(), "kind": "pairwise",
                                           "principal": who.name})
        return {"id": captured.id, "chosen_trace_id": body.chosen_trace_id,
                "rejected_trace_id": body.rejected_trace_id, "duplicate": captured.duplicate}

    @app.post("/v1/regenerate", tags=["feedback"])
    async def regenerate(body: RegenerateBody, request: Request,
                         who: Principal = Depends(principal)) -> Response:
        """Ask a past question again with other settings (``temperature``, ``top_k``); the
        new answer is linked to the first by a ``regeneration`` feedback record."""
        parent = await asyncio.to_thread(visible_trace, workspace, who, body.trace_id)
        if not workspace.settings.log_asks:
            raise ApiError(409, "ask_log_off", "regenerated answers cannot be linked while "
                           "log_asks is off", hint="set log_asks = true")
        sources = (parent.get("answer") or {}).get("sources") or ()
        collections = sorted({s["collection"] for s in sources}) or None
        overrides = body.overrides.model_dump(exclude_none=True)
        top_k = overrides.pop("top_k", None)
        answer = None
        async for event in answer_events(state, request, parent["question"], collections,
                                         top_k, overrides or None, who=who):
            if isinstance(event, Done):
                answer = event.answer
        if answer is None:
            raise ApiError(500, "internal_error", "the pipeline ended without an answer")
        await capture_feedback({"kind": "regeneration", "trace_id": answer.trace_id,
                                "parent_trace_id": body.trace_id, "principal": who.name,
                                "overrides": body.overrides.model_dump(exclude_none=True)})
        return JSONResponse({**answer.to_dict(), "parent_trace_id": body.trace_id})

    @app.get("/v1/traces/{trace_id}", tags=["admin"])
    async def trace(trace_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        """One past request as stored: question, answer, exact prompt, spans."""
        record = await asyncio.to_thread(visible_trace, workspace, who, trace_id)
        record["feedback"] = await asyncio.to_thread(workspace.store.feedback, 20, trace_id)
        return record

    @app.get("/v1/admin/requests", tags=["admin"])
    async def recent(limit: int = 50, who: Principal = Depends(admin)) -> dict[str, Any]:
        """Recent requests, newest first, with outcome, support, latency and feedback."""
        limit = max(1, min(limit, 1000))
        records = await asyncio.to_thread(workspace.store.asks, limit)
        ratings: dict[str, str] = {}
        for f in await asyncio.to_thread(workspace.store.feedback, limit * 4):
            if f.get("rating"):
                ratings.setdefault(f["trace_id"], f["rating"])
        out = []
        for r in records:
            answer = r.get("answer") or {}
            total = (answer.get("timings") or {}).get("total")
            out.append({"trace_id": r["trace_id"], "created_at": answer.get("created_at"),
                        "question": r.get("question"), "abstained": answer.get("abstained"),
                        "support": answer.get("support"),
                        "total_ms": round(total * 1000, 1) if total is not None else None,
                        "generator_model": answer.get("generator_model"),
                        "feedback": ratings.get(r["trace_id"])})
        return {"requests": out}

    @app.get("/v1/admin/drift", tags=["admin"])
    async def drift(who: Principal = Depends(admin)) -> dict[str, Any]:
        """Recent quality and latency against the accepted baseline (``fiable watch``)."""
        try:
            from ..observability.drift import drift_state
        except ImportError:
            raise ApiError(404, "not_available", "drift watch is not available in this "
                           "version") from None
        result = await asyncio.to_thread(drift_state, workspace.store, settings)
        return result.to_dict()  # type: ignore[no-any-return]

    @app.get("/v1/admin/access", tags=["admin"])
    async def access_policy(who: Principal = Depends(admin)) -> dict[str, Any]:
        """The access policy: enforcement, groups, grants (``fiable access list``)."""
        from ..governance.access import describe

        return await asyncio.to_thread(describe, workspace.store)  # type: ignore[no-any-return]

    @app.get("/v1/admin/audit", tags=["admin"])
    async def audit_trail(limit: int = 50, verify: bool = False,
                          who: Principal = Depends(admin)) -> dict[str, Any]:
        """The latest audit records (without the question/answer text) and, with
        ``verify=true``, the chain's verification (``fiable audit verify``)."""
        from ..governance.audit import verify as verify_chain

        limit = max(1, min(limit, 500))

        def latest() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for row in workspace.store.audit_records(0, limit, newest_first=True):
                rows.append({"seq": row["seq"], "at": row["at"], "actor": row["actor"],
                             "action": row["action"], "payload": json.loads(row["payload"]),
                             "erased": row["content"] is None, "hash": row["hash"]})
            return rows

        out: dict[str, Any] = {"records": await asyncio.to_thread(latest)}
        if verify:
            out["verification"] = (await asyncio.to_thread(verify_chain, workspace.store)).to_dict()
        return out

    @app.get("/v1/admin/models", tags=["admin"])
    async def model_inventory(verify: bool = False,
                              who: Principal = Depends(admin)) -> dict[str, Any]:
        """The models in use, each with its model card, files and sha256 (``fiable models
        inventory``); ``verify=true`` re-hashes the files (seconds for a large model)."""
        from ..components import model_dir
        from ..models.inventory import inventory

        models = await asyncio.to_thread(
            inventory, settings, model_dir(settings),
            collections=getattr(workspace, "collection_settings", None), verify=verify)
        return {"models": models, "rehashed": verify}

    from .conversations_api import add_conversation_routes
    from .openai_api import add_openai_routes

    add_openai_routes(app, state)
    add_conversation_routes(app, state)
    return app


def _page(name: str) -> Response:
    path = (WEB_DIR / name).resolve()
    if path.parent != WEB_DIR or not path.is_file():
        raise ApiError(404, "not_found", f"no page {name!r}")
    return FileResponse(path)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fiable")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
