"""Executors: where ingestion's load -> PII policy -> chunk -> embed steps run.

The contract is :class:`fiable.ingest.FileExecutor`; :mod:`fiable.ingest` keeps deciding
what is skipped, replaced, written and reported, whichever executor prepares the files.

| name | where | |
|---|---|---|
| ``local`` (default) | this process, the workspace's embedder | :class:`fiable.ingest.LocalExecutor` |
| ``ray`` | Ray actors, one embedder each, on a local or remote cluster | :class:`fiable.executors.ray.RayExecutor` (the ``ray`` extra) |

    with open_executor("ray", settings, embedder=lambda: ws.embedder) as executor:
        ingest_paths(paths, store=ws.store, settings=settings, executor=executor)
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Callable, Iterator

from ..embedders.base import Embedder
from ..errors import ConfigError
from ..ingest import FileExecutor, LocalExecutor
from ..settings import Settings

__all__ = ["EXECUTORS", "FileExecutor", "LocalExecutor", "open_executor"]

ExecutorFactory = Callable[[Settings, Callable[[], Embedder], Callable[[], Any]],
                           AbstractContextManager[FileExecutor]]


def _local(settings: Settings, embedder: Callable[[], Embedder],
           pii: Callable[[], Any]) -> AbstractContextManager[FileExecutor]:
    return nullcontext(LocalExecutor(embedder(), settings, pii()))


@contextmanager
def _ray(settings: Settings, embedder: Callable[[], Embedder],
         pii: Callable[[], Any]) -> Iterator[FileExecutor]:
    from .ray import RayExecutor  # ray itself is imported when the executor starts

    with RayExecutor(settings) as executor:  # its actors build their own embedder and detector
        yield executor


EXECUTORS: dict[str, ExecutorFactory] = {"local": _local, "ray": _ray}


def open_executor(
    name: str,
    settings: Settings,
    *,
    embedder: Callable[[], Embedder],
    pii: Callable[[], Any] = lambda: None,
) -> AbstractContextManager[FileExecutor]:
    """The executor ``name`` (see the table above), started; stopped when the ``with``
    block ends. ``embedder`` and ``pii`` give this process's embedder and PII detector,
    called only by executors that run here."""
    factory = EXECUTORS.get(name)
    if factory is None:
        raise ConfigError(f"unknown ingest executor {name!r}",
                          hint=f"use one of: {', '.join(EXECUTORS)}")
    return factory(settings, embedder, pii)
