"""fiable: answers from your own documents with small local models, on a CPU, with a
citation on every sentence.

    from fiable import Workspace
    with Workspace.open("ws", create=True) as ws:
        ws.ingest(["docs/"])
        print(ws.ask("How many days of leave do I get?").text)

Names are imported lazily: ``import fiable`` loads no model runtime.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Workspace": "fiable.workspace",
    "Answer": "fiable.answer",
    "AnswerSentence": "fiable.answer",
    "Source": "fiable.answer",
    "Settings": "fiable.settings",
    "IngestReport": "fiable.ingest",
    "FiableError": "fiable.errors",
    "UserError": "fiable.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from .answer import Answer as Answer
    from .answer import AnswerSentence as AnswerSentence
    from .answer import Source as Source
    from .errors import FiableError as FiableError
    from .errors import UserError as UserError
    from .ingest import IngestReport as IngestReport
    from .settings import Settings as Settings
    from .workspace import Workspace as Workspace


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fiable' has no attribute {name!r}")
    return getattr(import_module(module), name)
