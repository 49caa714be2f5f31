"""``fiable traces`` (past requests as span trees, with the exact prompt) and ``fiable watch``
(drift of the last answers against the baseline)."""

from __future__ import annotations

from typing import Any, Mapping

import click

from ..errors import UserError
from ._common import echo_json, open_workspace

ALERT_ACTIVE = 1  # exit code of `fiable watch` while an alert is active


def _total_ms(record: Mapping[str, Any]) -> float | None:
    total = ((record.get("answer") or {}).get("timings") or {}).get("total")
    return None if total is None else round(total * 1000, 1)


def _summary(record: Mapping[str, Any]) -> dict[str, Any]:
    from ..observability.tracing import decision_of

    answer = record.get("answer") or {}
    return {"trace_id": record["trace_id"], "created_at": answer.get("created_at"),
            "question": record.get("question"), "decision": decision_of(record),
            "total_ms": _total_ms(record)}


@click.group("traces")
def traces_group() -> None:
    """Past requests as span trees: timings, attributes, the exact prompt and passages."""


@traces_group.command("list")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def traces_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Recent requests, newest first: trace id, time, question, decision, total time."""
    with open_workspace(ctx) as ws:
        rows = [_summary(r) for r in ws.history(limit=limit)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no requests logged yet (they are stored while log_asks is on)")
    for r in rows:
        total = "-" if r["total_ms"] is None else f"{r['total_ms']:.1f} ms"
        question = " ".join(str(r["question"]).split())
        click.echo(f"{r['trace_id']}  {r['created_at']}  {r['decision']:<16} {total:>10}  "
                   f"{question[:70]}{'…' if len(question) > 70 else ''}")


@traces_group.command("show")
@click.argument("trace_id")
@click.option("--json", "as_json", is_flag=True, help="The stored record as JSON.")
@click.pass_context
def traces_show(ctx: click.Context, trace_id: str, as_json: bool) -> None:
    """One request: its span tree, the passages with their scores, the exact prompt."""
    from ..observability.tracing import render_tree

    with open_workspace(ctx) as ws:
        found = ws.history(trace_id=trace_id)
    if not found:
        raise UserError(f"no request with trace id {trace_id}",
                        hint="list recent ones with `fiable traces list`")
    record = found[0]
    trace = record.get("trace") or {}
    if as_json:
        echo_json({**_summary(record), "trace": trace, "messages": record.get("messages", []),
                   "answer": record.get("answer")})
        return
    s = _summary(record)
    click.secho(f"trace {s['trace_id']}  {s['created_at']}  {s['decision']}  "
                f"{s['total_ms']} ms", bold=True)
    click.echo(f"question: {s['question']}")
    click.echo()
    if trace.get("spans"):
        click.secho("Spans (duration, start offset, attributes):", bold=True)
        click.echo(render_tree(trace["spans"]), nl=False)
    else:
        click.echo("(no spans: this request was logged before traces were recorded)")
    passages = trace.get("passages") or []
    if passages:
        click.echo()
        click.secho("Passages retrieved (fused score; BM25 rank; dense rank and cosine):",
                    bold=True)
        for p in passages:
            where = f"[{p['number']}]" if p.get("number") else "   "
            section = " > ".join(p.get("heading_path") or ())
            dense = (f"{p.get('dense_rank') or '-'}"
                     + (f" ({p['dense_score']:.3f})" if p.get("dense_score") is not None else ""))
            click.echo(f"  {where} {p['status']:<11} score {p['score']:.4f}; BM25 "
                       f"{p.get('lexical_rank') or '-'}; dense {dense}  {p['source']}"
                       + (f" > {section}" if section else "")
                       + ("  (fenced)" if p.get("fenced") else "")
                       + f"  chunk {p['chunk_id']} sha256 {p['content_hash'][:12]}")
    click.echo()
    messages = record.get("messages") or []
    if messages:
        click.secho("Prompt sent to the model:", bold=True)
        for m in messages:
            click.secho(f"--- {m['role']} ---", bold=True)
            click.echo(m["content"])
    elif trace.get("content") is False:
        click.echo("(content not captured: trace_content was off; ids and hashes only)")
    else:
        click.echo("(no prompt: the request abstained before generation)")
    click.secho("--- answer ---", bold=True)
    click.echo((record.get("answer") or {}).get("text", ""))


def _parse_thresholds(values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in values:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{item!r} is not METRIC=NUMBER", param_hint="--threshold")
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


@click.command()
@click.option("--window", type=click.IntRange(min=1), default=None,
              help="Answers to look at [default: the drift_window setting].")
@click.option("--accept", is_flag=True,
              help="Store the current window as the baseline later windows are compared with.")
@click.option("--threshold", "thresholds", multiple=True, metavar="METRIC=NUMBER",
              help="Change allowed before an alert (e.g. abstention_rate=0.3, "
                   "latency_p95_ms=2 for x2).")
@click.option("--notify", is_flag=True,
              help="Also send active alerts to the log and the drift_webhook (for cron).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def watch(ctx: click.Context, window: int | None, accept: bool, thresholds: tuple[str, ...],
          notify: bool, as_json: bool) -> None:
    """Recent answers against the baseline: abstention rate, mean support, negative
    feedback, p95 latency. Exits 1 while an alert is active (to gate cron or CI)."""
    from ..observability import drift

    limits = _parse_thresholds(thresholds)
    with open_workspace(ctx) as ws:
        if accept:
            stored = drift.accept_baseline(ws.store, ws.settings, window=window)
            if not as_json:
                click.echo(f"baseline accepted (run {stored['id']}): the last {stored['items']} "
                           "answers")
        state = drift.drift_state(ws.store, ws.settings, window=window, thresholds=limits)
        if notify:
            drift.notify(state, ws.settings)
    if as_json:
        echo_json(state.to_dict())
    else:
        click.echo(f"window: last {state.window} answers ({state.count} logged); baseline: "
                   f"{state.baseline_source or 'none yet (`fiable watch --accept`)'}")
        click.echo(f"  {'metric':<20} {'now':>10} {'baseline':>10} {'n':>5}")
        for name, m in state.metrics.items():
            click.echo(f"  {name:<20} {_fmt(m['value']):>10} {_fmt(m['baseline']):>10} "
                       f"{state.counts.get(name, 0):>5}")
        few = [n for n, m in state.metrics.items()
               if m["baseline"] is not None and state.counts.get(n, 0) < drift.MIN_COUNT]
        if few:
            click.echo(f"  (fewer than {drift.MIN_COUNT} values, no alert yet: {', '.join(few)})")
        if state.alerts:
            for a in state.alerts:
                click.secho(f"ALERT {a.message}", fg="red")
        else:
            click.echo("no alert")
    if state.alerts:
        ctx.exit(ALERT_ACTIVE)
