"""``fiable access``, ``fiable audit`` and ``fiable erase``: rights, the audit trail, erasure.

The command line acts as the workspace owner (it has the files anyway); every change it
makes is recorded in the audit trail as ``local``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from ..errors import AuditIntegrityError, UserError
from ._common import echo_json, open_workspace

__all__ = ["access_group", "audit_group", "erase"]


# -- access -------------------------------------------------------------------------------
@click.group("access")
def access_group() -> None:
    """Who may read, write or administer which collection (API keys are the principals)."""


def _subject_options(f):  # type: ignore[no-untyped-def]
    f = click.option("--group", default=None, help="A group of users.")(f)
    return click.option("--user", default=None, help="A user or service account (a key's "
                        "name, see `fiable keys`).")(f)


@access_group.command("grant")
@_subject_options
@click.option("-c", "--collection", required=True, help="A collection, or * for all.")
@click.option("--right", type=click.Choice(["read", "write", "admin"]), default="read",
              show_default=True)
@click.pass_context
def access_grant(ctx: click.Context, user: str | None, group: str | None, collection: str,
                 right: str) -> None:
    """Give a right on a collection; the first grant turns enforcement on."""
    from ..governance.access import describe, grant

    with open_workspace(ctx) as ws:
        was_enforced = describe(ws.store)["enforced"]
        change = grant(ws.store, collection=collection, right=right, user=user, group=group)
        ws.audit("local", "access", change)
    click.echo(f"granted {right} on {collection} to {change['grant']['subject']}")
    if not was_enforced:
        click.secho("access control is now enforced: API keys read only what they are "
                    "granted (`fiable access open` goes back to single-user mode)", fg="yellow")


@access_group.command("revoke")
@_subject_options
@click.option("-c", "--collection", required=True)
@click.option("--right", type=click.Choice(["read", "write", "admin"]), default="read",
              show_default=True)
@click.pass_context
def access_revoke(ctx: click.Context, user: str | None, group: str | None, collection: str,
                  right: str) -> None:
    """Remove one grant (it stops applying at once, on every replica)."""
    from ..governance.access import revoke

    with open_workspace(ctx) as ws:
        change = revoke(ws.store, collection=collection, right=right, user=user, group=group)
        ws.audit("local", "access", change)
    click.echo(f"revoked {right} on {collection} from {change['revoke']['subject']}")


@access_group.command("join")
@click.argument("user")
@click.argument("group")
@click.pass_context
def access_join(ctx: click.Context, user: str, group: str) -> None:
    """Make USER a member of GROUP."""
    from ..governance.access import join

    with open_workspace(ctx) as ws:
        ws.audit("local", "access", join(ws.store, user, group))
    click.echo(f"{user} is in group {group}")


@access_group.command("leave")
@click.argument("user")
@click.argument("group")
@click.pass_context
def access_leave(ctx: click.Context, user: str, group: str) -> None:
    """Remove USER from GROUP."""
    from ..governance.access import leave

    with open_workspace(ctx) as ws:
        ws.audit("local", "access", leave(ws.store, user, group))
    click.echo(f"{user} left group {group}")


@access_group.command("open")
@click.pass_context
def access_open(ctx: click.Context) -> None:
    """Back to single-user mode: every valid API key reads everything (grants are kept)."""
    from ..governance.access import set_enforced

    with open_workspace(ctx) as ws:
        ws.audit("local", "access", set_enforced(ws.store, False))
    click.echo("access control off: every valid key reads every collection")


@access_group.command("enforce")
@click.pass_context
def access_enforce(ctx: click.Context) -> None:
    """Enforce the grants again after `fiable access open`."""
    from ..governance.access import set_enforced

    with open_workspace(ctx) as ws:
        ws.audit("local", "access", set_enforced(ws.store, True))
    click.echo("access control enforced")


@access_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "as_user", default=None, metavar="NAME",
              help="Also show what NAME may read.")
@click.pass_context
def access_list(ctx: click.Context, as_json: bool, as_user: str | None) -> None:
    """The policy: enforcement, groups, grants."""
    from ..governance.access import describe, read_scope

    with open_workspace(ctx) as ws:
        policy = describe(ws.store)
        readable = None
        if as_user:
            scope = read_scope(ws.store, ws.principal(as_user))
            names = [c.name for c in ws.store.collections()]
            readable = names if scope.collections is None else sorted(
                n for n in names if n in scope.collections)
    if as_json:
        echo_json({**policy, **({"readable": readable} if as_user else {})})
        return
    click.echo(f"enforced: {'yes' if policy['enforced'] else 'no (single-user mode)'}")
    for user, groups in sorted(policy["members"].items()):
        click.echo(f"  {user} in {', '.join(groups)}")
    for g in policy["grants"]:
        click.echo(f"  {g['subject']}  {g['right']}  {g['collection']}")
    if as_user:
        click.echo(f"{as_user} reads: {', '.join(readable or []) or 'nothing'}")


# -- audit --------------------------------------------------------------------------------
@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail: verify it, export it, apply retention."""


