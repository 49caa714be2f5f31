"""``fiable feedback tune``: a collection's fusion and abstention settings from its feedback.

Exposes :data:`tune_command`, added to the ``feedback`` group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._common import echo_json, open_workspace

__all__ = ["tune_command"]

_SHOWN = ("f1", "answered", "abstention.f1", "citation_precision", "context_recall",
          "ndcg@10", "mrr@10", "recall@10")


def _setting(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _part(name: str, part: Any) -> list[str]:
    if part is None:
        return []
    verb = "proposed" if part.changed else "kept (nothing did better)"
    return [
        f"{name}: {_setting(part.current)} -> {_setting(part.proposed)}  [{verb}]",
        f"  {part.metric}  tune part ({part.tune_n}): {part.tune_before:.3f} -> "
        f"{part.tune_after:.3f}   held-out ({part.held_out_n}): {part.held_out_before:.3f} -> "
        f"{part.held_out_after:.3f}",
    ]


def _report(result: Any, dry_run: bool) -> None:
    lines = [f"collection {result.collection}: {result.judged} rated answers"
             + (f" (left out: {', '.join(f'{n} {why}' for why, n in sorted(result.skipped.items()))})"
                if result.skipped else "")]
    lines += _part("fusion", result.fusion) + _part("abstention", result.abstention)
    ev = result.evaluation
    if ev is not None:
        lines.append(f"evaluation {ev['dataset']} split {ev['split']} ({ev['items']} items), "
                     "current -> proposed:")
        for name in _SHOWN:
            if name in ev["before"] and ev["before"][name] is not None:
                after = ev["after"].get(name)
                lines.append(f"  {name:<20} {ev['before'][name]:.3f} -> "
                             f"{'-' if after is None else format(after, '.3f')}")
    lines += result.notes
    if result.changes:
        lines.append(f"changes: {_setting(result.changes)}")
        lines.append("dry run: nothing written" if dry_run else
                     f"written to {result.written} (recorded as run #{result.run_id})")
    click.echo("\n".join(lines))


@click.command("tune")
@click.option("-c", "--collection", required=True, metavar="NAME",
              help="The collection whose settings are tuned.")
@click.option("--dry-run", is_flag=True,
              help="Show the proposed settings and their expected effect; write nothing.")
@click.option("--eval", "eval_set", type=click.Path(exists=False, path_type=Path), default=None,
              metavar="QA_SET", help="Also measure before/after on this evaluation set.")
@click.option("--split", default=None, help="The evaluation set's split (e.g. test).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the evaluation set's first N items.")
@click.option("--include-ai", is_flag=True, help="Count AI judges' labels too.")
@click.option("--holdout", type=click.FloatRange(0.05, 0.95), default=0.3, show_default=True,
              help="Share of the questions held out to measure the change.")
@click.option("--keep-right", type=click.FloatRange(0.0, 1.0), default=0.8, show_default=True,
              help="Proposed thresholds must still answer this share of the answers rated "
              "right (0: no guard).")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
@click.pass_context
def tune_command(ctx: click.Context, collection: str, dry_run: bool, eval_set: Path | None,
                 split: str | None, limit: int | None, include_ai: bool, holdout: float,
                 keep_right: float, as_json: bool) -> None:
    """Tune a collection's fusion weight and abstention thresholds from its feedback.

    Ratings, corrections and pairwise choices on the collection's answers say which
    passages were relevant and which answers should have been "Not in the documents.";
    settings are chosen on part of them and measured on the rest (held out)."""
    from ..evaluation import load_dataset
    from ..feedback.tune import tune

    dataset = load_dataset(eval_set, split=split, limit=limit) if eval_set else None
    with open_workspace(ctx) as ws:
        result = tune(ws, collection, dry_run=dry_run, dataset=dataset,
                      include_ai=include_ai, holdout=holdout, keep_right=keep_right)
    if as_json:
        echo_json(result)
        return
    _report(result, dry_run)
