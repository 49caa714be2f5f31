"""Evaluation reports: quality gates, run comparison, Markdown, JSON and an HTML history plot."""

from __future__ import annotations

import html
import json
import math
from typing import Any, Mapping, Sequence

from ..errors import UserError

__all__ = ["all_metrics", "check_gates", "compare", "format_value", "history_html", "parse_thresholds",
           "to_json", "to_markdown"]

# Metrics where lower is better (latencies): compared with the opposite sign.
_LOWER_IS_BETTER = ("latency.", "seconds")


def all_metrics(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """A run's quality metrics plus its latencies as ``latency.<stage>.p50_ms`` / ``p95_ms``."""
    out: dict[str, float | None] = dict(summary.get("metrics", {}))
    for stage, values in (summary.get("latency") or {}).items():
        for name in ("p50_ms", "p95_ms"):
            if name in values:
                out[f"latency.{stage}.{name}"] = values[name]
    return out


def parse_thresholds(specs: Sequence[str], option: str = "--fail-under") -> dict[str, float]:
    """``["ndcg@10=0.68", ...]`` as a dict; UserError on a malformed item."""
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(raw)
        except ValueError:
            raise UserError(f"{option} {spec!r} is not METRIC=NUMBER",
                            hint=f"e.g. {option} ndcg@10=0.68") from None
    return out


def check_gates(summary: Mapping[str, Any], *, fail_under: Mapping[str, float] | None = None,
                fail_over: Mapping[str, float] | None = None) -> list[str]:
    """The failed gates, one line each (empty: all passed). An unknown metric is a
    UserError naming the known ones, so a typo cannot pass a gate silently."""
    values = all_metrics(summary)
    failures: list[str] = []
    for gates, below in ((fail_under or {}, True), (fail_over or {}, False)):
        for name, limit in gates.items():
            if name not in values:
                raise UserError(f"no metric {name!r} in this {summary.get('kind')} run",
                                hint="metrics: " + ", ".join(sorted(values)))
            value = values[name]
            if value is None or math.isnan(value):
                failures.append(f"{name} was not measured (gate {limit})")
            elif below and value < limit:
                failures.append(f"{name} = {value:.4f} < {limit}")
            elif not below and value > limit:
                failures.append(f"{name} = {value:.4f} > {limit}")
    return failures


def compare(current: Mapping[str, Any], baseline: Mapping[str, Any]
            ) -> list[tuple[str, float | None, float | None, float | None, str]]:
    """(metric, current, baseline, delta, verdict) for every metric of either run."""
    cur, base = all_metrics(current), all_metrics(baseline)
    rows = []
    for name in list(dict.fromkeys([*cur, *base])):
        a, b = cur.get(name), base.get(name)
        if a is None or b is None or math.isnan(a) or math.isnan(b):
            rows.append((name, a, b, None, ""))
            continue
        delta = a - b
        better = -delta if name.startswith(_LOWER_IS_BETTER) else delta
        tolerance = 0.05 * abs(b) if name.startswith(_LOWER_IS_BETTER) else 0.0005
        verdict = "better" if better > tolerance else "worse" if better < -tolerance else "same"
        rows.append((name, a, b, delta, verdict))
    return rows


def format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(format_value(c) for c in row) + " |" for row in rows]
    return lines


def to_markdown(summary: Mapping[str, Any], comparison: Sequence[tuple] | None = None,
                baseline_id: int | None = None) -> str:
    """A run as Markdown: what was measured, with what, and the figures."""
    s = summary
    models = s.get("models", {})
    lines = [
        f"# Evaluation run {s.get('id', '(not stored)')}: {s['dataset']} ({s['kind']}, "
        f"split {s.get('split') or 'all'})",
        "",
        f"- when: {s['created_at']}; {s['items']} items; {s['seconds']} s"
        + (f"; label: {s['label']}" if s.get("label") else ""),
        f"- data set: `{s['dataset_path']}` (sha256 {s['dataset_fingerprint'][:16]}…)",
        f"- collection: {s.get('collection') or '(all)'}",
    ]
    for role, info in models.items():
        files = ", ".join(f"{k} {str(v)[:12]}…" for k, v in (info.get("files") or {}).items())
        sha = info.get("sha256")
        lines.append(f"- {role}: {info.get('name')}" + (f" ({files})" if files else "")
                     + (f" (sha256 {sha[:12]}…)" if sha else ""))
    st = s.get("settings", {})
    lines.append("- retrieval: " + ", ".join(
        f"{k}={st.get(k)}" for k in ("fusion", "dense_weight", "rrf_k", "candidates", "top_k",
                                     "min_relevance", "chunk_tokens") if k in st))
    if s.get("ingest"):
        ing = s["ingest"]
        lines.append(f"- ingest: {ing['added']} added, {ing['updated']} updated, "
                     f"{ing['unchanged']} unchanged, {ing['chunks']} chunks, {ing['seconds']} s")
    lines += ["", "## Metrics", ""]
    lines += _table(["metric", "value"], list(s["metrics"].items()))
    if s.get("by_kind"):
        lines += ["", "## Per question kind", ""]
        lines += _table(["kind", "n", "correct"],
                        [(k, v["n"], v["correct"]) for k, v in s["by_kind"].items()])
    if s.get("latency"):
        lines += ["", "## Latency per stage", ""]
        lines += _table(["stage", "p50 ms", "p95 ms", "n"],
                        [(k, v["p50_ms"], v["p95_ms"], v["n"]) for k, v in s["latency"].items()])
    if comparison:
        lines += ["", f"## Compared with run {baseline_id}", ""]
        lines += _table(["metric", "this run", f"run {baseline_id}", "delta", ""],
                        [(n, a, b, None if d is None else f"{d:+.4f}", v)
                         for n, a, b, d, v in comparison])
    return "\n".join(lines) + "\n"


