"""``fiable eval``: evaluate, gate, compare, list and plot runs; import SQuAD; tune fusion."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import UserError
from ._common import echo_json, open_workspace

GATE_FAILED = 1  # exit code when a --fail-under / --fail-over gate fails


class _DatasetFirstGroup(click.Group):
    """``fiable eval DATASET ...`` runs ``fiable eval run DATASET ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("eval", cls=_DatasetFirstGroup)
def eval_group() -> None:
    """Evaluate on a data set (BEIR folder, QA folder or questions .jsonl).

    \b
    fiable eval DATASET [options]      same as `fiable eval run DATASET`
    fiable eval runs | show ID | plot OUT.html | import-squad FILE OUT_DIR
    fiable eval sweep DATASET... --split dev   tune retrieval across data sets
    """


class _Progress:
    """One progress bar per phase (ingest, queries/questions) on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar, self.phase = quiet, None, ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = click.progressbar(length=total or None, label=phase, file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()
        assert self.bar is not None
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _write(path: str, text: str) -> None:
    if path == "-":
        click.echo(text, nl=False)
    else:
        Path(path).write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}", err=True)


def _baseline(ws: Any, summary: dict[str, Any], spec: str) -> dict[str, Any]:
    if spec == "previous":
        older = [r for r in ws.store.eval_runs(limit=1000, dataset=summary["dataset"])
                 if r["kind"] == summary["kind"] and r.get("split") == summary.get("split")
                 and r["id"] != summary.get("id")]
        if not older:
            raise UserError(f"no earlier {summary['kind']} run on {summary['dataset']} "
                            f"(split {summary.get('split')}) to compare with",
                            hint="run the evaluation once more, or give a run id")
        return older[0]
    try:
        found = ws.store.eval_run(int(spec))
    except ValueError:
        raise UserError(f"--compare {spec!r} is not a run id",
                        hint="give a run id from `fiable eval runs`, or 'previous'") from None
    if found is None:
        raise UserError(f"no evaluation run {spec}", hint="list them with `fiable eval runs`")
    return found[0]


def _check_gate_names(kind: str, modes: tuple[str, ...], k: int, names: list[str]) -> None:
    """Refuse a gate on a metric the run will not report, before spending time on it."""
    from ..evaluation.runner import metric_names

    known = metric_names(kind, modes, k)
    unknown = [n for n in names if n not in known and not n.startswith("latency.")]
    if unknown:
        raise UserError(f"no metric {unknown[0]!r} in a {kind} evaluation",
                        hint="metrics: " + ", ".join(known) + ", latency.<stage>.p50_ms|p95_ms")


def _print_metrics(summary: dict[str, Any]) -> None:
    from ..evaluation.report import format_value

    click.echo(f"run {summary.get('id', '(not stored)')}: {summary['dataset']} "
               f"({summary['kind']}, split {summary.get('split') or 'all'}, "
               f"{summary['items']} items, {summary['seconds']} s)")
    for name, value in summary["metrics"].items():
        click.echo(f"  {name:<24} {format_value(value)}")
    for stage, v in (summary.get("latency") or {}).items():
        click.echo(f"  latency {stage:<16} p50 {v['p50_ms']:.1f} ms  p95 {v['p95_ms']:.1f} ms")


@eval_group.command("run")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--split", default=None, help="qrels split (BEIR) or question split [default: test].")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N items.")
@click.option("-c", "--collection", default=None,
              help="Collection to search [default: eval-<dataset> when it has a corpus].")
@click.option("--mode", "modes", default="hybrid,bm25,dense", show_default=True,
              help="Retrieval modes to score (the first is the headline).")
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--label", default="", help="A note stored with the run.")
@click.option("--compare", "compare_to", default=None, metavar="RUN_ID|previous",
              help="Print the deltas against a stored run.")
@click.option("--fail-under", multiple=True, metavar="METRIC=VALUE",
              help="Exit 1 when METRIC is below VALUE (repeatable).")
@click.option("--fail-over", multiple=True, metavar="METRIC=VALUE",
              help="Exit 1 when METRIC is above VALUE, e.g. latency.search.p95_ms=50.")
@click.option("--json", "json_out", default=None, metavar="FILE|-", help="Write the run as JSON.")
@click.option("--markdown", "md_out", default=None, metavar="FILE|-", help="Write a Markdown report.")
@click.option("--plot", "plot_out", default=None, metavar="FILE.html",
              help="Write the HTML plot of this data set's metric history.")
@click.option("--sweep", is_flag=True, help="Tune fusion (and, for QA sets, the abstention "
              "thresholds) on this dev split and write them for the collection.")
@click.option("--dry-run", is_flag=True, help="With --sweep: show the best setting, write nothing.")
@click.option("--no-store", is_flag=True, help="Do not store the run in the workspace.")
@click.option("--create/--no-create", default=True, show_default=True,
              help="Create the workspace if it does not exist.")
@click.pass_context
def run_cmd(ctx: click.Context, dataset: Path, split: str | None, limit: int | None,
            collection: str | None, modes: str, k: int, label: str, compare_to: str | None,
            fail_under: tuple[str, ...], fail_over: tuple[str, ...], json_out: str | None,
            md_out: str | None, plot_out: str | None, sweep: bool, dry_run: bool,
            no_store: bool, create: bool) -> None:
    """Evaluate the workspace on DATASET; store the run; gate, compare and report it."""
    from ..evaluation import (check_gates, compare, evaluate, history_html, load_dataset,
                              parse_thresholds, to_json, to_markdown)

    under = parse_thresholds(fail_under, "--fail-under")
    over = parse_thresholds(fail_over, "--fail-over")
    chosen = tuple(m.strip() for m in modes.split(",") if m.strip())
    data = load_dataset(dataset, split=split, limit=limit)
    _check_gate_names(data.kind, chosen, k, [*under, *over])
    progress = _Progress(quiet=json_out == "-" or md_out == "-")
    with open_workspace(ctx, create=create) as ws:
        try:
            if sweep:
                _sweep(ws, data, collection, k, dry_run, progress)
                return
            run = evaluate(ws, data, collection=collection, modes=chosen, k=k, label=label,
                           store=not no_store, progress=progress)
        finally:
            progress.close()
        summary = run.summary
        comparison, baseline = None, None
        if compare_to:
            baseline = _baseline(ws, summary, compare_to)
            comparison = compare(summary, baseline)
        if json_out:
            _write(json_out, to_json(summary, run.items))
        if md_out:
            _write(md_out, to_markdown(summary, comparison, baseline and baseline["id"]))
        if plot_out:
            runs = [r for r in ws.store.eval_runs(limit=1000, dataset=summary["dataset"])
                    if r["kind"] == summary["kind"]]
            _write(plot_out, history_html(runs))
    if json_out != "-" and md_out != "-":
        _print_metrics(summary)
        if comparison:
            click.echo(f"compared with run {baseline and baseline['id']}:")
            for name, a, b, delta, verdict in comparison:
                if delta is not None:
                    click.echo(f"  {name:<24} {a:.4f} vs {b:.4f}  {delta:+.4f}  {verdict}")
    failures = check_gates(summary, fail_under=under, fail_over=over)
    for line in failures:
        click.secho(f"gate failed: {line}", fg="red", err=True)
    if failures:
        ctx.exit(GATE_FAILED)


def _sweep(ws: Any, data: Any, collection: str | None, k: int, dry_run: bool,
           progress: _Progress) -> None:
    from ..evaluation import sweep

    result = sweep(ws, data, collection=collection, k=k, write=not dry_run, progress=progress)
    progress.close()
    click.echo(f"fusion sweep on {data.name} split {result.split} "
               f"({result.metric}, collection {result.collection}):")
    for setting, score in sorted(result.scores, key=lambda item: -item[1]):
        mark = " <- best" if setting == result.best else ""
        click.echo(f"  {score:.4f}  {setting}{mark}")
    click.echo(f"current {result.current}: {result.current_score:.4f}; "
               f"best {result.best}: {result.best_score:.4f}")
    cal = result.abstention
    if cal is not None:
        click.echo(f"abstention: min_relevance {cal.min_relevance}, support_threshold "
                   f"{cal.support_threshold}, answerability_threshold "
                   f"{cal.answerability_threshold or 'off'}: abstention F1 {cal.chosen['abstention.f1']:.3f}, "
                   f"answer F1 {cal.chosen['f1']:.3f} (without: "
                   f"{cal.baseline['abstention.f1']:.3f}, {cal.baseline['f1']:.3f})")
    for note in result.notes:
        click.echo(note)
    if result.written:
        click.echo(f'wrote [collections."{result.collection}"] to {result.written}')
    elif dry_run:
        click.echo("dry run: nothing written")


@eval_group.command("sweep")
@click.argument("datasets", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--split", default="dev", show_default=True,
              help="The development split of every data set (test splits are refused).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the first N queries of each data set.")
@click.option("-c", "--collection", default=None,
              help="Write the setting for this collection [default: workspace-wide].")
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the best setting, write nothing.")
@click.option("--create/--no-create", default=True, show_default=True,
              help="Create the workspace if it does not exist.")
@click.pass_context
def sweep_cmd(ctx: click.Context, datasets: tuple[Path, ...], split: str, limit: int | None,
              collection: str | None, k: int, dry_run: bool, create: bool) -> None:
    """Tune fusion, candidates and the long-query settings by the mean over DATASETS' dev
    splits; write the best with the evidence (each set's score) to fiable.toml."""
    from ..evaluation import load_dataset
    from ..evaluation.sweep_sets import sweep_sets

    data = [load_dataset(d, split=split, limit=limit) for d in datasets]
    progress = _Progress(quiet=False)
    with open_workspace(ctx, create=create) as ws:
        try:
            result = sweep_sets(ws, data, k=k, collection=collection, write=not dry_run,
                                progress=progress)
        finally:
            progress.close()
    click.echo(f"retrieval sweep ({result.metric}) over {len(result.sets)} dev split(s): "
               + ", ".join(f"{n} ({q} queries)" for n, q in zip(result.sets, result.queries)))
    width = max(len(n) for n in result.sets)
    click.echo(f"  {'':<{width}}  {'current':>8}  {'best':>8}")
    for name, c, b in zip(result.sets, result.current_scores, result.best_scores):
        click.echo(f"  {name:<{width}}  {c:>8.4f}  {b:>8.4f}")
    click.echo(f"  {'mean':<{width}}  {result.current_mean:>8.4f}  {result.best_mean:>8.4f}")
    click.echo(f"current: {result.current}")
    click.echo(f"best:    {result.best}")
    click.echo("top settings by the mean:")
    for setting, value, _ in result.ranking[:5]:
        click.echo(f"  {value:.4f}  {setting}")
    for note in result.notes:
        click.echo(note)
    if result.written:
        where = f'[collections."{collection}"]' if collection else "workspace-wide settings"
        click.echo(f"wrote {where} to {result.written}")
    elif dry_run:
        click.echo("dry run: nothing written")


@eval_group.command("runs")
@click.option("--dataset", default=None, help="Only this data set's runs.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def runs_cmd(ctx: click.Context, dataset: str | None, limit: int, as_json: bool) -> None:
    """List stored evaluation runs, newest first."""
    with open_workspace(ctx) as ws:
        runs = ws.store.eval_runs(limit=limit, dataset=dataset)
    if as_json:
        echo_json(runs)
        return
    if not runs:
        click.echo("no evaluation runs yet: `fiable eval DATASET`")
    for r in runs:
        head = next(iter(r["metrics"].items()), ("", None))
        value = "n/a" if head[1] is None else f"{head[1]:.4f}"
        click.echo(f"{r['id']}\t{r['created_at']}\t{r['dataset']}\t{r['kind']}\t"
                   f"{r.get('split') or 'all'}\t{r['items']} items\t{head[0]} {value}"
                   + (f"\t{r['label']}" if r.get("label") else ""))


@eval_group.command("show")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The run with its per-item results.")
@click.pass_context
def show_cmd(ctx: click.Context, run_id: int, as_json: bool) -> None:
    """Show one stored run (Markdown, or JSON with every item)."""
    from ..evaluation import to_json, to_markdown

    with open_workspace(ctx) as ws:
        found = ws.store.eval_run(run_id)
    if found is None:
        raise UserError(f"no evaluation run {run_id}", hint="list them with `fiable eval runs`")
    summary, items = found
    click.echo(to_json(summary, items) if as_json else to_markdown(summary), nl=False)


@eval_group.command("plot")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--dataset", default=None, help="Only this data set's runs.")
@click.option("--metric", "metrics", multiple=True, help="Metrics to plot (repeatable).")
@click.pass_context
def plot_cmd(ctx: click.Context, out: str, dataset: str | None, metrics: tuple[str, ...]) -> None:
    """Write an HTML page plotting metric history across stored runs."""
    from ..evaluation import history_html

    with open_workspace(ctx) as ws:
        runs = [r for r in ws.store.eval_runs(limit=1000, dataset=dataset)
                if r["kind"] not in ("sweep", "drift")]
    _write(out, history_html(runs, list(metrics) or None))


@eval_group.command("import-squad")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dev-fraction", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Share of questions put in the dev split (for tuning).")
@click.option("--seed", type=int, default=0, show_default=True)
def import_squad_cmd(source: Path, out_dir: Path, dev_fraction: float, seed: int) -> None:
    """Convert a SQuAD 2.0 (or PIAF) JSON file into a QA data set folder."""
    from ..evaluation import import_squad

    summary = import_squad(source, out_dir, dev_fraction=dev_fraction, seed=seed)
    click.echo(f"{out_dir}: {summary['documents']} paragraphs, {summary['questions']} questions "
               f"({summary['answerable']} answerable, {summary['unanswerable']} unanswerable; "
               f"{summary['dev']} dev, {summary['test']} test)")
