"""The model directory: layout, manifests, hashing, and the read-only operations.

Layout: ``<model_dir>/<name>/`` holds the members and ``manifest.json``, written last. A
model counts as pulled only when its manifest exists.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from fiable.errors import ModelError, ModelIntegrityError, ModelNotFoundError
from fiable.models.catalog import CATALOG, Catalog, Member, ModelKind, ModelSpec

__all__ = ["MANIFEST", "MemberCheck", "ModelStatus", "VerifyResult", "default_model_dir",
           "get_spec", "list_models", "model_card", "read_manifest", "resolve_file", "verify"]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class MemberCheck:
    """The outcome of re-hashing one member (``actual_*`` are None when it is missing)."""

    member: str
    expected_sha256: str
    actual_sha256: str | None
    expected_size: int
    actual_size: int | None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class VerifyResult:
    name: str
    path: Path
    members: tuple[MemberCheck, ...]

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.members)

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(f"{m.member}: {p}" for m in self.members for p in m.problems)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    kind: ModelKind
    pulled: bool
    size_bytes: int
    path: Path
    licence: str
    description: str


def default_model_dir() -> Path:
    """``$FIABLE_MODEL_DIR``, else ``$XDG_CACHE_HOME/fiable/models`` (``~/.cache`` by default)."""
    explicit = os.environ.get("FIABLE_MODEL_DIR")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "fiable" / "models"


def get_spec(name: str, catalog: Catalog = CATALOG) -> ModelSpec:
    """The spec of ``name``; :class:`ModelNotFoundError` listing known names otherwise."""
    try:
        return catalog[name]
    except KeyError:
        known = ", ".join(sorted(catalog)) or "none"
        raise ModelNotFoundError(f"unknown model {name!r}; known models: {known}",
                                 hint="run `fiable models list` to see them") from None


def hash_stream(src: BinaryIO, digest: Any, out: BinaryIO | None = None) -> int:
    """Feed ``src`` into ``digest`` (and ``out``) in 8 MiB blocks; the byte count."""
    total = 0
    while block := src.read(BLOCK):
        digest.update(block)
        if out is not None:
            out.write(block)
        total += len(block)
    return total


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        size = hash_stream(fh, digest)
    return digest.hexdigest(), size


def tree_digests(root: Path) -> dict[str, dict[str, Any]]:
    """``{relative posix path: {sha256, size}}`` of every file under ``root``."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        sha, size = file_sha256(path)
        out[path.relative_to(root).as_posix()] = {"sha256": sha, "size": size}
    return out


def _not_pulled(name: str) -> ModelNotFoundError:
    return ModelNotFoundError(f"model {name!r} is not pulled",
                              hint=f"fiable models pull {name}")


def read_manifest(name: str, *, model_dir: Path) -> dict[str, Any] | None:
    """The manifest of a pulled model, or None when it is not pulled."""
    path = model_dir / name / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(f"manifest of {name!r} is unreadable: {exc}",
                                  hint=f"fiable models pull {name} --force") from exc
    if not isinstance(data, dict) or data.get("name") != name:
        raise ModelIntegrityError(f"manifest of {name!r} is not a fiable manifest for it",
                                  hint=f"fiable models pull {name} --force")
    return data


def check_member(member: Member, path: Path, recorded: dict[str, Any] | None) -> MemberCheck:
    """Re-hash ``member`` at ``path`` against the catalog (and the manifest, for directories)."""
    target = path / member.key_file if member.is_dir and member.key_file else path
    if not target.is_file():
        return MemberCheck(member.name, member.sha256, None, member.size, None,
                           (f"missing file {target.name}",))
    sha, size = file_sha256(target)
    problems = []
    if sha != member.sha256:
        problems.append(f"sha256 {sha} != expected {member.sha256}")
    if size != member.size:
        problems.append(f"size {size} != expected {member.size}")
    if member.is_dir:
        files = (recorded or {}).get("files") or {}
        problems += _check_tree(path, files)
    return MemberCheck(member.name, member.sha256, sha, member.size, size, tuple(problems))


