"""``fiable conversations``: list, show, rename and delete stored conversations."""

from __future__ import annotations

from typing import Any

import click

from ._common import echo_json, open_workspace

_AS = click.option("--as", "as_user", default=None, metavar="NAME",
                   help="The conversations of principal NAME (default: the local owner's).")


def _owner(ws: Any, as_user: str | None) -> str:
    return ws.principal(as_user).name if as_user else "local"


def print_turns(thread: dict[str, Any]) -> None:
    """A thread's turns: each message, the question answered when it was rewritten, the
    answer text."""
    click.secho(f"{thread['title'] or '(untitled)'}  ({thread['id']})", bold=True)
    for turn in thread["turns"]:
        click.echo(f"? {turn.get('message')}")
        if turn.get("question") and turn.get("question") != turn.get("message"):
            click.secho(f"  (understood as: {turn['question']})", dim=True)
        click.echo(f"  {(turn.get('answer') or {}).get('text', '')}")
    click.echo()


@click.group("conversations", invoke_without_command=True)
@_AS
@click.option("-n", "--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def conversations_group(ctx: click.Context, as_user: str | None, limit: int,
                        as_json: bool) -> None:
    """Stored conversations (`fiable chat` makes them), last updated first."""
    if ctx.invoked_subcommand is not None:
        return
    with open_workspace(ctx) as ws:
        threads = ws.conversations.list(_owner(ws, as_user), limit=limit)
    if as_json:
        echo_json(threads)
        return
    if not threads:
        click.echo("no conversations yet: start one with `fiable chat`")
    for t in threads:
        click.echo(f"{t['id']}  {t['updated_at']}  {t['turns']:>3} turns  {t['title'] or '(untitled)'}")


@conversations_group.command("show")
@click.argument("conversation_id")
@_AS
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, conversation_id: str, as_user: str | None, as_json: bool) -> None:
    """One conversation with its turns."""
    with open_workspace(ctx) as ws:
        thread = ws.conversations.get(conversation_id, _owner(ws, as_user))
    if as_json:
        echo_json(thread)
    else:
        print_turns(thread)


@conversations_group.command("rename")
@click.argument("conversation_id")
@click.argument("title")
@_AS
@click.pass_context
def rename(ctx: click.Context, conversation_id: str, title: str, as_user: str | None) -> None:
    """Give a conversation a new title."""
    with open_workspace(ctx) as ws:
        thread = ws.conversations.rename(conversation_id, _owner(ws, as_user), title)
    click.echo(f"renamed {thread['id']}: {thread['title']}")


@conversations_group.command("delete")
@click.argument("conversation_id")
@_AS
@click.pass_context
def delete(ctx: click.Context, conversation_id: str, as_user: str | None) -> None:
    """Delete a conversation and its turns (the ask log and audit trail keep their records)."""
    with open_workspace(ctx) as ws:
        ws.conversations.delete(conversation_id, _owner(ws, as_user))
    click.echo(f"deleted {conversation_id}")
