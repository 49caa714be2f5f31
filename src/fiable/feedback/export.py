"""Export: preference pairs (DPO) or approved answers (SFT) as JSONL, with a dataset card.

DPO lines follow TRL's conversational preference format::

    {"prompt": [system, user (with the passages)], "chosen": [{"role": "assistant", ...}],
     "rejected": [{"role": "assistant", ...}], "metadata": {...}}

SFT lines are ``{"messages": [...prompt..., {"role": "assistant", "content": ...}],
"metadata": {...}}``. Every text is PII-masked again here (prompts hold document text), one
mapping per example so an entity keeps its placeholder across prompt and answers.
Left out, and counted in the card: collections whose ``feedback_export`` setting is false,
answers erased from the ask log, flagged corrections, answers logged without their prompt
(``trace_content`` off), and what the filters exclude. ``OUT.card.md`` is written beside
``OUT.jsonl``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import UserError
from .pairs import Approved, Feedback, Label, Pair, approved, load, pairs

__all__ = ["ExportOptions", "ExportReport", "card_path", "export"]

Format = Literal["dpo", "sft"]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Which labels to export. ``min_confidence`` applies to AI labels (a person's label
    always passes); ``since``/``until`` are ISO dates or times compared with the label's
    time (``until`` inclusive of that whole day when it is a date)."""

    format: Format = "dpo"
    human_only: bool = False
    min_confidence: float | None = None
    since: str | None = None
    until: str | None = None
    collection: str | None = None


@dataclass
class ExportReport:
    """What an export wrote and what it left out, and why."""

    path: Path
    card: Path
    format: str
    written: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    label_sources: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    resolutions: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    prompt_versions: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None


def card_path(out: Path) -> Path:
    """``OUT.jsonl`` -> ``OUT.card.md``."""
    return out.with_name(out.name.removesuffix(".jsonl") + ".card.md")


def _collections(ask: dict[str, Any]) -> set[str]:
    return {str(s.get("collection")) for s in (ask.get("answer") or {}).get("sources") or ()}


class _Masker:
    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.mapping: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        from ..trust.pii import apply_policy

        masked, _, self.mapping = apply_policy(text, "mask", self.detector, self.mapping)
        return masked


def _filtered(label: Label, options: ExportOptions) -> str | None:
    """Why ``label`` is filtered out (None: it stays)."""
    if options.human_only and label.source != "human":
        return "filter: not human"
    if options.min_confidence is not None and label.source == "ai" \
            and float(label.confidence or 0.0) < options.min_confidence:
        return "filter: below min confidence"
    if options.since and label.created_at < options.since:
        return "filter: before since"
    if options.until:
        until = options.until + ("T99" if len(options.until) == 10 else "")
        if label.created_at > until:
            return "filter: after until"
    return None


def _metadata(label: Label, fb: Feedback, traces: tuple[str, ...], prompt_trace: str,
              resolution: str | None, overruled: tuple[int, ...]) -> dict[str, Any]:
    answer = fb.asks[prompt_trace].get("answer") or {}
    return {
        "kind": label.kind, "prompt_trace_id": prompt_trace, "trace_ids": list(traces),
        "chosen_trace_id": label.chosen, "rejected_trace_id": label.rejected,
        "feedback_ids": list(label.ids), "label_source": label.source, "judge": label.judge,
        "confidence": label.confidence, "resolution": resolution,
        "overruled_feedback_ids": list(overruled),
        "collections": sorted(set().union(*(_collections(fb.asks[t]) for t in traces))),
        "generator_model": answer.get("generator_model"),
        "embedder_model": answer.get("embedder_model"),
        "prompt_version": answer.get("prompt_version"), "created_at": label.created_at,
        "answer_created_at": answer.get("created_at"),
    }


