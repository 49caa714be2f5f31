"""OpenAI-compatible endpoints: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Models name what to search: ``fiable`` (every collection) or ``fiable/<collection>``. The
question is the last user message; the ``messages`` before it are the conversation (as
every OpenAI client sends it): a follow-up ("and below that amount?") is made a standalone
question from them (:mod:`fiable.conversations`). Earlier assistant messages are the
client's to send and may be forged: they only ever help word the question, never count as
evidence; each answer stands on its own retrieved sources. Nothing is stored as a thread
(``POST /v1/ask`` with ``conversation_id`` does that). Citations, per-sentence support and the AI disclosure travel in an extra
``fiable`` field of the response (and of the last stream chunk), which OpenAI clients keep
as an extra attribute, so the official client works unchanged.

A stream's content is the final answer, ``Answer.text``, and nothing else: the pipeline may
change the text after generation (markers placed, echoed instructions removed, a refusal
after verification) and an OpenAI client cannot take back text it has shown, so the content
is sent once the answer is final; while the model writes, SSE comments keep the connection
alive (clients ignore them). ``POST /v1/ask`` streams the raw tokens for interfaces that can
replace them (docs/server.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from contextlib import aclosing
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..answer import Answer, Done
from ..conversations import Exchange
from ..errors import FiableError
from ..governance.access import Principal, read_scope
from .app import ServerState, answer_events, principal, sse, started
from .errors import ApiError, error_body, status_for

__all__ = ["KEEP_ALIVE_S", "add_openai_routes"]

MODEL = "fiable"
#: Seconds between the SSE comments sent while the answer is being written.
KEEP_ALIVE_S = 5.0


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens...: accepted, unused
    model: str = Field(MODEL, description="`fiable` or `fiable/<collection>`.")
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return content or ""


def _history(messages: list[ChatMessage]) -> list[Exchange]:
    """The turns before the last user message: each user message with the assistant reply
    that follows it (empty when none); system and tool messages are not turns."""
    turns: list[Exchange] = []
    for m in messages:
        if m.role == "user":
            turns.append(Exchange(_text(m.content).strip(), ""))
        elif m.role == "assistant" and turns and not turns[-1].answer:
            turns[-1] = Exchange(turns[-1].question, _text(m.content).strip())
    return [t for t in turns if t.question]


def _extra(answer: Answer) -> dict[str, Any]:
    return {"trace_id": answer.trace_id, "text": answer.text, "abstained": answer.abstained,
            "abstain_code": answer.abstain_code, "explanation": answer.explanation,
            "abstain_reason": answer.abstain_reason, "support": answer.support,
            "notice": answer.notice, "generator_model": answer.generator_model,
            "embedder_model": answer.embedder_model, "disclosure": answer.disclosure,
            "cited_sources": [s.number for s in answer.cited_sources],
            "sentences": [dataclasses.asdict(s) for s in answer.sentences],
            "sources": [dataclasses.asdict(s) for s in answer.sources],
            "followup": answer.followup}


def _usage(answer: Answer) -> dict[str, int]:
    usage = answer.usage or {}
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


async def _kept_alive(events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """``events``, with a None between two of them each time ``KEEP_ALIVE_S`` seconds pass
    without one (the prompt being read, tokens held back, verification)."""
    next_event: asyncio.Future[Any] = asyncio.ensure_future(events.__anext__())
    try:
        while True:
            done, _ = await asyncio.wait({next_event}, timeout=KEEP_ALIVE_S)
            if not done:
                yield None
                continue
            try:
                event = next_event.result()
            except StopAsyncIteration:
                return
            yield event
            next_event = asyncio.ensure_future(events.__anext__())
    finally:
        if not next_event.done():
            next_event.cancel()


def add_openai_routes(app: FastAPI, state: ServerState) -> None:
    workspace = state.workspace

    def readable_names(who: Principal) -> list[str]:
        scope = read_scope(workspace.store, who)
        return [c.name for c in workspace.store.collections() if scope.allows(c.name)]

    def collections_for(model: str, who: Principal) -> list[str] | None:
        if model == MODEL:
            return None
        prefix = MODEL + "/"
        name = model[len(prefix):] if model.startswith(prefix) else None
        known = set(readable_names(who))
        if name is None or name not in known:
            listing = ", ".join([MODEL] + [prefix + n for n in sorted(known)])
            raise ApiError(404, "unknown_model", f"unknown model {model!r}",
                           hint=f"models here: {listing} (GET /v1/models)")
        return [name]

    @app.get("/v1/models", tags=["openai"])
    async def models(who: Principal = Depends(principal)) -> dict[str, Any]:
        """``fiable`` (all collections) and ``fiable/<collection>`` for each collection."""
        created = int(time.time())
        names = [MODEL] + [f"{MODEL}/{n}" for n in await asyncio.to_thread(readable_names, who)]
        return {"object": "list", "data": [
            {"id": n, "object": "model", "created": created, "owned_by": "fiable"}
            for n in names]}

    @app.post("/v1/chat/completions", tags=["openai"])
    async def chat(body: ChatBody, request: Request,
                   who: Principal = Depends(principal)) -> Response:
        """An answer from the documents, in OpenAI's chat completion format."""
        collections = await asyncio.to_thread(collections_for, body.model, who)
        await asyncio.to_thread(workspace.readable, who, collections)
        users = [i for i, m in enumerate(body.messages) if m.role == "user"]
        question = _text(body.messages[users[-1]].content).strip() if users else ""
        if not question:
            raise ApiError(400, "no_question", "no user message with text to answer",
                           hint='send messages: [{"role": "user", "content": "..."}]')
        history = _history(body.messages[:users[-1]])
        events = answer_events(state, request, question, collections, None, who=who,
                               history=history)
        created = int(time.time())
        if not body.stream:
            async for event in events:
                if isinstance(event, Done):
                    a = event.answer
                    return JSONResponse({
                        "id": f"chatcmpl-{a.trace_id}", "object": "chat.completion",
                        "created": created, "model": body.model,
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": a.text}}],
                        "usage": _usage(a), "fiable": _extra(a)})
            raise ApiError(500, "internal_error", "the pipeline ended without an answer")
        resumed = await started(events)

        def chunk(delta: dict[str, Any], finish: str | None = None,
                  **extra: Any) -> dict[str, Any]:
            return {"id": "chatcmpl-stream", "object": "chat.completion.chunk",
                    "created": created, "model": body.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

        async def stream() -> AsyncIterator[bytes]:
            yield sse(None, chunk({"role": "assistant", "content": ""}))
            try:
                async with aclosing(_kept_alive(resumed)) as events:
                    async for event in events:
                        if event is None:  # an SSE comment, which clients skip
                            yield b": writing the answer\n\n"
                        elif isinstance(event, Done):
                            a = event.answer  # the final text only: it cannot be taken back
                            yield sse(None, chunk({"content": a.text}))
                            yield sse(None, chunk({}, "stop", usage=_usage(a),
                                                  fiable=_extra(a)))
            except FiableError as exc:
                yield sse(None, error_body(status_for(exc), exc.code, exc.message, exc.hint))
            yield b"data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
