"""Abstention thresholds from one evaluation pass (no generation per candidate).

A QA run with ``min_relevance = 0`` and ``verify = flag`` records, per question, the best
passage similarity (``relevance``), the answer's support and its F1. Both abstention rules
are thresholds on those numbers, so every (min_relevance, support_threshold) pair is scored
exactly from the same items: abstain when relevance < min_relevance (before generation) or
support < support_threshold (after), besides the model's own "Not in the documents.".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from . import metrics as m

__all__ = ["RELEVANCE_GRID", "SUPPORT_GRID", "Calibration", "calibrate_abstention", "outcome"]

RELEVANCE_GRID = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
SUPPORT_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def outcome(items: Sequence[dict[str, Any]], min_relevance: float, support_threshold: float
            ) -> dict[str, float]:
    """Answer F1 (answerable questions) and abstention P/R/F1 under the two thresholds."""
    abstained, unanswerable, f1 = [], [], []
    for it in items:
        a = bool(it["abstained"]) or it.get("relevance") is None \
            or it["relevance"] < min_relevance \
            or (it.get("support") is not None and it["support"] < support_threshold)
        abstained.append(a)
        unanswerable.append(not it["answerable"])
        if it["answerable"]:
            f1.append(0.0 if a else (it.get("f1") or 0.0))
    scores = m.abstention_scores(abstained, unanswerable)
    return {"f1": round(m.mean(f1), 4), "abstention.precision": round(scores["precision"], 4),
            "abstention.recall": round(scores["recall"], 4), "abstention.f1": round(scores["f1"], 4)}


@dataclass(frozen=True, slots=True)
class Calibration:
    min_relevance: float
    support_threshold: float
    chosen: dict[str, float]
    baseline: dict[str, float]  # no abstention beyond the model's own


def calibrate_abstention(items: Sequence[dict[str, Any]], *, max_f1_drop: float = 0.05
                         ) -> Calibration:
    """The pair with the best abstention F1 whose answer F1 is at most ``max_f1_drop``
    under no abstention (ties: higher answer F1, then the lower thresholds)."""
    baseline = outcome(items, 0.0, 0.0)
    grid = [(r, s, outcome(items, r, s)) for r in RELEVANCE_GRID for s in SUPPORT_GRID]
    eligible = [g for g in grid if g[2]["f1"] >= baseline["f1"] - max_f1_drop]
    r, s, chosen = max(eligible, key=lambda g: (g[2]["abstention.f1"], g[2]["f1"], -g[0], -g[1]))
    return Calibration(r, s, chosen, baseline)
