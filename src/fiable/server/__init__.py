"""``fiable serve``: the HTTP API (native and OpenAI-compatible), the web chat, metrics.

    from fiable import Workspace
    from fiable.server import create_app
    app = create_app(Workspace.open("ws"))      # an ASGI app: uvicorn, gunicorn, tests

Needs the ``server`` extra (FastAPI, uvicorn, prometheus-client).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(workspace: Any, *, auth: bool = True, slots: int | None = None) -> Any:
    """The FastAPI application serving ``workspace`` (see :mod:`fiable.server.app`)."""
    try:
        from .app import create_app as build
    except ImportError as exc:
        from ..errors import ConfigError

        raise ConfigError(f"the server needs FastAPI and prometheus-client ({exc.name} is "
                          "missing)", hint="pip install 'fiable[server]'") from None
    return build(workspace, auth=auth, slots=slots)
