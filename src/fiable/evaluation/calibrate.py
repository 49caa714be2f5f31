"""Abstention thresholds from one evaluation pass (no generation per candidate).

A QA run with ``min_relevance = 0`` and ``verify = flag`` records, per question, the best
passage similarity (``relevance``), the answer's support and its F1. Both abstention rules
are thresholds on those numbers, so every (min_relevance, support_threshold) pair is scored
exactly from the same items: abstain when relevance < min_relevance (before generation) or
support < support_threshold (after), besides the model's own "Not in the documents.".
When the items carry the answerability classifier's P(answerable) (a pass with
``answerability = classifier`` and ``answerability_threshold = 0`` records it without
abstaining), ``answerability_threshold`` is calibrated in the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from . import metrics as m

__all__ = ["ANSWERABILITY_GRID", "RELEVANCE_GRID", "SUPPORT_GRID", "Calibration", "calibrate_abstention", "outcome"]

RELEVANCE_GRID = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
SUPPORT_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
ANSWERABILITY_GRID = tuple(round(0.3 + 0.01 * i, 2) for i in range(31))  # 0 (off), 0.30-0.60


def outcome(items: Sequence[dict[str, Any]], min_relevance: float, support_threshold: float,
            answerability_threshold: float = 0.0) -> dict[str, float]:
    """Answer F1 (answerable questions) and abstention P/R/F1 under the thresholds (an item
    without an ``answerability`` score is never refused by the classifier)."""
    abstained, unanswerable, f1 = [], [], []
    for it in items:
        a = bool(it["abstained"]) or it.get("relevance") is None \
            or it["relevance"] < min_relevance \
            or (it.get("support") is not None and it["support"] < support_threshold) \
            or (it.get("answerability") is not None
                and it["answerability"] < answerability_threshold)
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
    answerability_threshold: float = 0.0  # 0: the classifier is not used


def calibrate_abstention(items: Sequence[dict[str, Any]], *, max_f1_drop: float = 0.05
                         ) -> Calibration:
    """The thresholds with the best abstention F1 whose answer F1 is at most ``max_f1_drop``
    under no abstention (ties: higher answer F1, then the lower thresholds). The
    answerability threshold is searched only when the items carry its scores."""
    baseline = outcome(items, 0.0, 0.0)
    scored = any(it.get("answerability") is not None for it in items)
    classifier = (0.0, *ANSWERABILITY_GRID) if scored else (0.0,)
    grid = [(r, s, a, outcome(items, r, s, a))
            for r in RELEVANCE_GRID for s in SUPPORT_GRID for a in classifier]
    eligible = [g for g in grid if g[3]["f1"] >= baseline["f1"] - max_f1_drop]
    r, s, a, chosen = max(eligible, key=lambda g: (g[3]["abstention.f1"], g[3]["f1"],
                                                   -g[0], -g[1], -g[2]))
    return Calibration(r, s, chosen, baseline, a)
