"""The sha256 of the model files a workspace answers with, for the audit trail.

Catalog models are pinned in :mod:`fiable.models.catalog` and checked when pulled, so the
pinned hash is the file's; a model given by path is hashed once; a remote endpoint has no
file (``None``: the audit record still names the endpoint's model id).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models.catalog import CATALOG
from ..models.store import file_sha256

__all__ = ["model_file_hashes"]


def _hash_of(name: str) -> str | None:
    spec = CATALOG.get(name)
    if spec is not None:
        return ",".join(f"{m.name}={m.sha256}" for m in spec.members) or None
    path = Path(name).expanduser()
    if name and path.is_file():
        return file_sha256(path)[0]
    return None


def model_file_hashes(settings: Any) -> dict[str, str | None]:
    """``{setting value: sha256 or None}`` for the configured generator and embedder."""
    out: dict[str, str | None] = {}
    for name in (settings.generator, settings.embedder):
        if name in ("fake", "openai", "hashing"):
            out[name] = None
            continue
        out[name] = _hash_of(name)
    if settings.generator == "openai":
        out[f"openai:{settings.generator_model or '?'}"] = None
    return out
