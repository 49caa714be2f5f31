"""``fiable feedback judge``: AI preference labels (RLAIF) for questions without human ones.

Exposes :data:`judge_command`, added to the ``feedback`` group."""

from __future__ import annotations

from typing import Any

import click

from ._common import echo_json, open_workspace, parse_sets

__all__ = ["judge_command"]


def _value(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


@click.command("judge")
@click.option("--limit", type=int, default=20, show_default=True,
              help="Most questions to label in this run.")
@click.option("--overrides", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Settings of the second answer [default: temperature=0.7, seed=1].")
@click.option("--dry-run", is_flag=True, help="Judge and print, but store nothing.")
@click.option("--model", "use_model", is_flag=True,
              help="Also ask the generator (both A/B orders) when the cheap signals are close "
              "(off by default: measured no better with Qwen 0.5B).")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@click.pass_context
def judge_command(ctx: click.Context, limit: int, overrides: tuple[str, ...], dry_run: bool,
                  use_model: bool, as_json: bool) -> None:
    """Label past questions that have no human feedback with the AI judge.

    Each question is asked again with other settings; the judge (verifier support,
    citation coverage; with --model, the generator under a fixed rubric when those are close) picks
    the better answer, and a pairwise record with source "ai", the judge's id and its
    confidence is stored. Questions with any human label are skipped: human labels win."""
    from ..feedback.judge import DEFAULT_OVERRIDES, judge_unlabelled

    settings = {k: _value(v) for k, v in parse_sets(overrides).items()} or DEFAULT_OVERRIDES
    with open_workspace(ctx) as ws:
        records = judge_unlabelled(ws, limit, settings, dry_run=dry_run, use_model=use_model)
    if as_json:
        echo_json(records)
        return
    for r in records:
        click.echo(f"{r['chosen_trace_id']} > {r['rejected_trace_id']}  "
                   f"confidence {r['confidence']:.2f}  {r['question'][:60]}")
    verb = "would store" if dry_run else "stored"
    click.echo(f"{len(records)} pairs {verb} (judge: {records[0]['judge'] if records else '-'})")
