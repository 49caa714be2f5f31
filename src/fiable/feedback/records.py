"""Capture: one feedback record normalised, checked and stored, once.

A record is a plain dict stored with ``store.save_feedback``. Its keys::

    kind        rating | comment | correction | pairwise | regeneration
    trace_id    the answer it is about (pairwise: the chosen one; regeneration: the child)
    source      human | ai          (ai: ``judge`` names the judge, ``confidence`` in [0, 1])
    principal   who sent it (an API key's name, ``local``, or the judge)
    rating      up | down | None    reason: why (optional, any kind)
    comment     free text           correction: the better answer (PII-masked)
    chosen_trace_id, rejected_trace_id    pairwise: two answers to the same question
    parent_trace_id, overrides             regeneration: the answer this one re-asks, and
                                           the settings changed for it
    flagged     injection kinds found in the correction ([] when clean); flagged records
                are kept for review and never exported
    content_key a digest of the content: the same principal sending the same content on the
                same trace gets the existing record's id back (idempotent)

:func:`capture` raises :class:`~fiable.errors.UnknownTraceError` for a trace not in the ask
log and :class:`~fiable.errors.InvalidFeedbackError` for a record that breaks its kind's rules.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import InvalidFeedbackError, UnknownTraceError

__all__ = ["KINDS", "SOURCES", "Captured", "capture", "content_key", "normalise",
           "normalised_question", "same_question"]

logger = logging.getLogger(__name__)

KINDS = ("rating", "comment", "correction", "pairwise", "regeneration")
SOURCES = ("human", "ai")
SCHEMA = 1
_TEXT_LIMITS = {"reason": 1000, "comment": 5000, "correction": 20000}
_CONTENT_FIELDS = ("kind", "source", "rating", "reason", "comment", "correction",
                   "chosen_trace_id", "rejected_trace_id", "parent_trace_id", "overrides",
                   "judge", "confidence")
_DUPLICATE_SCAN = 1000  # records of one trace looked at for a duplicate


@dataclass(frozen=True, slots=True)
class Captured:
    """What :func:`capture` did: the record's id, whether it was already there, and the
    injection kinds that flagged it (empty: clean)."""

    id: int
    duplicate: bool
    flagged: tuple[str, ...] = ()


def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidFeedbackError(f"feedback {name} must be text",
                                   hint=f'send e.g. "{name}": "..."')
    value = value.strip()
    if len(value) > _TEXT_LIMITS[name]:
        raise InvalidFeedbackError(f"feedback {name} is over {_TEXT_LIMITS[name]} characters",
                                   hint="shorten it")
    return value or None


def _kind_of(raw: Mapping[str, Any]) -> str:
    kind = raw.get("kind")
    if kind:
        return str(kind)
    if raw.get("chosen_trace_id") or raw.get("rejected_trace_id"):
        return "pairwise"
    if raw.get("parent_trace_id"):
        return "regeneration"
    if raw.get("correction"):
        return "correction"
    return "rating" if raw.get("rating") else "comment"


def normalise(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The record ``raw`` describes, with every key present and checked (no store access).

    Without ``kind``, it is inferred: pairwise ids, a parent, a correction, a rating, else a
    comment. A record may carry a rating, a reason and a comment besides its main content."""
    kind = _kind_of(raw)
    if kind not in KINDS:
        raise InvalidFeedbackError(f"unknown feedback kind {kind!r}",
                                   hint=f"use one of: {', '.join(KINDS)}")
    source = str(raw.get("source") or "human")
    if source not in SOURCES:
        raise InvalidFeedbackError(f"unknown feedback source {source!r}", hint="human or ai")
    rating = raw.get("rating")
    if rating not in (None, "up", "down"):
        raise InvalidFeedbackError(f"rating must be up or down, not {rating!r}",
                                   hint='"rating": "up"')
    record: dict[str, Any] = {
        "v": SCHEMA, "kind": kind, "source": source, "trace_id": raw.get("trace_id"),
        "principal": str(raw.get("principal") or "local"), "rating": rating,
        "reason": _text(raw, "reason"), "comment": _text(raw, "comment"),
        "correction": _text(raw, "correction"),
        "chosen_trace_id": raw.get("chosen_trace_id"),
        "rejected_trace_id": raw.get("rejected_trace_id"),
        "parent_trace_id": raw.get("parent_trace_id"),
        "overrides": dict(raw.get("overrides") or {}), "judge": raw.get("judge"),
        "confidence": raw.get("confidence"), "flagged": [],
    }
    _check_kind(record)
    _check_source(record)
    return record


