"""``fiable ask``, ``chat`` and ``history``."""

from __future__ import annotations

from typing import Any

import click

from ..answer import Answer, Done, Token
from ._common import echo_json, open_workspace


def _print_sources(answer: Answer) -> None:
    if answer.abstained:
        click.secho(f"({answer.abstain_reason})", dim=True)
        if answer.sources:
            click.echo("Closest passages:")
    else:
        uncited = answer.uncited_sentences
        if uncited:
            click.secho("Sentences without a supporting passage:", fg="yellow")
            for s in uncited:
                click.secho(f"  ? {s.text}", fg="yellow")
        unsupported = [s for s in answer.unsupported_sentences if s.citations]
        if unsupported:
            click.secho("Sentences the cited passages do not support (check them):", fg="yellow")
            for s in unsupported:
                click.secho(f"  ! {s.text} (support {s.support:.2f})", fg="yellow")
        if answer.support is not None:
            click.secho(f"Answer support: {answer.support:.2f} (verification: {answer.verification})",
                        dim=True)
        click.echo("Sources:")
    shown = answer.sources if answer.abstained else answer.cited_sources
    for s in shown:
        click.echo(f"  [{s.number}] {s.location} ({s.source})")
        snippet = " ".join(s.snippet.split())
        click.secho(f"      \"{snippet[:240]}{'…' if len(snippet) > 240 else ''}\"", dim=True)
    quarantined = sorted({f["source"] for f in answer.screening if f["where"] == "passage"})
    if quarantined:
        action = answer.screening[-1]["action"]
        click.secho(f"Passages with instructions aimed at the assistant ({action}): "
                    + ", ".join(quarantined), fg="yellow")
    model = answer.generator_model or "none (no generation)"
    click.secho(f"{answer.notice} Model: {model}; embedder: {answer.embedder_model}.", dim=True)


def _ask_once(ws: Any, question: str, collections: list[str] | None, top_k: int | None,
              as_json: bool, explain: bool = False) -> Answer:
    answer: Answer | None = None
    messages: tuple[dict[str, str], ...] = ()
    streamed = False
    for event in ws.ask_stream(question, collections=collections, top_k=top_k):
        if isinstance(event, Token) and not as_json:
            click.echo(event.text, nl=False)
            streamed = True
        elif isinstance(event, Done):
            answer, messages = event.answer, event.messages
    assert answer is not None
    if as_json:
        echo_json(answer.to_dict())
    else:
        if not streamed:
            click.echo(answer.text)
        elif not answer.abstained:
            click.echo("\n")
            click.secho("Cited answer: ", bold=True, nl=False)
            click.echo(answer.text)
        click.echo()
        _print_sources(answer)
    if explain and not as_json:
        from ..explain import explain as render

        click.echo()
        click.echo(render(answer, messages), nl=False)
    return answer


@click.command()
@click.argument("question")
@click.option("-c", "--collection", "collections", multiple=True,
              help="Search only these collections (repeatable; default: all).")
@click.option("-k", "--top-k", type=int, default=None, help="Passages to retrieve.")
@click.option("--json", "as_json", is_flag=True, help="Print the full answer as JSON.")
@click.option("--explain", is_flag=True, help="Then show how the answer was made: passages "
              "with scores, each sentence's support evidence, screening, the exact prompt.")
@click.pass_context
def ask(ctx: click.Context, question: str, collections: tuple[str, ...], top_k: int | None,
        as_json: bool, explain: bool) -> None:
    """Answer QUESTION from the documents; tokens stream, then the cited sources."""
    with open_workspace(ctx) as ws:
        _ask_once(ws, question, list(collections) or None, top_k, as_json, explain)


@click.command()
@click.option("-c", "--collection", "collections", multiple=True)
@click.pass_context
def chat(ctx: click.Context, collections: tuple[str, ...]) -> None:
    """Ask questions one after another (empty line or Ctrl-D to quit)."""
    from ..errors import UserError

    with open_workspace(ctx) as ws:
        click.echo("Ask a question about your documents (empty line to quit).")
        while True:
            try:
                question = click.prompt("?", default="", show_default=False, prompt_suffix=" ")
            except (EOFError, click.exceptions.Abort):
                break
            if not question.strip():
                break
            try:
                _ask_once(ws, question, list(collections) or None, None, False)
            except UserError as exc:
                click.secho(f"error: {exc.message}", fg="red", err=True)
                if exc.hint:
                    click.echo(f"  fix: {exc.hint}", err=True)
            click.echo()


@click.command()
@click.option("-n", "--limit", default=10, show_default=True)
@click.option("--show", "trace_id", default=None, metavar="TRACE_ID",
              help="Print one past request in full, with the exact prompt sent to the model.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def history(ctx: click.Context, limit: int, trace_id: str | None, as_json: bool) -> None:
    """Past questions and answers (stored when the log_asks setting is on)."""
    with open_workspace(ctx) as ws:
        records = ws.history(limit=limit, trace_id=trace_id)
    if trace_id and not records:
        from ..errors import UserError

        raise UserError(f"no request with trace id {trace_id}",
                        hint="list recent ones with `fiable history`")
    if as_json:
        echo_json(records)
        return
    for r in records:
        a = r["answer"]
        click.echo(f"{a['created_at']}  {r['trace_id']}  {r['question'][:80]}")
        if trace_id:
            for m in r["messages"]:
                click.secho(f"--- {m['role']} ---", bold=True)
                click.echo(m["content"])
            click.secho("--- answer ---", bold=True)
            click.echo(a["text"])
