"""Export finished traces to an OpenTelemetry collector (OTLP over HTTP, protobuf).

One :class:`OtlpExporter` per workspace, built when ``otlp_endpoint`` is set: its own
``TracerProvider`` (the global one is never set or read) with a ``BatchSpanProcessor``;
``close()`` flushes it (``Workspace.close()`` calls it). Each fiable trace becomes one
OpenTelemetry trace whose id is fiable's ``trace_id`` (its 32 hex digits; other ids are
hashed), with the same span names, attributes and timings. Spans carry no content (no
question, prompt or passage text). Needs the ``otlp`` extra, imported here only.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Mapping

from ..errors import ConfigError

__all__ = ["OtlpExporter", "otel_trace_id"]

_TIMEOUT_S = 5.0


def otel_trace_id(trace_id: str) -> int:
    """The 128-bit OpenTelemetry trace id for fiable's ``trace_id``."""
    text = trace_id.strip().lower()
    if len(text) == 32:
        try:
            value = int(text, 16)
        except ValueError:
            value = 0
        if value:
            return value
    return int(hashlib.sha256(trace_id.encode("utf-8")).hexdigest()[:32], 16) or 1


def _attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            kinds = {type(v) for v in value}
            out[key] = list(value) if len(kinds) <= 1 else [str(v) for v in value]
        elif isinstance(value, (str, bool, int, float)):
            out[key] = value
        else:
            out[key] = json.dumps(value, default=str)
    return out


class OtlpExporter:
    """Sends fiable traces to ``endpoint`` (e.g. ``http://127.0.0.1:4318/v1/traces``)."""

    def __init__(self, endpoint: str, *, service_name: str = "fiable") -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
            from opentelemetry.sdk.trace.sampling import ALWAYS_ON
        except ImportError as exc:
            raise ConfigError(
                "otlp_endpoint is set but the OpenTelemetry exporter is not installed "
                f"({exc.name})",
                hint="pip install 'fiable[otlp]', or set otlp_endpoint to empty") from exc

        class _TraceIds(IdGenerator):  # root spans take the id of the trace being exported
            def __init__(self) -> None:
                self.random = RandomIdGenerator()
                self.next: int | None = None

            def generate_span_id(self) -> int:
                return self.random.generate_span_id()

            def generate_trace_id(self) -> int:
                return self.next or self.random.generate_trace_id()

        from fiable import __version__

        self._ids = _TraceIds()
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name,
                                      "service.version": __version__}),
            sampler=ALWAYS_ON, id_generator=self._ids, shutdown_on_exit=False)
        self._provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, timeout=_TIMEOUT_S)))
        self._tracer = self._provider.get_tracer("fiable", __version__)
        self._lock = threading.Lock()
        self._closed = False

    def export(self, trace: Mapping[str, Any]) -> None:
        """Queue one finished trace (``Done.trace``) for export."""
        from opentelemetry import trace as otel
        from opentelemetry.context import Context

        spans = trace.get("spans") or ()
        if not spans or self._closed:
            return
        origin = int(trace.get("start_unix_ns") or 0)

        def emit(span: Mapping[str, Any], context: Any, root: bool) -> None:
            start = origin + round(span["start_ms"] * 1e6)
            end = origin + round((span["start_ms"] + span["duration_ms"]) * 1e6)
            attrs = _attributes(span.get("attributes") or {})
            if root:
                attrs["fiable.trace_id"] = str(trace.get("trace_id", ""))
            otel_span = self._tracer.start_span(span["name"], context=context,
                                                attributes=attrs, start_time=start)
            child_context = otel.set_span_in_context(otel_span, Context())
            for child in span.get("children") or ():
                emit(child, child_context, False)
            otel_span.end(end_time=end)

        with self._lock:
            self._ids.next = otel_trace_id(str(trace.get("trace_id", "")))
            try:
                for span in spans:
                    emit(span, Context(), True)  # an empty context: never a caller's span
            finally:
                self._ids.next = None

    def flush(self, timeout_s: float = _TIMEOUT_S) -> bool:
        return bool(self._provider.force_flush(int(timeout_s * 1000)))

    def close(self) -> None:
        """Send what is queued, then stop the export thread."""
        if self._closed:
            return
        self._closed = True
        self._provider.force_flush(int(_TIMEOUT_S * 1000))
        self._provider.shutdown()
