"""Observability: a span tree per request (:mod:`.tracing`), optional OTLP export
(:mod:`.otlp`, the ``otlp`` extra) and drift watch (:mod:`.drift`).

Importing this package loads no OpenTelemetry module; the exporter is imported when
``otlp_endpoint`` is set.
"""
