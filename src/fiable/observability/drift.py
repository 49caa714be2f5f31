"""Drift watch: the last answers compared with a baseline, and alerts when they drift.

Four metrics over a rolling window (the last ``drift_window`` answers of the ask log, and
the last ``drift_window`` rated feedback records):

========================  =====================================================  ===========
metric                    what                                                   alert when
========================  =====================================================  ===========
``abstention_rate``       share of answers that abstained                        +0.15
``mean_support``          mean answer support (answers that were verified)       -0.10
``negative_feedback``     share of "down" among rated feedback                   +0.20
``latency_p95_ms``        95th percentile of the total time of a request, ms     x1.5
========================  =====================================================  ===========

(absolute changes, except latency: a ratio; :data:`DEFAULT_THRESHOLDS`, overridable.)
A metric needs ``min_count`` values (default 10) before it can raise an alert.

The baseline, first found wins:

1. the ``baseline`` argument (metric -> value);
2. the last accepted window (``fiable watch --accept``, :func:`accept_baseline`), stored as
   an evaluation run of data set ``drift-baseline``, kind ``drift``;
3. the last QA evaluation run (``fiable eval``): its abstention rate and mean support over
   its questions, and its p95 total latency (it has no feedback).

:func:`drift_state` only computes. :func:`notify` sends alerts to the log (a warning with
``metric``, ``value``, ``baseline``, ``threshold``) and, when ``drift_webhook`` is set, as
a JSON POST; :class:`DriftWatch` (one per workspace) checks after logged answers and
notifies each alert once, when it starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Mapping, Sequence

from ..errors import UserError
from ..settings import Settings
from ..store.base import Store

__all__ = ["BASELINE_DATASET", "DEFAULT_THRESHOLDS", "METRICS", "DriftAlert", "DriftState",
           "DriftWatch", "Threshold", "accept_baseline", "drift_state", "load_baseline",
           "notify", "window_metrics"]

logger = logging.getLogger(__name__)

BASELINE_DATASET = "drift-baseline"
METRICS = ("abstention_rate", "mean_support", "negative_feedback", "latency_p95_ms")
MIN_COUNT = 10
_WEBHOOK_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Threshold:
    """How far ``metric`` may move from its baseline: ``rise`` / ``fall`` by ``amount``
    (absolute), or ``ratio``: grow beyond ``amount`` times the baseline."""

    metric: str
    kind: Literal["rise", "fall", "ratio"]
    amount: float

    def limit(self, baseline: float) -> float:
        if self.kind == "rise":
            return baseline + self.amount
        if self.kind == "fall":
            return baseline - self.amount
        return baseline * self.amount

    def crossed(self, value: float, baseline: float) -> bool:
        if self.kind == "fall":
            return value < self.limit(baseline)
        if self.kind == "ratio" and baseline <= 0:
            return False
        return value > self.limit(baseline)

    def describe(self) -> str:
        return {"rise": f"+{self.amount:g}", "fall": f"-{self.amount:g}",
                "ratio": f"x{self.amount:g}"}[self.kind]


DEFAULT_THRESHOLDS: Mapping[str, Threshold] = {
    "abstention_rate": Threshold("abstention_rate", "rise", 0.15),
    "mean_support": Threshold("mean_support", "fall", 0.10),
    "negative_feedback": Threshold("negative_feedback", "rise", 0.20),
    "latency_p95_ms": Threshold("latency_p95_ms", "ratio", 1.5),
}


@dataclass(frozen=True, slots=True)
class DriftAlert:
    metric: str
    value: float
    baseline: float
    threshold: float  # the limit crossed: baseline +/- the change allowed, or x the ratio
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "baseline": self.baseline,
                "threshold": self.threshold, "message": self.message}


@dataclass(frozen=True, slots=True)
class DriftState:
    """The window's metrics next to the baseline's, and the alerts they raise.
    ``baseline_source`` says where the baseline came from (None: no baseline)."""

    window: int
    count: int
    metrics: dict[str, dict[str, float | None]]
    alerts: tuple[DriftAlert, ...] = ()
    baseline_source: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # values behind each metric

    def to_dict(self) -> dict[str, Any]:
        """``{"window", "count", "metrics": {name: {"value", "baseline"}}, "alerts": [...]}``
        (what ``GET /v1/admin/drift`` returns)."""
        return {"window": self.window, "count": self.count,
                "metrics": {k: dict(v) for k, v in self.metrics.items()},
                "alerts": [a.to_dict() for a in self.alerts]}


def _round(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 4)


def _p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def window_metrics(store: Store, window: int) -> tuple[dict[str, float | None], dict[str, int],
                                                       list[str]]:
    """The metrics over the last ``window`` answers (and rated feedback records): values,
    how many values each rests on, and the trace ids of the answers."""
    records = store.asks(limit=window)
    answers = [r.get("answer") or {} for r in records]
    supports = [float(a["support"]) for a in answers if a.get("support") is not None]
    latencies = [float(a["timings"]["total"]) * 1000 for a in answers
                 if (a.get("timings") or {}).get("total") is not None]
    ratings = [f.get("rating") for f in store.feedback(limit=window)]
    rated = [r for r in ratings if r in ("up", "down")]
    values = {
        "abstention_rate": _mean([float(bool(a.get("abstained"))) for a in answers]),
        "mean_support": _mean(supports),
        "negative_feedback": _mean([float(r == "down") for r in rated]),
        "latency_p95_ms": _p95(latencies),
    }
    counts = {"abstention_rate": len(answers), "mean_support": len(supports),
              "negative_feedback": len(rated), "latency_p95_ms": len(latencies)}
    return ({k: _round(v) for k, v in values.items()}, counts,
            [str(r.get("trace_id")) for r in records])


def _from_evaluation(store: Store, run: Mapping[str, Any]) -> dict[str, float | None]:
    found = store.eval_run(int(run["id"]))
    items = found[1] if found else []
    supports = [float(it["support"]) for it in items if it.get("support") is not None]
    total = ((run.get("latency") or {}).get("total") or {}).get("p95_ms")
    return {"abstention_rate": _round(_mean([float(bool(it.get("abstained"))) for it in items])),
            "mean_support": _round(_mean(supports)),
            "negative_feedback": None,
            "latency_p95_ms": _round(total)}


def load_baseline(store: Store) -> tuple[dict[str, float | None], str] | None:
    """The stored baseline and where it comes from: the last accepted window, else the
    last QA evaluation run; None when there is neither."""
    accepted = store.eval_runs(limit=1, dataset=BASELINE_DATASET)
    if accepted:
        run = accepted[0]
        metrics = run.get("metrics") or {}
        source = (f"accepted window of {run.get('items')} answers, {run.get('created_at')} "
                  f"(run {run['id']})")
        return {m: _round(metrics.get(m)) for m in METRICS}, source
    for run in store.eval_runs(limit=100):
        if run.get("kind") == "qa":
            return (_from_evaluation(store, run),
                    f"evaluation run {run['id']} on {run.get('dataset')}, {run.get('created_at')}")
    return None


def _thresholds(overrides: Mapping[str, float] | None) -> dict[str, Threshold]:
    out = dict(DEFAULT_THRESHOLDS)
    for name, amount in (overrides or {}).items():
        if name not in out:
            raise UserError(f"no drift metric {name!r}", hint=f"use one of: {', '.join(METRICS)}")
        out[name] = Threshold(name, out[name].kind, float(amount))
    return out


def drift_state(
    store: Store,
    settings: Settings,
    *,
    baseline: Mapping[str, float | None] | None = None,
    thresholds: Mapping[str, float] | None = None,
    window: int | None = None,
    min_count: int = MIN_COUNT,
) -> DriftState:
    """The drift state now: the last ``window`` (default ``drift_window``) answers against
    ``baseline`` (default: :func:`load_baseline`). ``thresholds`` override the changes
    allowed (metric -> amount, e.g. ``{"abstention_rate": 0.3}``)."""
    size = window or settings.drift_window
    if size < 1:
        raise UserError(f"the drift window must be at least 1 (got {size})",
                        hint="set drift_window to the number of answers to watch, e.g. 100")
    limits = _thresholds(thresholds)
    values, counts, trace_ids = window_metrics(store, size)
    source: str | None = "given"
    if baseline is None:
        loaded = load_baseline(store)
        baseline, source = loaded if loaded else ({}, None)
    alerts = []
    for name in METRICS:
        value, base = values.get(name), _round(baseline.get(name))
        if value is None or base is None or counts.get(name, 0) < min_count:
            continue
        rule = limits[name]
        if rule.crossed(value, base):
            limit = round(rule.limit(base), 4)
            alerts.append(DriftAlert(
                name, value, base, limit,
                f"{name} is {value:g} over the last {counts[name]} values; baseline {base:g}, "
                f"alert beyond {limit:g} ({rule.describe()})"))
    return DriftState(
        window=size, count=len(trace_ids),
        metrics={m: {"value": values.get(m), "baseline": _round(baseline.get(m))} for m in METRICS},
        alerts=tuple(alerts), baseline_source=source, counts=counts)


def accept_baseline(store: Store, settings: Settings, *, window: int | None = None
                    ) -> dict[str, Any]:
    """Store the current window's metrics as the baseline (``fiable watch --accept``);
    return the stored summary."""
    size = window or settings.drift_window
    values, counts, trace_ids = window_metrics(store, size)
    if not trace_ids:
        raise UserError("no answers in the ask log to accept as a baseline",
                        hint="ask questions first (with log_asks on), then `fiable watch --accept`")
    summary: dict[str, Any] = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "label": "drift baseline",
        "dataset": BASELINE_DATASET,
        "dataset_path": f"ask log (last {size} answers)",
        "dataset_fingerprint": hashlib.sha256("\n".join(trace_ids).encode()).hexdigest(),
        "kind": "drift",
        "split": None,
        "items": len(trace_ids),
        "window": size,
        "counts": counts,
        "metrics": values,
        "seconds": 0,
    }
    summary["id"] = store.save_eval_run(summary, [])
    return summary


def notify(state: DriftState, settings: Settings,
           alerts: Sequence[DriftAlert] | None = None) -> bool:
    """Log ``alerts`` (default: all of ``state``'s) and POST them to ``drift_webhook`` when
    set. Returns whether the webhook accepted them (False also when there is none); a
    failing webhook is logged, never raised."""
    chosen = list(state.alerts if alerts is None else alerts)
    if not chosen:
        return False
    for a in chosen:
        logger.warning("drift alert: %s", a.message, extra={
            "metric": a.metric, "value": a.value, "baseline": a.baseline,
            "threshold": a.threshold, "window": state.window})
    url = settings.drift_webhook.strip()
    if not url:
        return False
    if not url.lower().startswith(("http://", "https://")):
        logger.warning("drift webhook not called: it must be an http(s) URL",
                       extra={"fix": "set drift_webhook to http(s)://..."})
        return False
    body = json.dumps({"event": "fiable.drift", "alerts": [a.to_dict() for a in chosen],
                       "state": state.to_dict()}).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "fiable-drift"})
    try:
        with urllib.request.urlopen(request, timeout=_WEBHOOK_TIMEOUT) as response:
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:  # HTTPError is a URLError
        logger.warning("drift webhook failed", extra={"error": str(exc)})  # not the URL: secret
        return False
    if not ok:
        logger.warning("drift webhook failed", extra={"status": response.status})
    return ok


class DriftWatch:
    """Checks drift every ``every`` logged answers (default ``drift_window // 10``, at least
    1) and notifies each alert once, when it starts; an alert that clears and comes back is
    sent again. Thread-safe; one per workspace.

    The check (reading the window from the store) and the webhook POST run on one worker
    thread, never in the answer that triggered them; :meth:`close` waits for it."""

    def __init__(self, store: Store, settings: Settings, *, every: int | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.store = store
        self.settings = settings
        self.every = every or max(1, settings.drift_window // 10)
        self._seen = 0
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fiable-drift")

    def observe(self) -> None:
        """Count one logged answer; schedule a check when due. Never raises."""
        with self._lock:
            self._seen += 1
            if self._seen % self.every:
                return
        self._worker.submit(self.check)

    def check(self) -> DriftState | None:
        """Check now and notify new alerts. Returns the state, or None if the check failed
        (logged: the watch must never fail an answer)."""
        try:
            state = drift_state(self.store, self.settings)
        except Exception as exc:  # noqa: BLE001
            logger.warning("drift check failed", extra={"error": repr(exc)})
            return None
        with self._lock:
            new = [a for a in state.alerts if a.metric not in self._active]
            self._active = {a.metric for a in state.alerts}
        if new:
            notify(state, self.settings, new)
        return state

    def close(self) -> None:
        """Finish the checks scheduled so far."""
        self._worker.shutdown(wait=True)
