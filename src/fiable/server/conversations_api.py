"""Conversation routes: ``/v1/conversations`` (list, start) and ``/v1/conversations/{id}``
(open with its turns, rename, delete). Every route sees only the caller's own threads; any
other id, someone else's included, is a 404 ``unknown_conversation`` that says nothing of
its existence. ``POST /v1/ask`` with ``conversation_id`` continues a thread."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel, Field

from ..conversations.threads import MAX_TITLE_CHARS
from ..governance.access import Principal
from .app import ServerState, principal

__all__ = ["add_conversation_routes"]


class StartBody(BaseModel):
    title: str = Field("", max_length=MAX_TITLE_CHARS * 4,
                       description="Optional; the first message titles the thread otherwise.")


class RenameBody(BaseModel):
    title: str = Field(..., min_length=1, max_length=MAX_TITLE_CHARS * 4)


def add_conversation_routes(app: FastAPI, state: ServerState) -> None:
    threads = state.workspace.conversations

    @app.get("/v1/conversations", tags=["conversations"])
    async def conversations(limit: int = 50, who: Principal = Depends(principal)
                            ) -> dict[str, Any]:
        """The caller's conversations, last updated first (id, title, times, turns)."""
        limit = max(1, min(limit, 500))
        return {"conversations": await asyncio.to_thread(threads.list, who.name, limit)}

    @app.post("/v1/conversations", status_code=201, tags=["conversations"])
    async def start(body: StartBody | None = None, who: Principal = Depends(principal)
                    ) -> dict[str, Any]:
        """A new, empty conversation of the caller's."""
        return await asyncio.to_thread(threads.start, who.name, body.title if body else "")

    @app.get("/v1/conversations/{conversation_id}", tags=["conversations"])
    async def conversation(conversation_id: str, who: Principal = Depends(principal)
                           ) -> dict[str, Any]:
        """One conversation with its turns: each message, the standalone question answered
        and the answer with its sources, support and trace id (for feedback)."""
        return await asyncio.to_thread(threads.get, conversation_id, who.name)

    @app.patch("/v1/conversations/{conversation_id}", tags=["conversations"])
    async def rename(conversation_id: str, body: RenameBody,
                     who: Principal = Depends(principal)) -> dict[str, Any]:
        thread = await asyncio.to_thread(threads.rename, conversation_id, who.name, body.title)
        return {k: v for k, v in thread.items() if k != "turns"}

    @app.delete("/v1/conversations/{conversation_id}", status_code=204, tags=["conversations"])
    async def delete(conversation_id: str, who: Principal = Depends(principal)) -> Response:
        await asyncio.to_thread(threads.delete, conversation_id, who.name)
        return Response(status_code=204)
