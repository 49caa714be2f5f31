"""``fiable init``, ``ingest``, ``collections``, ``documents``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..ingest import IngestProgress
from ..settings import write_setting
from ._common import echo_json, open_workspace, workspace_path


@click.command()
@click.argument("path", required=False)
@click.option("--embedder", default=None, help="Embedder to record in fiable.toml.")
@click.option("--generator", default=None, help="Generator to record in fiable.toml.")
@click.option("--store", default=None, metavar="URL",
              help="postgresql://USER@HOST/DB to keep documents and index on PostgreSQL "
              "(recorded in fiable.toml; default: a SQLite file in the workspace).")
@click.pass_context
def init(ctx: click.Context, path: str | None, embedder: str | None, generator: str | None,
         store: str | None) -> None:
    """Create a workspace (default ./.fiable, or PATH)."""
    if path:
        ctx.obj["workspace"] = path
    target = workspace_path(ctx)
    ws = open_workspace(ctx, create=True, store=store)
    ws.close()
    for name, value in (("embedder", embedder), ("generator", generator), ("store", store)):
        if value:
            write_setting(target, name, value)
    click.echo(f"workspace ready at {target}")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-c", "--collection", default="default", show_default=True)
@click.option("--sync", is_flag=True, help="Remove documents whose files under PATHS are gone.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--create/--no-create", default=True, show_default=True,
              help="Create the workspace if it does not exist.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default=None,
              help="Where load, chunk and embed run (default: the ingest_executor setting).")
@click.option("--address", default=None, metavar="ADDR",
              help="Ray cluster to join with --executor ray (default: the ray_address setting;"
                   " empty: start a local Ray).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Ray actors, one embedder each (default: the ray_workers setting; 0: one"
                   " per CPU).")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], collection: str, sync: bool,
           as_json: bool, create: bool, executor: str | None, address: str | None,
           workers: int | None) -> None:
    """Ingest files and folders (md, txt, html, pdf, docx). Exit code 3 if a file failed."""
    with open_workspace(ctx, create=create, ray_address=address, ray_workers=workers) as ws:
        bar: Any = None

        def progress(event: IngestProgress) -> None:
            nonlocal bar
            if as_json:
                return
            if bar is None:  # the total is known once the paths are walked
                bar = click.progressbar(length=event.total, label="ingesting", file=sys.stderr,
                                        show_pos=True,
                                        item_show_func=lambda p: p and Path(p).name)
                bar.__enter__()
            bar.current_item = event.path
            bar.update(1)

        try:
            report = ws.ingest(paths, collection=collection, sync=sync, progress=progress,
                               executor=executor)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    if as_json:
        echo_json(report)
    else:
        click.echo(
            f"{collection}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
            f"{len(report.failed)} failed; {report.chunks} chunks in {report.seconds:.1f} s"
        )
        for path, reason in report.skipped:
            click.echo(f"  skipped {path}: {reason}", err=True)
        for f in report.failed:
            click.secho(f"  failed {f.path}: {f.message}", fg="yellow", err=True)
            if f.hint:
                click.echo(f"    fix: {f.hint}", err=True)
    if report.failed:
        ctx.exit(3)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def collections(ctx: click.Context, as_json: bool) -> None:
    """List collections with their document and chunk counts."""
    with open_workspace(ctx) as ws:
        items = ws.collections()
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("no collections yet: `fiable ingest PATH --collection NAME`")
    for c in items:
        click.echo(f"{c.name}\t{c.documents} documents\t{c.chunks} chunks")


@click.command()
@click.option("-c", "--collection", default="default", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def documents(ctx: click.Context, collection: str, as_json: bool) -> None:
    """List the documents of a collection."""
    with open_workspace(ctx) as ws:
        items = ws.documents(collection)
    if as_json:
        echo_json(items)
        return
    for d in items:
        pages = f", {d.pages} pages" if d.pages else ""
        click.echo(f"{d.title}\t{d.format}{pages}, {d.chunks} chunks, {d.language}\t{d.source}")