def _check_kind(record: dict[str, Any]) -> None:
    kind = record["kind"]
    if kind == "pairwise":
        chosen, rejected = record["chosen_trace_id"], record["rejected_trace_id"]
        if not chosen or not rejected:
            raise InvalidFeedbackError("a pairwise preference needs chosen_trace_id and "
                                       "rejected_trace_id", hint="name both answers' traces")
        if chosen == rejected:
            raise InvalidFeedbackError("a pairwise preference needs two different answers",
                                       hint="chosen and rejected are the same trace")
        record["trace_id"] = chosen
    elif kind == "regeneration":
        if not record["parent_trace_id"] or not record["trace_id"]:
            raise InvalidFeedbackError("a regeneration link needs trace_id (the new answer) "
                                       "and parent_trace_id", hint="use POST /v1/regenerate")
        if record["parent_trace_id"] == record["trace_id"]:
            raise InvalidFeedbackError("an answer cannot regenerate itself",
                                       hint="parent_trace_id must differ from trace_id")
    else:
        if not record["trace_id"]:
            raise InvalidFeedbackError("feedback needs the answer's trace_id",
                                       hint="use the trace_id returned with the answer")
        needed = {"rating": "rating", "comment": "comment", "correction": "correction"}[kind]
        if record[needed] is None:
            raise InvalidFeedbackError(f"{kind} feedback needs a {needed}",
                                       hint=f'send "{needed}" with it')


def _check_source(record: dict[str, Any]) -> None:
    if record["source"] == "human":
        if record["judge"] is not None or record["confidence"] is not None:
            raise InvalidFeedbackError("judge and confidence belong to AI feedback",
                                       hint='set "source": "ai", or leave them out')
        return
    if not record["judge"]:
        raise InvalidFeedbackError("AI feedback must name its judge", hint='"judge": "model"')
    confidence = record["confidence"]
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) \
            or not 0.0 <= float(confidence) <= 1.0:
        raise InvalidFeedbackError("AI feedback needs a confidence between 0 and 1",
                                   hint='"confidence": 0.8')
    record["judge"], record["confidence"] = str(record["judge"]), float(confidence)


def content_key(record: Mapping[str, Any]) -> str:
    """A digest of who sent what on which trace: equal for duplicate submissions."""
    content = {k: record.get(k) for k in ("principal", "trace_id", *_CONTENT_FIELDS)}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


def normalised_question(text: str) -> str:
    return " ".join(text.casefold().split())


def same_question(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two ask-log records answer the same question (case and spaces aside)."""
    return normalised_question(str(a.get("question", ""))) == \
        normalised_question(str(b.get("question", "")))


def _logged(store: Any, trace_id: str) -> dict[str, Any]:
    found = store.asks(1, trace_id)
    if not found:
        raise UnknownTraceError(f"no answer with trace id {trace_id!r}",
                                hint="use the trace_id returned with the answer")
    return found[0]  # type: ignore[no-any-return]


def _check_traces(store: Any, record: Mapping[str, Any]) -> None:
    if record["kind"] == "pairwise":
        chosen = _logged(store, record["chosen_trace_id"])
        if not same_question(chosen, _logged(store, record["rejected_trace_id"])):
            raise InvalidFeedbackError("a pairwise preference needs two answers to the same "
                                       "question", hint="compare answers of one question")
    elif record["kind"] == "regeneration":
        child = _logged(store, record["trace_id"])
        if not same_question(child, _logged(store, record["parent_trace_id"])):
            raise InvalidFeedbackError("a regeneration answers the same question as its "
                                       "parent", hint="re-ask the parent's question")
    else:
        _logged(store, record["trace_id"])


def _screen(record: dict[str, Any], pii_detector: Any) -> None:
    """Mask PII in the correction; flag it when it holds instructions aimed at a model."""
    from ..trust.injection import screen
    from ..trust.pii import apply_policy

    correction = record["correction"]
    if correction is None:
        return
    masked, findings, _ = apply_policy(correction, "mask", pii_detector)
    record["correction"] = masked
    if findings:
        record["pii_masked"] = sorted({f.kind for f in findings})
    record["flagged"] = sorted({f.kind for f in screen(correction)})


def capture(store: Any, raw: Mapping[str, Any], *, pii_detector: Any) -> Captured:
    """Normalise ``raw``, check its traces in the ask log, mask and screen its correction,
    and store it, unless the same principal already sent the same content on that trace."""
    record = normalise(raw)
    _check_traces(store, record)
    _screen(record, pii_detector)
    record["content_key"] = key = content_key(record)
    for existing in store.feedback(_DUPLICATE_SCAN, record["trace_id"]):
        if existing.get("content_key") == key:
            return Captured(int(existing["id"]), True, tuple(existing.get("flagged") or ()))
    record_id = int(store.save_feedback(record))
    if record["flagged"]:
        logger.warning("feedback flagged: kept, never exported",
                       extra={"feedback_id": record_id, "injection_kinds": record["flagged"]})
    return Captured(record_id, False, tuple(record["flagged"]))