def to_json(summary: Mapping[str, Any], items: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The run as JSON (NaN written as null, so any JSON reader takes it)."""
    def clean(obj: Any) -> Any:
        if isinstance(obj, float) and math.isnan(obj):
            return None
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [clean(v) for v in obj]
        return obj

    data: dict[str, Any] = {"summary": dict(summary)}
    if items is not None:
        data["items"] = list(items)
    return json.dumps(clean(data), indent=2, ensure_ascii=False) + "\n"


_PALETTE = ("#1f5fa8", "#b4451f", "#2e7d32", "#6a1b9a", "#8d6e00", "#00796b")


def _svg_chart(title: str, runs: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str:
    width, height, pad = 640, 220, 44
    series = {n: [(r["id"], all_metrics(r).get(n)) for r in runs] for n in names}
    values = [v for pts in series.values() for _, v in pts if v is not None and not math.isnan(v)]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05 * (abs(lo) or 1), hi + 0.05 * (abs(hi) or 1)
    n = len(runs)

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return height - pad + (v - lo) / (hi - lo) * (2 * pad - height)

    parts = [f'<svg role="img" aria-label="{html.escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{html.escape(title)}</title>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#555"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#555"/>',
             f'<text x="4" y="{pad + 4}" font-size="11">{hi:.3f}</text>',
             f'<text x="4" y="{height - pad + 4}" font-size="11">{lo:.3f}</text>']
    for i, r in enumerate(runs):
        parts.append(f'<text x="{x(i):.1f}" y="{height - pad + 16}" font-size="10" '
                     f'text-anchor="middle">#{r["id"]}</text>')
    for c, (name, pts) in enumerate(series.items()):
        color = _PALETTE[c % len(_PALETTE)]
        coords = [(x(i), y(v)) for i, (_, v) in enumerate(pts) if v is not None and not math.isnan(v)]
        if len(coords) > 1:
            path = " ".join(f"{'M' if j == 0 else 'L'}{cx:.1f},{cy:.1f}" for j, (cx, cy) in enumerate(coords))
            parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (rid, v), i in zip(pts, range(n)):
            if v is not None and not math.isnan(v):
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{color}">'
                             f'<title>run {rid}: {html.escape(name)} = {v:.4f}</title></circle>')
        parts.append(f'<text x="{width - pad + 4}" y="{pad + 14 * c}" font-size="11" '
                     f'fill="{color}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def history_html(runs: Sequence[Mapping[str, Any]], metrics: Sequence[str] | None = None) -> str:
    """A self-contained HTML page plotting ``metrics`` over ``runs`` (oldest first), one
    chart per data set, kind and split, with a table of the runs."""
    ordered = sorted(runs, key=lambda r: r["id"])
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in ordered:
        groups.setdefault((r["dataset"], r["kind"], r.get("split")), []).append(r)
    body = ["<h1>fiable evaluation history</h1>"]
    if not ordered:
        body.append("<p>No evaluation runs stored yet: run <code>fiable eval DATASET</code>.</p>")
    for (dataset, kind, split), group in groups.items():
        names = list(metrics) if metrics else (
            ["ndcg@10", "recall@10", "mrr@10"] if kind == "retrieval"
            else ["f1", "abstention.f1", "citation_precision"])
        present = [n for n in names if any(n in all_metrics(r) for r in group)]
        title = f"{dataset} ({kind}, split {split or 'all'})"
        body.append(f"<h2>{html.escape(title)}</h2>")
        body.append(_svg_chart(title, group, present) or "<p>No values to plot.</p>")
        rows = "".join(
            f"<tr><td>{r['id']}</td><td>{html.escape(r['created_at'])}</td>"
            f"<td>{html.escape(r.get('label') or '')}</td>"
            + "".join(f"<td>{format_value(all_metrics(r).get(n))}</td>" for n in present) + "</tr>"
            for r in group)
        head = "".join(f"<th scope=\"col\">{html.escape(n)}</th>" for n in present)
        body.append(f"<table><thead><tr><th scope=\"col\">run</th><th scope=\"col\">when</th>"
                    f"<th scope=\"col\">label</th>{head}</tr></thead><tbody>{rows}</tbody></table>")
    style = ("body{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;color:#111}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;"
             "padding:.25em .5em;text-align:right}svg{max-width:100%;height:auto}")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>fiable evaluation history</title><style>{style}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
