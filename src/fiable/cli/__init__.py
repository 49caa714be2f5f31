"""The ``fiable`` command line. Errors print what went wrong and how to fix it, and exit
with the error's code (2 misuse, 3 a file could not be ingested, 4 model, 5 store)."""

from __future__ import annotations

import sys
from typing import Sequence

import click

from ..errors import FiableError
from ._common import configure_logging
from .admin import doctor, models, reindex, settings_cmd
from .conversations import conversations_group
from .documents import collections, documents, ingest, init
from .evaluate import eval_group
from .experts import experts_group
from .feedback import feedback_group
from .governance import access_group, audit_group, erase
from .observe import traces_group, watch
from .questions import ask, chat, history
from .serve import keys, serve
from .store import store_group

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fiable")
@click.option("-w", "--workspace", metavar="PATH", default=None,
              help="Workspace folder [env FIABLE_WORKSPACE; default ./.fiable].")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a setting for this command (see `fiable settings`).")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None, sets: tuple[str, ...], verbose: int) -> None:
    """fiable: answers from your own documents, with a citation on every sentence."""
    from ._common import parse_sets

    configure_logging(verbose)
    ctx.ensure_object(dict)
    ctx.obj["workspace"] = workspace
    ctx.obj["sets"] = parse_sets(sets)


for command in (init, ingest, collections, documents, ask, chat, history, eval_group, models,
                doctor, settings_cmd, reindex, store_group, serve, keys, traces_group, watch,
                feedback_group, access_group, audit_group, erase, experts_group,
                conversations_group):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fiable`` console script."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="fiable",
                        standalone_mode=False)
    except FiableError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"  fix: {exc.hint}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("\ninterrupted: everything committed before stays; nothing partial was "
                   "stored.", err=True)
        return 130
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())
