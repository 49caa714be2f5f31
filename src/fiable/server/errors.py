"""HTTP errors: one JSON shape for every failure, with a stable ``code``.

    {"error": {"code": "unknown_collection", "message": "...", "hint": "...",
               "type": "invalid_request_error"}}

``type`` follows OpenAI's convention, so the official client raises its usual exceptions.
FiableError subclasses map to a status by class; anything else is a 500 whose details go
to the log, never to the client.
"""

from __future__ import annotations

from typing import Any

from ..errors import (AccessDeniedError, EmbeddingModelMismatchError, FiableError, FileTooLargeError,
                      InputTooLargeError, InvalidFeedbackError, LoadError, ModelError,
                      StoreError, UnknownCollectionError, UnknownConversationError,
                      UnknownTraceError,
                      UnsupportedFormatError, UserError)

__all__ = ["ApiError", "error_body", "status_for"]

_STATUS: tuple[tuple[type[FiableError], int], ...] = (
    (AccessDeniedError, 403),
    (UnknownCollectionError, 404),
    (UnknownTraceError, 404),
    (UnknownConversationError, 404),
    (InvalidFeedbackError, 422),
    (InputTooLargeError, 413),
    (FileTooLargeError, 413),
    (UnsupportedFormatError, 415),
    (LoadError, 422),
    (UserError, 400),
    (EmbeddingModelMismatchError, 409),
    (ModelError, 503),
    (StoreError, 503),
)


class ApiError(Exception):
    """An HTTP error raised by the server itself (auth, queue, unknown ids...)."""

    def __init__(self, status: int, code: str, message: str, *, hint: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint
        self.headers = headers or {}


def status_for(exc: FiableError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(status: int, code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status in (401, 403):
        kind = "authentication_error"
    return {"error": {"code": code, "message": message, "hint": hint, "type": kind}}
