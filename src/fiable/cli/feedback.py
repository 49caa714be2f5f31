"""``fiable feedback``: rate, correct and compare answers; list feedback; export it as
preference (DPO) or supervised (SFT) data with a dataset card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._common import echo_json, open_workspace
from .feedback_judge import judge_command
from .feedback_tune import tune_command

PRINCIPAL = "local"  # the CLI acts as the local user, like the server without auth


def _capture(ctx: click.Context, record: dict[str, Any]) -> Any:
    from ..feedback.records import capture

    with open_workspace(ctx) as ws:
        return capture(ws.store, {**record, "principal": PRINCIPAL},
                       pii_detector=ws.pii_detector)


def _report(captured: Any) -> None:
    state = "already recorded as" if captured.duplicate else "recorded as"
    click.echo(f"feedback {state} #{captured.id}")
    if captured.flagged:
        click.secho(f"flagged ({', '.join(captured.flagged)}): the correction reads like "
                    "instructions to a model; it is kept but never exported", fg="yellow",
                    err=True)


@click.group("feedback")
def feedback_group() -> None:
    """Feedback on answers, and its export as preference data (DPO / SFT)."""


@feedback_group.command("add")
@click.argument("trace_id")
@click.option("--up", "rating", flag_value="up", help="The answer is good.")
@click.option("--down", "rating", flag_value="down", help="The answer is wrong or unhelpful.")
@click.option("--reason", default=None, help="Why (with --up or --down).")
@click.option("--comment", default=None, help="A free comment.")
@click.option("--correction", default=None, help="The better answer (PII-masked when stored).")
@click.pass_context
def feedback_add(ctx: click.Context, trace_id: str, rating: str | None, reason: str | None,
                 comment: str | None, correction: str | None) -> None:
    """Rate, comment or correct one answer (by the trace id shown with it)."""
    if not (rating or comment or correction):
        raise click.UsageError("give --up, --down, --comment or --correction")
    _report(_capture(ctx, {"trace_id": trace_id, "rating": rating, "reason": reason,
                           "comment": comment, "correction": correction}))


@feedback_group.command("prefer")
@click.argument("chosen_trace")
@click.argument("rejected_trace")
@click.option("--reason", default=None, help="Why the first is better.")
@click.pass_context
def feedback_prefer(ctx: click.Context, chosen_trace: str, rejected_trace: str,
                    reason: str | None) -> None:
    """Of two answers to the same question, CHOSEN_TRACE is better than REJECTED_TRACE."""
    _report(_capture(ctx, {"kind": "pairwise", "chosen_trace_id": chosen_trace,
                           "rejected_trace_id": rejected_trace, "reason": reason}))


@feedback_group.command("list")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--trace", "trace_id", default=None, help="Only the feedback on this answer.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def feedback_list(ctx: click.Context, limit: int, trace_id: str | None, as_json: bool) -> None:
    """Feedback records, newest first."""
    with open_workspace(ctx) as ws:
        rows = ws.store.feedback(limit, trace_id)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no feedback yet")
    for r in rows:
        kind = r.get("kind") or ("correction" if r.get("correction") else
                                 "rating" if r.get("rating") else "comment")
        what = {"pairwise": f"{r.get('chosen_trace_id')} > {r.get('rejected_trace_id')}",
                "regeneration": f"{r.get('parent_trace_id')} -> {r.get('trace_id')}"}.get(
            kind, f"{r.get('trace_id')} {r.get('rating') or ''}".rstrip())
        text = " ".join(str(r.get("correction") or r.get("comment") or r.get("reason")
                            or "").split())
        source = r.get("source") or "human"
        if r.get("judge"):
            source += f":{r['judge']}"
        flag = "  [flagged]" if r.get("flagged") else ""
        click.echo(f"#{r['id']}  {r['created_at']}  {kind:<12} {source:<10} {what}"
                   f"{'  ' + text[:60] if text else ''}{flag}")


@feedback_group.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["dpo", "sft"]), default="dpo",
              show_default=True, help="dpo: TRL preference pairs; sft: approved answers.")
@click.option("--human-only", is_flag=True, help="Leave out AI judges' labels.")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=None,
              help="Leave out AI labels below this confidence.")
@click.option("--since", default=None, metavar="DATE", help="Labels from this ISO date on.")
@click.option("--until", default=None, metavar="DATE", help="Labels up to this ISO date.")
@click.option("--collection", default=None, metavar="NAME",
              help="Only answers drawn from this collection.")
@click.option("--json", "as_json", is_flag=True, help="The export report as JSON.")
@click.pass_context
def feedback_export(ctx: click.Context, out: Path, fmt: str, human_only: bool,
                    min_confidence: float | None, since: str | None, until: str | None,
                    collection: str | None, as_json: bool) -> None:
    """Write feedback as JSONL (OUT) and its dataset card (OUT.card.md beside it)."""
    from ..feedback.export import ExportOptions, export

    options = ExportOptions(format=fmt, human_only=human_only,  # type: ignore[arg-type]
                            min_confidence=min_confidence, since=since, until=until,
                            collection=collection)
    with open_workspace(ctx) as ws:
        report = export(ws, out, options)
    if as_json:
        echo_json({"path": report.path, "card": report.card, "format": report.format,
                   "written": report.written, "kinds": dict(report.kinds),
                   "label_sources": dict(report.label_sources),
                   "excluded": dict(report.excluded)})
        return
    click.echo(f"{report.written} {fmt} examples written to {report.path} "
               f"(card: {report.card})")
    for why, n in sorted(report.excluded.items()):
        click.echo(f"  left out {n}: {why}")


feedback_group.add_command(judge_command)
feedback_group.add_command(tune_command)
