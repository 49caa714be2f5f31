"""Prometheus metrics of one server (its own registry: no global state).

Per stage latency, tokens/s, queue depth, answers by outcome, support scores, feedback
and errors by code; ``render()`` is the text exposition ``GET /metrics`` returns.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ServerMetrics"]

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_UNIT = tuple(i / 10 for i in range(1, 11))


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("fiable_requests", "HTTP requests by route and status",
                                ["route", "status"], registry=r)
        self.request_seconds = Histogram("fiable_request_seconds", "HTTP request latency",
                                         ["route"], buckets=_LATENCY, registry=r)
        self.stage_seconds = Histogram("fiable_stage_seconds", "Ask pipeline stage latency",
                                       ["stage"], buckets=_LATENCY, registry=r)
        self.tokens_per_second = Histogram(
            "fiable_tokens_per_second", "Generation speed of each answer",
            buckets=(1, 2, 5, 10, 20, 30, 50, 100, 200, 500), registry=r)
        self.queue_depth = Gauge("fiable_queue_depth", "Questions waiting for the model",
                                 registry=r)
        self.generating = Gauge("fiable_generating", "Questions being answered now", registry=r)
        self.answers = Counter("fiable_answers", "Answers by outcome (answered, abstained)",
                               ["outcome"], registry=r)
        self.support = Histogram("fiable_support_score", "Support score of each answered "
                                 "sentence", buckets=_UNIT, registry=r)
        self.feedback = Counter("fiable_feedback", "Feedback by rating (up, down, none)",
                                ["rating"], registry=r)
        self.errors = Counter("fiable_errors", "Errors returned, by code", ["code"], registry=r)
        self.rejected = Counter("fiable_rejected", "Questions refused by the queue (full, "
                                "timeout)", ["reason"], registry=r)
        self.disconnects = Counter("fiable_client_disconnects", "Streams the client closed "
                                   "before the end (generation cancelled)", registry=r)

    def observe_answer(self, answer: Any) -> None:
        """Stage timings, tokens/s, outcome and per-sentence support of one Answer."""
        timings = dict(answer.timings or {})
        speed = timings.pop("tokens_per_second", None)
        for stage, seconds in timings.items():
            if isinstance(seconds, (int, float)):
                self.stage_seconds.labels(stage).observe(float(seconds))
        if speed:
            self.tokens_per_second.observe(float(speed))
        self.answers.labels("abstained" if answer.abstained else "answered").inc()
        for sentence in answer.sentences:
            if sentence.support is not None:
                self.support.observe(sentence.support)

    def render(self) -> bytes:
        return generate_latest(self.registry)
