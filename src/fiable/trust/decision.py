"""The answer decision after generation: give the answer, or say it is not in the documents.

Before generation the answerability classifier (:mod:`fiable.trust.answerability`) reads
the question against the passages; it cannot see what the model will make of them. After
generation two more pieces of evidence exist, and this module weighs all three in one
logistic model:

- ``answerability``: the classifier's P(answerable), as a log-odds;
- ``refusal``: how likely the model was to start its reply with the refusal phrase, read
  from the log-probabilities of its first token (the model may answer while being close
  to refusing: on SQuAD 2.0 dev that probability separates unanswerable questions about as
  well as the classifier, and differently); absent when the backend gives no
  log-probabilities (then :data:`WEIGHTS_WITHOUT_REFUSAL` apply);
- the answer's **binding** (:mod:`fiable.trust.binding`): whether the passage sentence
  holding the answer's value also holds what the question asks about.

The answer is given when P(right to answer) >= ``answer_threshold``. Weights were fitted
on dev splits only (``python benchmarks/answer_decision.py --fit``, see the comment on
:data:`WEIGHTS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import ConfigError
from .binding import BINDING_FEATURES, Binding

__all__ = ["DECISION_FEATURES", "WEIGHTS", "WEIGHTS_WITHOUT_REFUSAL", "Verdict", "decide",
           "refusal_probability"]

DECISION_FEATURES = ("answerability", "refusal", *BINDING_FEATURES)

# Provenance: see benchmarks/answer_decision.py --fit (filled in by the fit below).
WEIGHTS: dict[str, float] = {'bias': 1.39, 'answerability': 1.011, 'refusal': -10.574, 'anchored': 0.914, 'window_coverage': -0.707, 'window_names_missing': -3.339, 'window_numbers_missing': -3.663, 'window_antonym': -0.863, 'answer_type': -2.128}
WEIGHTS_WITHOUT_REFUSAL: dict[str, float] = {'bias': 0.908, 'answerability': 1.01, 'anchored': 1.17, 'window_coverage': -0.819, 'window_names_missing': -3.614, 'window_numbers_missing': -3.594, 'window_antonym': -1.328, 'answer_type': -2.233}


def refusal_probability(first_logprobs: Mapping[str, float] | None, refusal: str) -> float | None:
    """The probability that the reply starts with ``refusal`` ("Not in the documents."),
    from the first token's alternatives: the mass of those that begin it (``Not``, ``
    Not``); None when there are no log-probabilities."""
    if not first_logprobs:
        return None
    opening = refusal.strip().lower()
    mass = 0.0
    for token, logprob in first_logprobs.items():
        piece = token.strip().lower()
        if len(piece) >= 2 and opening.startswith(piece):
            mass += math.exp(logprob)
    return min(1.0, mass)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass(frozen=True, slots=True)
class Verdict:
    """P(right to answer) and whether the answer is withheld (``score`` < ``threshold``)."""

    score: float
    threshold: float
    abstain: bool
    features: dict[str, float] = field(default_factory=dict)
    anchor: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"score": self.score, "threshold": self.threshold, "abstain": self.abstain,
                "features": dict(self.features), "anchor": self.anchor}


def decide(answerability: float, refusal: float | None, binding: Binding, threshold: float,
           weights: Mapping[str, float] | None = None) -> Verdict:
    """The decision for an answer whose question had P(answerable) ``answerability``, whose
    model had ``refusal`` probability of refusing (None: not known) and whose value is
    anchored as ``binding`` says."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"answer_threshold is {threshold}; it must be between 0 and 1",
                          hint="set answer_threshold to a probability, e.g. 0.5")
    values = {"answerability": round(_logit(answerability), 4), **binding.features}
    if refusal is not None:
        values["refusal"] = round(refusal, 4)
    w = weights if weights is not None else (WEIGHTS if refusal is not None
                                             else WEIGHTS_WITHOUT_REFUSAL)
    z = w.get("bias", 0.0) + sum(w.get(name, 0.0) * float(values.get(name, 0.0))
                                 for name in DECISION_FEATURES)
    p = round(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))), 4)
    return Verdict(p, threshold, p < threshold, values, binding.anchor)
