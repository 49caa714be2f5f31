"""Stores: where documents, chunks and vectors live (contract in :mod:`fiable.store.base`).

:func:`open_store` picks the implementation the ``store`` setting names: empty for the
workspace's SQLite file, a ``postgresql://`` URL for a PostgreSQL server with pgvector.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .base import Store

__all__ = ["is_postgres_url", "open_store"]

_PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(value: str) -> bool:
    return value.strip().lower().startswith(_PG_SCHEMES)


def open_store(location: str, sqlite_file: Path) -> Store:
    """The store at ``location`` (the ``store`` setting); ``sqlite_file`` when it is empty.

    A location that is neither empty, a ``postgresql://`` URL nor a path ending in ``.db``
    is refused with the accepted forms.
    """
    location = location.strip()
    if is_postgres_url(location):
        from .postgres import PostgresStore

        return PostgresStore(location)
    if location and not location.endswith(".db"):
        raise ConfigError(
            f"store = {location!r} is neither a SQLite file (*.db) nor a PostgreSQL URL",
            hint="leave store empty for the workspace's own SQLite file, or give "
            "postgresql://USER@HOST/DATABASE",
        )
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(location).expanduser() if location else sqlite_file)
