"""Experts: who knows what. Declared in ``fiable.toml`` as ``[experts."NAME"]`` tables, or
through :func:`write_expert` (``fiable experts add``).

    [experts."science"]
    description = "Biomedical research claims: medicine, genes, clinical trials."
    collections = ["scifact"]
    prompt_dir = "prompts/science"     # optional: templates overriding the built-in ones
    generator = "qwen2.5-coder-1.5b"   # optional: a catalog name, a .gguf path or "openai"
    generator_url = "http://gpu-box:8000/v1"   # with generator = "openai"
    generator_model = "qwen2.5-7b"
    verify = "abstain"                 # optional: flag / abstain / off
    support_threshold = 0.2            # optional

An expert is a description (what the gate compares questions with), the collections it
searches, and optionally its own prompt templates, generator and verification policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ConfigError, UnknownCollectionError
from ..settings import SETTINGS_FILE, read_toml, replace_table

__all__ = ["Expert", "check_collections", "expert_from_table", "read_experts", "write_expert"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERIFY = ("flag", "abstain", "off")
_KEYS = ("description", "collections", "prompt_dir", "generator", "generator_url",
         "generator_model", "verify", "support_threshold")


@dataclass(frozen=True, slots=True)
class Expert:
    """One expert. Empty strings / None mean "the workspace's setting"."""

    name: str
    description: str
    collections: tuple[str, ...]
    prompt_dir: str = ""
    generator: str = ""
    generator_url: str = ""
    generator_model: str = ""
    verify: str = ""
    support_threshold: float | None = None

    def overrides(self) -> dict[str, Any]:
        """The settings this expert changes for the parts it answers."""
        out: dict[str, Any] = {}
        for key in ("prompt_dir", "generator", "generator_url", "generator_model", "verify"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.support_threshold is not None:
            out["support_threshold"] = self.support_threshold
        return out

    def to_table(self) -> dict[str, Any]:
        """The ``[experts."NAME"]`` table (only the keys that are set)."""
        table: dict[str, Any] = {"description": self.description,
                                 "collections": list(self.collections)}
        table.update(self.overrides())
        return table


def _bad(source: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{source}: {problem}", hint=fix)


def expert_from_table(name: str, table: Mapping[str, Any], *, source: str = "arguments") -> Expert:
    """Validate one expert's table (ConfigError naming the key and the fix)."""
    where = f'{source} [experts."{name}"]'
    if not _NAME.match(name):
        raise _bad(where, f"the expert name {name!r} is not valid",
                   "use letters, digits, '_', '-' or '.', at most 64 characters")
    if not isinstance(table, Mapping):
        raise _bad(where, "must be a table", f'write [experts."{name}"] then key = value lines')
    extra = sorted(set(table) - set(_KEYS))
    if extra:
        raise _bad(where, f"unknown key(s): {', '.join(extra)}", f"known keys: {', '.join(_KEYS)}")
    description = table.get("description", "")
    if not isinstance(description, str) or not description.strip():
        raise _bad(where, "description is missing or empty",
                   "describe in a sentence what this expert knows (the gate compares questions "
                   "with it)")
    collections = table.get("collections")
    if isinstance(collections, str):
        collections = [collections]
    if (not isinstance(collections, (list, tuple)) or not collections
            or not all(isinstance(c, str) and c.strip() for c in collections)):
        raise _bad(where, "collections must be a non-empty list of collection names",
                   'e.g. collections = ["hr"]')
    strings = {}
    for key in ("prompt_dir", "generator", "generator_url", "generator_model", "verify"):
        value = table.get(key, "")
        if not isinstance(value, str):
            raise _bad(where, f"{key} must be a string", f"write {key} = \"...\"")
        strings[key] = value.strip()
    if strings["verify"] and strings["verify"] not in _VERIFY:
        raise _bad(where, f"verify must be one of {', '.join(_VERIFY)}, got {strings['verify']!r}",
                   f"use one of: {', '.join(_VERIFY)}")
    if strings["generator"] == "openai" and not strings["generator_model"]:
        raise _bad(where, "generator = \"openai\" needs generator_model",
                   "set generator_model (and generator_url) for this expert")
    threshold = table.get("support_threshold")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
                or not 0.0 <= float(threshold) <= 1.0:
            raise _bad(where, f"support_threshold must be a number in [0, 1], got {threshold!r}",
                       "e.g. support_threshold = 0.2")
        threshold = float(threshold)
    return Expert(name=name, description=" ".join(description.split()),
                  collections=tuple(dict.fromkeys(c.strip() for c in collections)),
                  support_threshold=threshold, **strings)


def read_experts(workspace_dir: Path) -> list[Expert]:
    """The experts of a workspace's ``fiable.toml``, in file order (empty when none)."""
    path = workspace_dir / SETTINGS_FILE
    data = read_toml(path)
    tables = data.get("experts", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'experts' must be a table of tables",
                          hint='write [experts."NAME"] sections')
    return [expert_from_table(name, table, source=str(path)) for name, table in tables.items()]


def check_collections(experts: Sequence[Expert], known: Sequence[str],
                      shown: Sequence[str] | None = None) -> None:
    """UnknownCollectionError when an expert names a collection the store lacks; the hint
    lists ``shown`` (default ``known``: pass the caller's readable ones)."""
    have = set(known)
    for expert in experts:
        missing = [c for c in expert.collections if c not in have]
        if missing:
            raise UnknownCollectionError(
                f"expert {expert.name!r} searches {', '.join(map(repr, missing))}, which "
                "the workspace does not have",
                hint="ingest into that collection first, or fix the expert's collections "
                     f"(collections: {', '.join(sorted(shown if shown is not None else have)) or 'none'})")


def write_expert(workspace_dir: Path, expert: Expert) -> Path:
    """Add or replace the ``[experts."NAME"]`` table of the workspace's ``fiable.toml``,
    keeping the rest of the file as it is (written to a temporary file, then renamed)."""
    expert_from_table(expert.name, expert.to_table())  # validate before touching the file
    return replace_table(workspace_dir, "experts", expert.name, expert.to_table())
