"""Threads: a conversation has an id, an owner and its turns, kept in the store.

Only the owner (the principal who started it) opens, lists, renames, deletes or continues
a thread; for anyone else a thread does not exist (:class:`UnknownConversationError`, the
same answer as for an id never used, so a guessed id reveals nothing). Each turn keeps the
message, the standalone question answered and the answer with its sources and support, as
the pipeline saw them (the question after the ``pii`` policy; ``pii_logs`` masks the logs,
not the owner's own thread, which would be garbled when reopened and for the next
follow-up); the ask log and the audit trail keep the request itself under the turn's trace
id, and erasure reaches the turns too.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from ..answer import Answer
from ..errors import UserError
from ..store._common import missing_conversation
from .followup import Exchange

__all__ = ["Conversations", "MAX_TITLE_CHARS"]

MAX_TITLE_CHARS = 120
_ID_CHARS = frozenset("0123456789abcdef")


class Conversations:
    """The threads of one workspace's store, as their owners see them."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def start(self, owner: str, title: str = "") -> dict[str, Any]:
        """A new, empty thread of ``owner`` (its title: ``title``, else the first message)."""
        return self._store.create_conversation(uuid.uuid4().hex, owner, _title(title))

    def list(self, owner: str, limit: int = 50) -> list[dict[str, Any]]:
        """``owner``'s threads (id, title, times, number of turns), last updated first."""
        return self._store.conversations(owner=owner, limit=limit)

    def get(self, conversation_id: str, owner: str) -> dict[str, Any]:
        """The thread with its turns, if ``owner``'s; else UnknownConversationError."""
        thread = None
        if _well_formed(conversation_id):
            thread = self._store.conversation(conversation_id)
        if thread is None or thread["owner"] != owner:
            raise missing_conversation(conversation_id)
        return thread

    def rename(self, conversation_id: str, owner: str, title: str) -> dict[str, Any]:
        self.get(conversation_id, owner)
        if not title.strip():
            raise UserError("the new title is empty", hint="give the conversation a title in words")
        self._store.rename_conversation(conversation_id, _title(title))
        return self.get(conversation_id, owner)

    def delete(self, conversation_id: str, owner: str) -> None:
        self.get(conversation_id, owner)
        self._store.delete_conversation(conversation_id)

    def history(self, conversation_id: str, owner: str) -> list[Exchange]:
        """The thread's earlier turns as the follow-up rewrite reads them (questions as
        answered, answer texts; refusals included, they are part of the conversation)."""
        return [Exchange(t.get("question") or t.get("message") or "",
                         (t.get("answer") or {}).get("text") or "")
                for t in self.get(conversation_id, owner)["turns"]]

    def record(self, conversation_id: str, owner: str, answer: Answer,
               mask: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> int:
        """Append ``answer`` as the thread's next turn (the thread titled by its first
        message when it has no title yet); return the turn id."""
        thread = self.get(conversation_id, owner)
        followup = answer.followup or {}
        record: dict[str, Any] = {
            "trace_id": answer.trace_id,
            "principal": owner,
            "message": followup.get("message") or answer.question,
            "question": answer.question,
            "method": followup.get("method", "first"),
            "answer": answer.to_dict(),
        }
        if mask is not None:
            record = mask(record)
        turn = self._store.add_turn(conversation_id, record)
        if not thread["title"]:
            self._store.rename_conversation(conversation_id, _title(record["message"]))
        return turn


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TITLE_CHARS else text[:MAX_TITLE_CHARS - 1] + "…"


def _well_formed(conversation_id: str) -> bool:
    return (isinstance(conversation_id, str) and 0 < len(conversation_id) <= 64
            and set(conversation_id) <= _ID_CHARS)