@audit_group.command("verify")
@click.option("--head", "expect_head", default=None, metavar="SEQ:HASH",
              help="A head noted earlier: also proves no record was cut off the end.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def audit_verify(ctx: click.Context, expect_head: str | None, as_json: bool) -> None:
    """Check every record's hash and link; exit 1 naming the first bad record."""
    from ..governance.audit import verify

    with open_workspace(ctx) as ws:
        report = verify(ws.store, expect_head=expect_head)
    if as_json:
        echo_json(report.to_dict())
    elif report.ok:
        click.echo(f"audit trail verified: {report.records} records "
                   f"({report.erased} with erased text) in {report.seconds:.2f} s")
        if report.checkpoint:
            click.echo(f"  starts after retention checkpoint {report.checkpoint['seq']} "
                       f"({report.checkpoint['pruned']} records pruned)")
        if report.head_seq is not None:
            click.echo(f"  head: {report.head_seq}:{report.head_hash}")
            click.echo("  keep the head outside this workspace; `fiable audit verify --head "
                       "SEQ:HASH` later proves nothing was cut off the end")
    if not report.ok:
        raise AuditIntegrityError(f"audit trail broken at record {report.bad_seq}: "
                                  f"{report.problem}",
                                  hint="restore the database from a backup and compare; "
                                  "the records before it are intact")


def _day(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise UserError(f"{option} {value!r} is not a date",
                        hint="use YYYY-MM-DD or an ISO time") from None


@audit_group.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "since", default=None, metavar="DATE", help="First day (included).")
@click.option("--to", "until", default=None, metavar="DATE", help="Last time (excluded).")
@click.pass_context
def audit_export(ctx: click.Context, out: Path, since: str | None, until: str | None) -> None:
    """Write the records as JSONL for auditors (chain fields included)."""
    from ..governance.audit import export

    with open_workspace(ctx) as ws:
        count = export(ws.store, out, since=_day(since, "--from"), until=_day(until, "--to"))
        ws.audit("local", "audit", {"export": {"records": count, "from": since, "to": until}})
    click.echo(f"{count} records written to {out}")


@audit_group.command("prune")
@click.option("--days", type=int, default=None,
              help="Keep this many days (default: the audit_retention_days setting).")
@click.pass_context
def audit_prune(ctx: click.Context, days: int | None) -> None:
    """Delete records past retention, leaving a checkpoint (the rest still verifies)."""
    from ..governance.audit import prune

    with open_workspace(ctx) as ws:
        keep = ws.settings.audit_retention_days if days is None else days
        if keep <= 0:
            raise UserError("retention is off (audit_retention_days = 0): nothing to prune",
                            hint="pass --days N or set audit_retention_days")
        deleted = prune(ws.store, retention_days=keep, actor="local",
                        now=datetime.now(timezone.utc))
    click.echo(f"{deleted} records older than {keep} days deleted; a checkpoint keeps the "
               "chain verifiable")


# -- erasure ------------------------------------------------------------------------------
@click.command("erase")
@click.option("--document", default=None, metavar="ID|SOURCE",
              help="A document (its id or source, as `fiable documents` shows).")
@click.option("-c", "--collection", default=None, help="The document's collection.")
@click.option("--subject", default=None, metavar="NAME|E-MAIL",
              help="A person: every occurrence is erased from documents, logs and feedback.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def erase(ctx: click.Context, document: str | None, collection: str | None,
          subject: str | None, yes: bool, as_json: bool) -> None:
    """Erase a document or a data subject everywhere (irreversible; recorded in the audit
    trail without the erased content)."""
    if bool(document) == bool(subject):
        raise UserError("give exactly one of --document or --subject",
                        hint='e.g. fiable erase --subject "Jane Doe"')
    what = f"document {document!r}" if document else "every mention of this subject"
    if not yes and not click.confirm(f"Erase {what}? This cannot be undone", default=False):
        raise click.exceptions.Abort()
    with open_workspace(ctx) as ws:
        if document:
            report = ws.erase_document(document, collection=collection)
        else:
            assert subject is not None
            report = ws.erase_subject(subject)
    if as_json:
        echo_json(report.to_dict())
        return
    for source in report.documents_deleted:
        click.echo(f"document deleted: {source}")
    if report.documents_redacted:
        click.echo(f"{report.chunks_redacted} passages redacted in "
                   f"{len(report.documents_redacted)} documents")
    click.echo("records erased: " + ", ".join(f"{k} {v}" for k, v in report.records.items()))
