"""The model inventory of a workspace: each model its settings use, with its card and hashes.

``inventory(settings, model_dir)`` lists the embedder and the generator the workspace's
settings name (and those of any other settings given: per-collection tables, experts...),
one entry per distinct model, each with where it is used, its model card (catalog models),
where its files are, and their sha256. The hashes come from the manifest written at pull
time (cheap); ``verify=True`` re-hashes every file (catalog models and user-given files).
A model fiable cannot vouch for (a user-given file, a remote OpenAI-compatible server) is
listed with what can be known and ``provenance`` saying so. Nothing is fetched or loaded.

Entry shape (JSON-ready; see ``docs/governance.md``)::

    {"role": "generator" | "embedder", "setting": str, "used_by": [str], "uses": [str],
     "source": "catalog" | "local_file" | "remote_endpoint" | "test_fake" | "unknown",
     "model_id": str | None, "display_name": str, "provenance": str, "card": dict | None,
     "location": str | None, "pulled": bool | None, "pulled_at": str | None,
     "pulled_packages": [str] | None,
     "files": [{"name", "path", "size", "expected_sha256", "sha256", "sha256_from", "ok"}],
     "verified": bool | None, "problems": [str]}

``verified`` is True when the files were re-hashed and match the hashes pinned for them,
False on a mismatch, None when not re-hashed or nothing pins the file. Remote endpoints
also carry ``api_key_set`` (never the key).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from fiable.errors import ModelError
from fiable.models.cards import CARDS, CardText, model_card
from fiable.models.catalog import CATALOG, Catalog
from fiable.models.store import file_sha256, read_manifest
from fiable.models.store import verify as verify_model

if TYPE_CHECKING:
    from fiable.settings import Settings

__all__ = ["SOURCES", "inventory", "is_model_path", "workspace_scopes"]

logger = logging.getLogger(__name__)

SOURCES = ("catalog", "local_file", "remote_endpoint", "test_fake", "unknown")
WORKSPACE = "workspace"


def is_model_path(setting: str) -> bool:
    """Whether a ``generator`` setting names a file (as :func:`fiable.components.make_generator`
    reads it) rather than a catalog name."""
    return setting.endswith(".gguf") or "/" in setting


def workspace_scopes(workspace_dir: Path | None, *,
                     overrides: Mapping[str, Any] | None = None) -> dict[str, Settings]:
    """``{"workspace": settings}`` plus ``{"collection NAME": settings}`` for each
    ``[collections."NAME"]`` table of the workspace's ``fiable.toml`` (the settings a question
    on that collection runs with)."""
    from fiable.settings import SETTINGS_FILE, load_settings, read_collection_settings

    out = {WORKSPACE: load_settings(workspace_dir, overrides=overrides)}
    if workspace_dir is not None:
        for name in read_collection_settings(workspace_dir / SETTINGS_FILE):
            out[f"collection {name}"] = load_settings(workspace_dir, overrides=overrides,
                                                      collection=name)
    return out


def inventory(settings: Settings, model_dir: Path, *,
              collections: Mapping[str, Settings] | None = None,
              extra: Mapping[str, Settings] | None = None, verify: bool = False,
              catalog: Catalog = CATALOG, cards: Mapping[str, CardText] = CARDS,
              ) -> list[dict[str, Any]]:
    """The models ``settings`` use (see the module docstring for an entry's fields).

    ``collections``: per-collection settings by collection name (``Workspace.collection_settings``);
    ``extra``: any other settings that name models, by a label saying who uses them (e.g.
    ``"expert legal"``). Entries are the distinct models, embedders first, in the order met;
    ``used_by`` lists the labels naming each. ``verify`` re-hashes the files (slow: a
    491 MB model takes seconds) and sets ``verified``; otherwise ``verified`` is None and
    the hashes are those recorded when the model was pulled.
    """
    scopes: dict[str, Settings] = {WORKSPACE: settings}
    scopes.update({f"collection {name}": s for name, s in (collections or {}).items()})
    scopes.update(extra or {})
    entries: dict[tuple[Any, ...], dict[str, Any]] = {}
    for role in ("embedder", "generator"):
        for label, scoped in scopes.items():
            key = _identity(role, scoped)
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = _entry(role, scoped, model_dir, verify=verify,
                                              catalog=catalog, cards=cards)
            entry["used_by"].append(label)
            for use in _uses(role, scoped):
                if use not in entry["uses"]:
                    entry["uses"].append(use)
    return list(entries.values())


def _identity(role: str, s: Settings) -> tuple[Any, ...]:
    if role == "embedder":
        return (role, s.embedder)
    if s.generator == "openai":
        return (role, "openai", _redact_url(s.generator_url), s.generator_model)
    return (role, s.generator)


def _uses(role: str, s: Settings) -> list[str]:
    if role == "embedder":
        return ["retrieval (passages and questions)"]
    return ["answers"] + (["support judge (verify_judge)"] if s.verify_judge else [])


def _blank(role: str, setting: str, source: str) -> dict[str, Any]:
    return {"role": role, "setting": setting, "used_by": [], "uses": [], "source": source,
            "model_id": None, "display_name": setting, "provenance": "", "card": None,
            "location": None, "pulled": None, "pulled_at": None, "pulled_packages": None,
            "files": [], "verified": None, "problems": []}


def _entry(role: str, s: Settings, model_dir: Path, *, verify: bool, catalog: Catalog,
           cards: Mapping[str, CardText]) -> dict[str, Any]:
    setting = s.embedder if role == "embedder" else s.generator
    if setting in catalog:
        return _catalog_entry(role, setting, model_dir, verify=verify, catalog=catalog,
                              cards=cards)
    if role == "embedder":
        if setting == "hashing":
            return _fake(role, setting, _hashing_id())
        entry = _blank(role, setting, "unknown")
        entry["provenance"] = "unknown: not a model fiable knows"
        entry["problems"].append(f"unknown embedder {setting!r}: set embedder to a catalog "
                                 "embedder (fiable models list)")
        return entry
    if setting == "fake":
        return _fake(role, setting, "fake-extractive")
    if setting == "openai":
        return _endpoint(s)
    if is_model_path(setting):
        return _local_file(setting, verify=verify, catalog=catalog, cards=cards)
    entry = _blank(role, setting, "unknown")
    entry["provenance"] = "unknown: not a model fiable knows"
    entry["problems"].append(f"unknown generator {setting!r}: set generator to a catalog "
                             "name, a .gguf path or openai (fiable models list)")
    return entry


def _hashing_id() -> str:
    from fiable.embedders.fake import HashingEmbedder

    return HashingEmbedder().model_id


def _fake(role: str, setting: str, model_id: str) -> dict[str, Any]:
    entry = _blank(role, setting, "test_fake")
    entry.update(model_id=model_id, display_name=model_id,
                 provenance="built into fiable: a deterministic fake, not a trained model "
                            "(tests only)")
    return entry


def _catalog_entry(role: str, name: str, model_dir: Path, *, verify: bool, catalog: Catalog,
                   cards: Mapping[str, CardText]) -> dict[str, Any]:
    card = model_card(name, catalog=catalog, cards=cards)
    spec = catalog[name]
    entry = _blank(role, name, "catalog")
    entry.update(model_id=card["model_ids"][0], display_name=card["display_name"], card=card,
                 provenance="pinned PyPI packages, files checked against the catalog's sha256 "
                            "at pull time")
    if spec.kind != role:
        entry["problems"].append(f"{name} is a catalog {spec.kind}, not a {role}: set "
                                 f"{role} to a catalog {role}")
    try:
        manifest = read_manifest(name, model_dir=model_dir)
    except ModelError as exc:
        manifest = None
        entry["problems"].append(f"{exc.message} (fix: {exc.hint})")
    root = model_dir / name
    entry["location"] = str(root)
    entry["pulled"] = manifest is not None
    recorded: dict[str, dict[str, Any]] = {}
    if manifest is not None:
        entry["pulled_at"] = manifest.get("pulled_at")
        entry["pulled_packages"] = [f"{p.get('name')}=={p.get('version')}"
                                    for p in manifest.get("packages", []) if isinstance(p, dict)]
        recorded = {m.get("name"): m for m in manifest.get("members", []) if isinstance(m, dict)}
    elif not entry["problems"]:
        entry["problems"].append(f"not pulled (fix: fiable models pull {name})")
    checks = {}
    if verify and manifest is not None:
        result = verify_model(name, model_dir=model_dir, catalog=catalog)
        checks = {c.member: c for c in result.members}
        entry["verified"] = result.ok
        entry["problems"] += [f"verify: {p}" for p in result.problems]
        logger.info("model re-hashed", extra={"model": name, "ok": result.ok})
    for member in spec.members:
        path = root / member.name.rstrip("/")
        if member.is_dir and member.key_file:
            path = path / member.key_file
        row = recorded.get(member.name) or {}
        check = checks.get(member.name)
        if check is not None:
            sha, size, source, ok = check.actual_sha256, check.actual_size, "rehash", check.ok
        elif row:
            sha, size, source = row.get("sha256"), row.get("size"), "manifest"
            ok = sha == member.sha256 and size == member.size
            if not ok:
                entry["problems"].append(f"{member.name}: the manifest records sha256 {sha} but "
                                         f"the catalog pins {member.sha256} (fix: fiable models "
                                         f"pull {name} --force)")
        else:
            sha, size, source, ok = None, None, None, None
        entry["files"].append({"name": member.name, "path": str(path) if manifest else None,
                               "size": size, "expected_sha256": member.sha256, "sha256": sha,
                               "sha256_from": source, "ok": ok})
    return entry


def _local_file(setting: str, *, verify: bool, catalog: Catalog,
                cards: Mapping[str, CardText]) -> dict[str, Any]:
    path = Path(setting).expanduser()
    entry = _blank("generator", setting, "local_file")
    entry.update(model_id=path.name, display_name=path.name, location=str(path),
                 provenance="unknown: a file given by path; fiable did not pull it and cannot "
                            "vouch for its origin or licence")
    if not path.is_file():
        entry["problems"].append(f"no file at {path} (fix: check the generator setting)")
        entry["files"].append({"name": path.name, "path": str(path), "size": None,
                               "expected_sha256": None, "sha256": None, "sha256_from": None,
                               "ok": False})
        return entry
    size = path.stat().st_size
    sha = source = None
    if verify:
        sha, size = file_sha256(path)
        source = "rehash"
        match = next((spec.name for spec in catalog.values() for m in spec.members
                      if m.sha256 == sha and m.size == size), None)
        if match is not None:  # the very bytes of a catalog model: its card applies
            entry["card"] = model_card(match, catalog=catalog, cards=cards)
            entry["display_name"] = entry["card"]["display_name"]
            entry["provenance"] = (f"a file given by path whose sha256 equals catalog model "
                                   f"{match}: its card applies")
            entry["verified"] = True
    entry["files"].append({"name": path.name, "path": str(path), "size": size,
                           "expected_sha256": None, "sha256": sha, "sha256_from": source,
                           "ok": None})
    return entry


def _endpoint(s: Settings) -> dict[str, Any]:
    url = _redact_url(s.generator_url)
    model = s.generator_model or None
    entry = _blank("generator", "openai", "remote_endpoint")
    entry.update(model_id=model, display_name=model or "openai", location=url,
                 provenance=f"unknown: remote endpoint {url} model {model or '(not set)'}; "
                            "fiable sees neither its weights nor their hash or licence")
    entry["api_key_set"] = bool(s.generator_api_key)
    if not model:
        entry["problems"].append("generator_model is empty (fix: set generator_model to the "
                                 "name the server serves)")
    return entry


def _redact_url(url: str) -> str:
    """``url`` without a user name or password in it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

