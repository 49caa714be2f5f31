"""``fiable ask``, ``chat`` and ``history``."""

from __future__ import annotations

from typing import Any

import click

from ..answer import Answer, Done, Token
from ..i18n import format_number, interface_language, text
from ._common import echo_json, open_workspace
from ._live import LiveAnswer, terminal_is_live


def _print_sources(answer: Answer, lang: str = "en") -> None:
    """The sources and trust notes under an answer, in the interface language ``lang``,
    then its one disclosure line (a refusal offers the closest passages)."""
    if answer.abstained:
        if answer.sources:
            click.echo(text("closest_passages", lang))
    else:
        uncited = answer.uncited_sentences
        if uncited:
            click.secho(text("uncited_sentences", lang), fg="yellow")
            for s in uncited:
                click.secho(f"  ? {s.text}", fg="yellow")
        unsupported = [s for s in answer.unsupported_sentences if s.citations]
        if unsupported:
            click.secho(text("unsupported_sentences", lang), fg="yellow")
            for s in unsupported:
                value = text("support_value", lang, support=format_number(s.support or 0.0, lang))
                click.secho(f"  ! {s.text} ({value})", fg="yellow")
        if answer.support is not None:
            click.secho(text("answer_support", lang, support=format_number(answer.support, lang),
                             mode=str(answer.verification)), dim=True)
        click.echo(text("sources", lang))
    shown = answer.sources if answer.abstained else answer.cited_sources
    for s in shown:
        click.echo(f"  [{s.number}] {s.location} ({s.source})")
        snippet = " ".join(s.snippet.split())
        click.secho(f"      \"{snippet[:240]}{'…' if len(snippet) > 240 else ''}\"", dim=True)
    quarantined = sorted({f["source"] for f in answer.screening if f["where"] == "passage"})
    if quarantined:
        action = answer.screening[-1]["action"]
        click.secho(text("injected_passages", lang, action=action) + ", ".join(quarantined),
                    fg="yellow")
    click.secho(answer.disclosure, dim=True)  # AI-generated, by which models (transparency)


def _live_answer(*, enabled: bool) -> LiveAnswer:
    """Tokens shown as they come on a terminal, then replaced by the final text."""
    import os
    import shutil
    import sys

    size = shutil.get_terminal_size()
    # color=True: the erase sequences go out as written (live only on a terminal anyway)
    return LiveAnswer(lambda piece: click.echo(piece, nl=False, color=True),
                      live=enabled and terminal_is_live(sys.stdout, os.environ.get("TERM")),
                      columns=size.columns, max_rows=size.lines)


def _ask_once(ws: Any, question: str, collections: list[str] | None, top_k: int | None,
              as_json: bool, explain: bool = False, principal: Any = None,
              experts: bool = False, conversation: str | None = None) -> Answer:
    answer: Answer | None = None
    messages: tuple[dict[str, str], ...] = ()
    trace: dict[str, Any] = {}
    live = _live_answer(enabled=not as_json)
    events = (ws.ask_experts_stream(question, readable=collections, principal=principal,
                                    top_k=top_k) if experts else
              ws.ask_stream(question, collections=collections, top_k=top_k, principal=principal,
                            conversation=conversation))
    try:
        for event in events:
            if isinstance(event, Token):
                live.token(event.text)
            elif isinstance(event, Done):
                answer, messages, trace = event.answer, event.messages, event.trace
    except BaseException:
        live.abandon()  # an error (or Ctrl-C) mid-stream: the partial text is not an answer
        raise
    assert answer is not None
    lang = interface_language(ws.settings.lang)
    if as_json:
        echo_json(answer.to_dict())
    else:
        live.finish(answer.text)  # the final text, once: the stream is erased on a terminal
        if answer.followup and answer.question != answer.followup.get("message"):
            click.secho(text("understood_as", lang, question=answer.question), dim=True)
        if answer.abstained:  # why, in plain words (abstain_reason is for --explain)
            click.echo(answer.explanation)
        click.echo()
        _print_sources(answer, lang)
    if explain and not as_json:
        from ..explain import explain as render

        click.echo()
        if trace.get("route"):  # --experts: the split, gate scores, who answered what
            from .experts import render_route

            click.echo(render_route(trace["route"]["split"], trace["route"]["gates"],
                                    [p.get("expert") for p in answer.parts]))
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
@click.option("--as", "as_user", default=None, metavar="NAME",
              help="Answer as principal NAME would get it (only what NAME may read).")
@click.option("--experts", is_flag=True, help="Split the question into its asks and route each "
              "to the experts that know it (docs/experts.md); -c limits the experts.")
@click.pass_context
def ask(ctx: click.Context, question: str, collections: tuple[str, ...], top_k: int | None,
        as_json: bool, explain: bool, as_user: str | None, experts: bool) -> None:
    """Answer QUESTION from the documents: the answer (streamed on a terminal, then shown
    in its final, cited form), its sources and the AI disclosure."""
    with open_workspace(ctx) as ws:
        who = ws.principal(as_user) if as_user else None
        _ask_once(ws, question, list(collections) or None, top_k, as_json, explain,
                  principal=who, experts=experts)


@click.command()
@click.option("-c", "--collection", "collections", multiple=True)
@click.option("--resume", "resume", default=None, metavar="ID",
              help="Continue a stored conversation (`fiable conversations` lists them).")
@click.option("--as", "as_user", default=None, metavar="NAME",
              help="Chat as principal NAME (only what NAME may read; NAME's conversations).")
@click.pass_context
def chat(ctx: click.Context, collections: tuple[str, ...], resume: str | None,
         as_user: str | None) -> None:
    """A conversation: questions one after another, each follow-up ("and for interns?")
    understood from the ones before (empty line or Ctrl-D to quit). It is stored; continue
    it with --resume ID."""
    from .conversations import print_turns

    with open_workspace(ctx) as ws:
        who = ws.principal(as_user) if as_user else None
        owner = who.name if who else "local"
        lang = interface_language(ws.settings.lang)
        if resume:
            print_turns(ws.conversations.get(resume, owner))
            thread_id = resume
        else:
            thread_id = ws.conversations.start(owner)["id"]
        click.echo(text("chat_intro", lang))
        try:
            _chat_loop(ws, list(collections) or None, who, thread_id)
        finally:
            click.secho(text("chat_resume", lang, id=thread_id), dim=True)


def _chat_loop(ws: Any, collections: list[str] | None, who: Any, thread_id: str) -> None:
    """Read messages until an empty line or end of input; answer each in the thread (an
    error names the problem and the conversation goes on)."""
    from ..errors import UserError

    while True:
        try:
            question = click.prompt("?", default="", show_default=False, prompt_suffix=" ")
        except (EOFError, click.exceptions.Abort):
            return
        if not question.strip():
            return
        try:
            _ask_once(ws, question, collections, None, False, principal=who,
                      conversation=thread_id)
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
