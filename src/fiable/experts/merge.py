"""Merge the answers of the parts of a split question into one :class:`Answer`.

Sources are renumbered across parts (part 1 keeps 1..n1, part 2 gets n1+1.., ...) and every
sentence's citations follow, so each ``[n]`` still points at the passage the expert that
wrote the sentence was shown. A part that abstained contributes one sentence of its own
("<sub-question>: not in the documents.") and no claim; the others keep their answers.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

from ..answer import Answer, AnswerSentence, Source
from .gate import GateResult

__all__ = ["PartOutcome", "merge_answers", "part_refusal"]

_CITATION = re.compile(r"\s*\[\d+\](?:\[\d+\])*")
_REFUSALS = {"en": "{question}: not in the documents.",
             "fr": "{question} : ne figure pas dans les documents."}


@dataclass(frozen=True, slots=True)
class PartOutcome:
    """One sub-question: where the gate sent it and what came back.

    ``status``: ``answered``, ``flagged`` (answered, a sentence unsupported), ``abstained``,
    ``timeout`` (the request's time budget ran out first) or ``error`` (its pipeline
    failed; ``error`` says how)."""

    index: int
    question: str
    gate: GateResult
    expert: str | None  # the expert whose settings answered (the gate's first), None: fallback
    status: str
    answer: Answer | None = None
    messages: tuple[dict[str, str], ...] = ()
    trace: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


def part_refusal(question: str, language: str = "en") -> str:
    """The sentence standing for a part without support."""
    return _REFUSALS.get(language, _REFUSALS["en"]).format(question=question.rstrip(" ?？.!"))


def _renumbered(source: Source, offset: int) -> Source:
    return dataclasses.replace(source, number=source.number + offset)


def _text(sentences: Sequence[AnswerSentence]) -> str:
    return " ".join(s.text + ("" if not s.citations else " " + "".join(f"[{n}]" for n in s.citations))
                    for s in sentences)


def merge_answers(question: str, parts: Sequence[PartOutcome], *, trace_id: str,
                  created_at: str | None = None, embedder_model: str,
                  verification: str | None, timings: dict[str, float]) -> Answer:
    """One answer for ``question`` from its parts (see module docstring). With a single
    part, that part's answer under the request's trace id and question."""
    created_at = created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    sentences: list[AnswerSentence] = []
    sources: list[Source] = []
    screening: list[dict[str, str]] = []
    usage: dict[str, int] = {}
    models: list[str] = []
    versions: list[str] = []
    supports: list[float] = []
    relevance: list[float] = []
    summaries: list[dict[str, Any]] = []
    reasons: list[str] = []
    language = "en"
    for part in parts:
        answer = part.answer
        offset = len(sources)
        numbers: list[int] = []
        if answer is not None:
            if part.index == 0:
                language = str(getattr(answer, "language", language))
            sources += [_renumbered(s, offset) for s in answer.sources]
            numbers = [s.number + offset for s in answer.sources]
            screening += list(answer.screening)
            for key, value in answer.usage.items():
                usage[key] = usage.get(key, 0) + value
            if answer.generator_model and answer.generator_model not in models:
                models.append(answer.generator_model)
            if answer.prompt_version and answer.prompt_version not in versions:
                versions.append(answer.prompt_version)
            if answer.relevance is not None:
                relevance.append(answer.relevance)
        answered = answer is not None and not answer.abstained
        if answered:
            assert answer is not None
            for s in answer.sentences:
                sentences.append(dataclasses.replace(
                    s, citations=tuple(n + offset for n in s.citations)))
                if s.support is not None:
                    supports.append(s.support)
        else:
            part_language = getattr(answer, "language", "en") if answer is not None else "en"
            sentences.append(AnswerSentence(part_refusal(part.question, part_language), (),
                                            "none", 0.0))
            reason = (part.error if part.status in ("timeout", "error") else
                      answer.abstain_reason if answer is not None else part.error)
            reasons.append(f"part {part.index + 1}: {reason}")
        summaries.append({
            "index": part.index, "question": part.question, "expert": part.expert,
            "experts": list(part.gate.chosen), "fallback": part.gate.fallback,
            "collections": None if part.gate.collections is None else list(part.gate.collections),
            "weights": {k: part.gate.weights[k] for k in part.gate.chosen},
            "status": part.status,
            "text": _CITATION.sub("", answer.text).strip() if answered and answer else "",
            "sources": numbers,
            "support": answer.support if answer is not None else None,
            "abstain_reason": None if answered else reasons[-1].split(": ", 1)[1],
            "trace_id": answer.trace_id if answer is not None else None,
            "seconds": round(part.seconds, 4),
        })
    abstained = not any(p.answer is not None and not p.answer.abstained for p in parts)
    if len(parts) == 1 and parts[0].answer is not None:
        single = parts[0].answer
        return dataclasses.replace(
            single, question=question, trace_id=trace_id,
            timings={**single.timings, **timings}, parts=tuple(summaries))
    text = _text(sentences)
    extra: dict[str, Any] = {}
    if "language" in {f.name for f in dataclasses.fields(Answer)}:
        extra["language"] = language  # the first part's (multilingual answers, when present)
    return Answer(
        question=question, text=text, sentences=tuple(sentences), sources=tuple(sources),
        abstained=abstained, abstain_reason="; ".join(reasons) if abstained else None,
        generator_model="+".join(models) or None, embedder_model=embedder_model,
        prompt_version="+".join(versions) or None, trace_id=trace_id, created_at=created_at,
        timings=timings, usage=usage,
        support=round(sum(supports) / len(supports), 4) if supports else None,
        verification=verification, screening=tuple(screening),
        relevance=max(relevance) if relevance else None, parts=tuple(summaries), **extra,
        abstain_code=next((p.answer.abstain_code for p in parts if p.answer is not None
                           and p.answer.abstain_code), "no_passages") if abstained else None,
    )