class _Exporter:
    def __init__(self, ws: Any, options: ExportOptions, report: ExportReport) -> None:
        self.ws, self.options, self.report = ws, options, report

    def excluded(self, fb: Feedback, label: Label, traces: tuple[str, ...],
                 prompt_trace: str) -> str | None:
        collections = set().union(*(_collections(fb.asks[t]) for t in traces))
        for name in sorted(collections):
            settings = self.ws.collection_settings.get(name, self.ws.settings)
            if not settings.feedback_export:
                return f"consent: feedback_export off ({name})"
        if self.options.collection and self.options.collection not in collections:
            return "filter: other collection"
        if not fb.asks[prompt_trace].get("messages"):
            return "no prompt logged (trace_content off)"
        return _filtered(label, self.options)

    def prompt(self, fb: Feedback, trace_id: str, mask: _Masker) -> list[dict[str, str]]:
        return [{"role": str(m["role"]), "content": mask(str(m["content"]))}
                for m in fb.asks[trace_id]["messages"]]

    def count(self, fb: Feedback, label: Label, prompt_trace: str, resolution: str | None) -> None:
        r = self.report
        answer = fb.asks[prompt_trace].get("answer") or {}
        r.written += 1
        r.kinds[label.kind] += 1
        r.label_sources[label.source + (f" ({label.judge})" if label.judge else "")] += 1
        if resolution:
            r.resolutions[resolution] += 1
        r.models[str(answer.get("generator_model"))] += 1
        r.prompt_versions[str(answer.get("prompt_version"))] += 1
        if label.created_at:
            r.first = min(r.first or label.created_at, label.created_at)
            r.last = max(r.last or label.created_at, label.created_at)

    def dpo(self, fb: Feedback, pair: Pair) -> dict[str, Any] | None:
        label, prompt_trace = pair.label, pair.prompt_trace_id
        why = self.excluded(fb, label, pair.trace_ids, prompt_trace)
        if why:
            self.report.excluded[why] += 1
            return None
        mask = _Masker(self.ws.pii_detector)
        chosen = label.chosen_text if label.chosen is None else fb.answer_text(label.chosen)
        line = {"prompt": self.prompt(fb, prompt_trace, mask),
                "chosen": [{"role": "assistant", "content": mask(str(chosen))}],
                "rejected": [{"role": "assistant",
                              "content": mask(fb.answer_text(label.rejected))}]}
        if line["chosen"] == line["rejected"]:
            self.report.excluded["chosen and rejected read the same"] += 1
            return None
        line["metadata"] = _metadata(label, fb, pair.trace_ids, prompt_trace, pair.resolution,
                                     pair.overruled)
        self.count(fb, label, prompt_trace, pair.resolution)
        return line

    def sft(self, fb: Feedback, item: Approved) -> dict[str, Any] | None:
        why = self.excluded(fb, item.label, (item.trace_id,), item.trace_id)
        if why:
            self.report.excluded[why] += 1
            return None
        mask = _Masker(self.ws.pii_detector)
        messages = self.prompt(fb, item.trace_id, mask)
        messages.append({"role": "assistant", "content": mask(item.text)})
        line = {"messages": messages,
                "metadata": _metadata(item.label, fb, (item.trace_id,), item.trace_id, None, ())}
        self.count(fb, item.label, item.trace_id, None)
        return line


def export(ws: Any, out: Path, options: ExportOptions | None = None) -> ExportReport:
    """Write the feedback of ``ws`` to ``out`` (JSONL) and its card beside it."""
    options = options or ExportOptions()
    if options.format not in ("dpo", "sft"):
        raise UserError(f"unknown export format {options.format!r}", hint="use dpo or sft")
    out = Path(out)
    report = ExportReport(out, card_path(out), options.format)
    fb = load(ws.store)
    report.excluded.update({_SKIPPED.get(k, k): n for k, n in fb.skipped.items()})
    exporter = _Exporter(ws, options, report)
    if options.format == "dpo":
        lines = [exporter.dpo(fb, p) for p in pairs(fb)]
    else:
        lines = [exporter.sft(fb, a) for a in approved(fb)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for line in lines:
            if line is not None:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
    report.card.write_text(render_card(report, options), encoding="utf-8")
    return report


_SKIPPED = {"erased_trace": "answer erased from the ask log",
            "flagged_injection": "correction flagged as a prompt injection"}


def _counts(counter: Counter[str]) -> str:
    if not counter:
        return "- none\n"
    return "".join(f"- {k}: {n}\n" for k, n in sorted(counter.items()))


def render_card(report: ExportReport, options: ExportOptions) -> str:
    """The dataset card (Markdown) of one export."""
    layout = ("TRL conversational preference: `prompt`, `chosen`, `rejected` (lists of "
              "`{role, content}`) and `metadata`" if report.format == "dpo" else
              "chat messages: `messages` ending with the approved assistant answer, and "
              "`metadata`")
    filters = {k: v for k, v in (("human_only", options.human_only),
                                 ("min_confidence", options.min_confidence),
                                 ("since", options.since), ("until", options.until),
                                 ("collection", options.collection)) if v}
    return (
        f"# Feedback dataset: {report.path.name}\n\n"
        f"Format: {report.format} ({layout}).\n\n"
        f"Examples: {report.written}.\n\n"
        f"Date range of the labels: {report.first or '-'} to {report.last or '-'}.\n\n"
        f"Filters: {json.dumps(filters) if filters else 'none'}.\n\n"
        f"## Examples per kind\n\n{_counts(report.kinds)}\n"
        f"## Examples per label source\n\n{_counts(report.label_sources)}\n"
        f"## Contradictory labels settled\n\n"
        f"A person's label beats an AI judge's; the latest label of the winning source wins."
        f"\n\n{_counts(report.resolutions)}\n"
        f"## Models\n\n{_counts(report.models)}\n"
        f"## Prompt versions\n\n{_counts(report.prompt_versions)}\n"
        f"## Exclusions and why\n\n{_counts(report.excluded)}\n"
        "## Licence\n\n"
        "The prompts quote passages of the workspace's documents: using this dataset is "
        "subject to the documents' owners' terms. Answers were generated by the models "
        "listed above, under their own licences.\n\n"
        "## Personal data\n\n"
        "Corrections were PII-masked when they were received, and every text (prompt, "
        "passages, answers) was masked again at export with the workspace's PII detector "
        "(placeholders such as `<EMAIL_1>`, consistent within one example). Collections "
        "whose `feedback_export` setting is false, and answers erased from the ask log, "
        "are not included.\n"
    )
