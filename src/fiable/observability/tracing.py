"""A span tree per request: what each stage of the ask pipeline took, and what it decided.

One :class:`Tracer` per request (no global state). The pipeline opens spans around its
stages; :meth:`Tracer.finish` closes the tree and returns it as plain data:

    {"trace_id": "…", "started_at": "2025-…Z", "start_unix_ns": 17…,
     "spans": [{"name": "ask", "start_ms": 0.0, "duration_ms": 41.2, "attributes": {…},
                "children": [{"name": "guard", …}, {"name": "retrieve", …}, …]}]}

``start_ms`` is the offset from the start of the request, so every child lies within its
parent. Attributes are technical (counts, scores, model names, decisions), never the text
of the question, the prompt or a passage: content is captured beside the trace, in the ask
log, under the ``trace_content`` and ``pii_logs`` settings. The same spans go to an
OpenTelemetry collector when ``otlp_endpoint`` is set (:mod:`fiable.observability.otlp`).

The helpers at the bottom read stored traces back (``fiable traces``).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence

__all__ = ["Span", "Tracer", "decision_of", "find_span", "iter_spans", "render_tree"]

Clock = Callable[[], float]


def _clean(value: Any) -> Any:
    """An attribute value OpenTelemetry accepts: str, bool, int, float or a list of one
    of them; None when there is nothing to keep."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_clean(v) for v in value if v is not None]
        return items or None
    return str(value)


@dataclass(slots=True, eq=False)
class Span:
    """One timed stage. ``start`` and ``end`` are readings of the tracer's clock (seconds)."""

    name: str
    start: float
    end: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list["Span"] = field(default_factory=list)

    def set(self, **attributes: Any) -> "Span":
        """Add attributes (None values are dropped)."""
        for key, value in attributes.items():
            cleaned = _clean(value)
            if cleaned is not None:
                self.attributes[key] = cleaned
        return self

    def to_dict(self, origin: float) -> dict[str, Any]:
        # Offsets are rounded before the duration is taken: a child rounded this way never
        # starts before, nor ends after, its parent.
        start = round((self.start - origin) * 1000, 3)
        end = round(((self.end if self.end is not None else self.start) - origin) * 1000, 3)
        return {"name": self.name, "start_ms": start, "duration_ms": round(end - start, 3),
                "attributes": dict(self.attributes),
                "children": [c.to_dict(origin) for c in self.children]}


class Tracer:
    """Records the span tree of one request.

    ``span(name)`` is a context manager that opens a child of the innermost open span;
    ``add(name, start, end)`` records a stage timed elsewhere (readings of the same clock,
    ``time.perf_counter`` by default). Hooks for later stages (a ``route`` span from a
    router) use the same two calls.
    """

    def __init__(self, trace_id: str, name: str = "ask", *, started: float | None = None,
                 clock: Clock = time.perf_counter, **attributes: Any) -> None:
        self.trace_id = trace_id
        self._clock = clock
        now = clock()
        self.started = now if started is None else started
        self.start_unix_ns = time.time_ns() - int((now - self.started) * 1e9)
        self.root = Span(name, self.started).set(**attributes)
        self._open: list[Span] = [self.root]

    @property
    def current(self) -> Span:
        return self._open[-1]

    def start(self, name: str, **attributes: Any) -> Span:
        span = Span(name, self._clock()).set(**attributes)
        self.current.children.append(span)
        self._open.append(span)
        return span

    def end(self, span: Span, *, at: float | None = None, **attributes: Any) -> Span:
        """Close ``span`` (and any span left open inside it)."""
        span.set(**attributes)
        now = self._clock() if at is None else at
        if any(s is span for s in self._open):
            while self._open:
                inner = self._open.pop()
                if inner.end is None:
                    inner.end = now
                if inner is span:
                    break
        elif span.end is None:
            span.end = now
        return span

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Span]:
        span = self.start(name, **attributes)
        try:
            yield span
        finally:
            if span.end is None:
                self.end(span)

    def add(self, name: str, start: float, end: float, *, parent: Span | None = None,
            **attributes: Any) -> Span:
        """A finished span measured elsewhere, as a child of ``parent`` (default: the
        innermost open span)."""
        span = Span(name, start, end).set(**attributes)
        (parent or self.current).children.append(span)
        return span

    def last_end(self) -> float:
        """When the latest finished child of the innermost open span ended (its start when
        none has)."""
        ends = [c.end for c in self.current.children if c.end is not None]
        return max(ends) if ends else self.current.start

    def finish(self, *, at: float | None = None, **attributes: Any) -> dict[str, Any]:
        """Close every open span and return the trace as plain data."""
        self.end(self.root, at=at, **attributes)
        self._open = []
        started_at = datetime.fromtimestamp(self.start_unix_ns / 1e9, timezone.utc)
        return {"trace_id": self.trace_id,
                "started_at": started_at.isoformat(timespec="milliseconds"),
                "start_unix_ns": self.start_unix_ns,
                "spans": [self.root.to_dict(self.started)]}


# -- reading stored traces --------------------------------------------------------------
def iter_spans(spans: Sequence[Mapping[str, Any]], depth: int = 0
               ) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Every span of a stored tree, depth first, with its depth."""
    for span in spans:
        yield depth, span
        yield from iter_spans(span.get("children") or (), depth + 1)


def find_span(trace: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    """The first span called ``name`` in a stored trace, or None."""
    for _, span in iter_spans((trace or {}).get("spans") or ()):
        if span.get("name") == name:
            return span
    return None


def decision_of(record: Mapping[str, Any]) -> str:
    """What the pipeline decided for a stored request: ``answered``, ``flagged``, ``quoted``
    (a passage sentence quoted when the model gave no answer), ``abstained-before`` (generation) or ``abstained-after`` (from the ``policy`` span;
    derived from the answer for records written before traces existed)."""
    policy = find_span(record.get("trace"), "policy")
    if policy and policy.get("attributes", {}).get("decision"):
        return str(policy["attributes"]["decision"])
    answer = record.get("answer") or {}
    if answer.get("abstained"):
        return "abstained-after" if answer.get("generator_model") else "abstained-before"
    if any(s.get("label") == "unsupported" for s in answer.get("sentences") or ()):
        return "flagged"
    return "answered"


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def render_tree(spans: Sequence[Mapping[str, Any]]) -> str:
    """A stored span tree as indented text: name, duration, start offset, attributes."""
    lines = []
    for depth, span in iter_spans(spans):
        head = f"{'  ' * depth}{span['name']}"
        attrs = " ".join(f"{k}={_value(v)}" for k, v in (span.get("attributes") or {}).items())
        lines.append(f"{head:<24} {span['duration_ms']:>10.2f} ms  @{span['start_ms']:>9.2f}"
                     + (f"  {attrs}" if attrs else ""))
    return "\n".join(lines) + ("\n" if lines else "")
