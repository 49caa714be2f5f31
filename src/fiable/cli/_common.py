"""Shared CLI plumbing: workspace option, logging set-up, JSON output, error handling."""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import click

__all__ = ["DEFAULT_WORKSPACE", "StructuredFormatter", "configure_logging", "echo_json",
           "open_workspace", "parse_sets"]

DEFAULT_WORKSPACE = ".fiable"
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class StructuredFormatter(logging.Formatter):
    """``level logger: message key=value ...`` with the record's ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v!r}" for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS
        )
        base = f"{record.levelname.lower()} {record.name}: {record.getMessage()}"
        text = f"{base} {extras}" if extras else base
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (not the stream of
    when logging was set up, which a test harness or a daemon may have closed since)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = _StderrHandler()
    handler.setFormatter(StructuredFormatter())
    root = logging.getLogger("fiable")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _default(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_default))


def parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    """``--set name=value`` pairs as a dict."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--set")
        out[name.strip()] = value
    return out


def workspace_path(ctx: click.Context) -> Path:
    return Path(ctx.obj["workspace"] or os.environ.get("FIABLE_WORKSPACE") or DEFAULT_WORKSPACE)


def open_workspace(ctx: click.Context, *, create: bool = False, **settings: Any) -> Any:
    from ..workspace import Workspace

    overrides = {**ctx.obj["sets"], **{k: v for k, v in settings.items() if v is not None}}
    return Workspace.open(workspace_path(ctx), create=create, **overrides)
