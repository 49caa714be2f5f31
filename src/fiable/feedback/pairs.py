"""Pairs and labels: preference pairs and approved answers built from feedback records.

Sources of a pair (``Pair.kind``):

- ``correction``: chosen = the correction's text, rejected = the corrected answer;
- ``pairwise``: two answers to one question, as labelled (by a person or an AI judge);
- ``ratings``: two answers to the same question, one rated up and one rated down.

Every label on the same two answers (in either order) is one vote; when votes disagree,
a person's label beats an AI's, and the latest label of the winning source wins (by time,
then record id). ``Pair.resolution`` says which rule settled it (``latest_human``,
``human_over_ai``, ``latest_ai``, joined with ``+``; None without disagreement) and
``Pair.overruled`` lists the record ids that lost. Ratings and corrections of one answer are
settled the same way. Flagged records (an injection in the correction) are left out, and
records whose answer was erased from the ask log are skipped; both are counted in
:attr:`Feedback.skipped`.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .records import normalised_question

__all__ = ["Approved", "Feedback", "Label", "Pair", "approved", "load", "pairs", "resolve"]

_ALL = 10**9


@dataclass(frozen=True, slots=True)
class Label:
    """One vote: ``chosen`` (a trace id, or None when ``chosen_text`` is a correction) is
    preferred to ``rejected`` (a trace id)."""

    kind: str
    chosen: str | None
    rejected: str
    source: str
    created_at: str
    ids: tuple[int, ...]
    chosen_text: str | None = None
    judge: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Pair:
    """A settled preference: the winning label, with how disagreement was settled."""

    label: Label
    resolution: str | None = None
    overruled: tuple[int, ...] = ()

    @property
    def prompt_trace_id(self) -> str:
        """The trace whose prompt the pair is asked with (the chosen answer's, else the
        corrected answer's)."""
        return self.label.chosen or self.label.rejected

    @property
    def trace_ids(self) -> tuple[str, ...]:
        return tuple(t for t in (self.label.chosen, self.label.rejected) if t)


@dataclass(frozen=True, slots=True)
class Approved:
    """An answer fit for supervised fine-tuning: rated up, or replaced by its correction."""

    trace_id: str
    text: str
    label: Label


@dataclass
class Feedback:
    """The feedback records worth using, with the ask-log records they point at."""

    records: list[dict[str, Any]]
    asks: dict[str, dict[str, Any]]
    skipped: Counter[str] = field(default_factory=Counter)

    def answer_text(self, trace_id: str) -> str:
        return str((self.asks[trace_id].get("answer") or {}).get("text") or "")


def _traces_of(record: dict[str, Any]) -> list[str]:
    names = ("trace_id", "chosen_trace_id", "rejected_trace_id", "parent_trace_id")
    return [record[n] for n in names if record.get(n)]


def load(store: Any, records: Iterable[dict[str, Any]] | None = None) -> Feedback:
    """Every feedback record of ``store`` (or ``records``), oldest first, without flagged
    ones and those whose answers are no longer in the ask log."""
    rows = list(store.feedback(_ALL) if records is None else records)
    rows.sort(key=lambda r: (str(r.get("created_at") or ""), int(r.get("id") or 0)))
    out = Feedback([], {})
    missing: set[str] = set()
    for record in rows:
        if record.get("flagged"):
            out.skipped["flagged_injection"] += 1
            continue
        traces = _traces_of(record)
        for trace_id in traces:
            if trace_id not in out.asks and trace_id not in missing:
                found = store.asks(1, trace_id)
                if found:
                    out.asks[trace_id] = found[0]
                else:
                    missing.add(trace_id)
        if any(t in missing for t in traces):
            out.skipped["erased_trace"] += 1
            continue
        out.records.append(record)
    return out


def _order(label: Label) -> tuple[str, int]:
    return label.created_at, max(label.ids)


def resolve(labels: Sequence[Label]) -> tuple[Label, str | None, tuple[int, ...]]:
    """The winning label among votes on one thing: a person's beats an AI's, then the latest.
    Returns (winner, resolution, ids of the labels that disagreed and lost)."""
    humans = [lab for lab in labels if lab.source == "human"]
    winner = max(humans or labels, key=_order)
    key = (winner.chosen, winner.chosen_text)
    lost = [lab for lab in labels if (lab.chosen, lab.chosen_text) != key]
    if not lost:
        return winner, None, ()
    rules = []
    if any(lab.source == "human" for lab in lost):
        rules.append("latest_human")
    if winner.source == "human" and any(lab.source == "ai" for lab in lost):
        rules.append("human_over_ai")
    if winner.source == "ai":
        rules.append("latest_ai")
    return winner, "+".join(rules), tuple(sorted(i for lab in lost for i in lab.ids))


def _label(record: dict[str, Any], kind: str, chosen: str | None, rejected: str,
           chosen_text: str | None = None) -> Label:
    return Label(kind, chosen, rejected, str(record.get("source") or "human"),
                 str(record.get("created_at") or ""), (int(record["id"]),), chosen_text,
                 record.get("judge"), record.get("confidence"))


def _ratings(fb: Feedback) -> dict[str, tuple[Label, str]]:
    """Each rated answer's settled rating: (the winning vote, "up" or "down")."""
    votes: dict[str, list[Label]] = defaultdict(list)
    for r in fb.records:
        if r.get("rating") in ("up", "down") and r.get("kind") != "pairwise":
            # the rating rides in chosen_text, so that opposite ratings disagree
            votes[r["trace_id"]].append(_label(r, "rating", None, r["trace_id"], r["rating"]))
    settled = {}
    for trace_id, labels in votes.items():
        winner = resolve(labels)[0]
        settled[trace_id] = (winner, str(winner.chosen_text))
    return settled


def _corrections(fb: Feedback) -> dict[str, tuple[Label, str | None, tuple[int, ...]]]:
    votes: dict[str, list[Label]] = defaultdict(list)
    for r in fb.records:
        if r.get("correction"):
            votes[r["trace_id"]].append(
                _label(r, "correction", None, r["trace_id"], r["correction"]))
    return {t: resolve(labels) for t, labels in votes.items()}


def _rating_labels(fb: Feedback, ratings: dict[str, tuple[Label, str]]) -> list[Label]:
    by_question: dict[str, list[str]] = defaultdict(list)
    for trace_id in ratings:
        by_question[normalised_question(str(fb.asks[trace_id].get("question", "")))].append(
            trace_id)
    out = []
    for traces in by_question.values():
        ups = [t for t in traces if ratings[t][1] == "up"]
        downs = [t for t in traces if ratings[t][1] == "down"]
        for up, down in itertools.product(ups, downs):
            a, b = ratings[up][0], ratings[down][0]
            ai = [lab for lab in (a, b) if lab.source == "ai"]
            out.append(Label(
                "ratings", up, down, "ai" if ai else "human", max(a.created_at, b.created_at),
                tuple(sorted(a.ids + b.ids)), None, ai[0].judge if ai else None,
                min(float(lab.confidence or 0.0) for lab in ai) if ai else None))
    return out


def pairs(fb: Feedback) -> list[Pair]:
    """Every settled preference pair, corrections first, then answer-against-answer pairs."""
    out = [Pair(winner, resolution, lost)
           for winner, resolution, lost in _corrections(fb).values()]
    votes: dict[frozenset[str], list[Label]] = defaultdict(list)
    for r in fb.records:
        if r.get("kind") == "pairwise":
            lab = _label(r, "pairwise", r["chosen_trace_id"], r["rejected_trace_id"])
            votes[frozenset((lab.rejected, str(lab.chosen)))].append(lab)
    for lab in _rating_labels(fb, _ratings(fb)):
        votes[frozenset((lab.rejected, str(lab.chosen)))].append(lab)
    for labels in votes.values():
        out.append(Pair(*resolve(labels)))
    return out


def approved(fb: Feedback) -> list[Approved]:
    """Answers to learn from as they are: the settled correction of an answer, else an
    answer whose settled rating is up."""
    corrections = _corrections(fb)
    out = [Approved(t, str(winner.chosen_text), winner)
           for t, (winner, _, _) in corrections.items()]
    for trace_id, (winner, rating) in _ratings(fb).items():
        if rating == "up" and trace_id not in corrections:
            out.append(Approved(trace_id, fb.answer_text(trace_id), winner))
    return out