def _check_tree(root: Path, files: dict[str, dict[str, Any]]) -> list[str]:
    if not files:
        return ["the manifest records no files for this directory"]
    actual = tree_digests(root)
    problems = [f"{rel}: missing" for rel in files if rel not in actual]
    problems += [f"{rel}: not in the manifest" for rel in actual if rel not in files]
    problems += [f"{rel}: sha256 {actual[rel]['sha256']} != recorded {want.get('sha256')}"
                 for rel, want in files.items()
                 if rel in actual and actual[rel]["sha256"] != want.get("sha256")]
    return problems


def verify(name: str, *, model_dir: Path, catalog: Catalog = CATALOG) -> VerifyResult:
    """Recompute the sha256 of every member of a pulled model and compare with the catalog.

    Raises :class:`ModelNotFoundError` when the model is not pulled; a mismatch is reported
    in the result (``ok`` False, ``problems``), not raised.
    """
    spec = get_spec(name, catalog)
    manifest = read_manifest(name, model_dir=model_dir)
    if manifest is None:
        raise _not_pulled(name)
    recorded = {m.get("name"): m for m in manifest.get("members", []) if isinstance(m, dict)}
    root = model_dir / name
    return VerifyResult(name, root, tuple(
        check_member(member, root / member.name.rstrip("/"), recorded.get(member.name))
        for member in spec.members))


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def list_models(*, model_dir: Path, catalog: Catalog = CATALOG) -> list[ModelStatus]:
    """Every catalog model, pulled or not (cheap: reads manifests, hashes nothing)."""
    out = []
    for name, spec in catalog.items():
        path = model_dir / name
        try:
            pulled = read_manifest(name, model_dir=model_dir) is not None
        except ModelError:
            pulled = False
        size = _dir_size(path) if pulled else spec.size_bytes
        out.append(ModelStatus(name, spec.kind, pulled, size, path, spec.licence, spec.description))
    return out


def resolve_file(name: str, member: str, *, model_dir: Path, catalog: Catalog = CATALOG) -> Path:
    """The path of ``member`` of a pulled model (a file, a directory member, or a file in it).

    Cheap: checks the manifest and that the file exists, does not re-hash (``verify`` does).
    """
    spec = get_spec(name, catalog)
    known = [m.name for m in spec.members]
    if not _is_member_path(member, known):
        raise ModelNotFoundError(f"model {name!r} has no member {member!r}; "
                                 f"members: {', '.join(known)}")
    if read_manifest(name, model_dir=model_dir) is None:
        raise _not_pulled(name)
    path = model_dir / name / member.rstrip("/")
    if not path.exists():
        raise ModelIntegrityError(f"model {name!r} is pulled but {member} is missing at {path}",
                                  hint=f"fiable models pull {name} --force")
    return path


def _is_member_path(member: str, known: list[str]) -> bool:
    if ".." in Path(member).parts or Path(member).is_absolute():
        return False
    return any(member == m or (m.endswith("/") and (member.startswith(m) or member + "/" == m))
               for m in known)


def model_card(name: str, *, model_dir: Path, catalog: Catalog = CATALOG) -> dict[str, Any]:
    """Provenance of a model for the inventory (works whether it is pulled or not)."""
    spec = get_spec(name, catalog)
    manifest = read_manifest(name, model_dir=model_dir)
    return {
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "licence": spec.licence,
        "upstream": spec.upstream,
        "intended_use": spec.intended_use,
        "limits": spec.limits,
        "notes": spec.notes,
        "context_length": spec.context_length,
        "size_bytes": spec.size_bytes,
        "packages": packages_json(spec.packages),
        "members": [{"name": m.name, "sha256": m.sha256, "size": m.size,
                     **({"key_file": m.key_file} if m.key_file else {})} for m in spec.members],
        "pulled": manifest is not None,
        "pulled_at": manifest.get("pulled_at") if manifest else None,
        "path": str(model_dir / name) if manifest else None,
        "fiable_version": manifest.get("fiable_version") if manifest else None,
    }


def packages_json(packages: Iterable[Any]) -> list[dict[str, str]]:
    return [{"name": p.name, "version": p.version} for p in packages]
