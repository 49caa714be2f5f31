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
from dataclasses import dataclass
from typing import Mapping

from ..errors import ConfigError
from .answerability import Decision, probability
from .binding import BINDING_FEATURES, Binding

__all__ = ["DECISION_FEATURES", "WEIGHTS", "WEIGHTS_WITHOUT_REFUSAL", "Verdict", "decide",
           "refusal_probability"]

DECISION_FEATURES = ("answerability", "refusal", *BINDING_FEATURES)

# Logistic weights on the raw features ("bias" is the intercept; ``answerability`` is the
# classifier's log-odds). Provenance: `python benchmarks/answer_decision.py --fit` on the
# model answers (Qwen2.5-Coder-0.5B Q4_K_M, the default prompt and retrieval, temperature 0)
# to SQuAD 2.0 dev-split questions 51-200 of each kind (272 answers, the model refused 17)
# pooled with the bundled evaluation set's dev split (29 answers of 35 questions, weighing
# half as much as the SQuAD ones: with SQuAD alone a number of the question missing near
# the answer counted -1.6, and refused "From March 2026, what mileage rate applies to the
# first 10,000 business miles?" answered right from a policy and the note that keeps its
# rates). The first 50 SQuAD dev questions of each kind are kept to choose the thresholds;
# no test split is seen. AUROC (answerable or not) over the model's answers, weights
# fitted without the rows scored: SQuAD dev 0.738 (5-fold) against 0.712 for the
# classifier alone; evaluation set dev 0.933 against 0.783.
WEIGHTS: dict[str, float] = {
    "bias": -0.012, "answerability": 0.814, "refusal": -8.942, "anchored": 0.8,
    "window_coverage": 0.115, "window_names_missing": -1.16, "window_numbers_missing": -0.366,
    "window_antonym": -2.438, "answer_type": 0.119,
}
# the same fit without the refusal feature: for backends that return no log-probabilities
WEIGHTS_WITHOUT_REFUSAL: dict[str, float] = {
    "bias": -0.577, "answerability": 0.826, "anchored": 1.039, "window_coverage": 0.37,
    "window_names_missing": -1.273, "window_numbers_missing": -0.346, "window_antonym": -2.234,
    "answer_type": -0.298,
}


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
class Verdict(Decision):
    """P(answerable) given the answer, whether the answer is withheld (``score`` <
    ``threshold``), the features and the answer's anchor sentence."""

    anchor: str = ""

    def to_dict(self) -> dict[str, object]:
        return {**Decision.to_dict(self), "anchor": self.anchor}


def decide(answerability: float, refusal: float | None, binding: Binding, threshold: float,
           weights: Mapping[str, float] | None = None) -> Verdict:
    """The decision for an answer whose question had P(answerable) ``answerability``, whose
    model had ``refusal`` probability of refusing (None: not known) and whose value is
    anchored as ``binding`` says."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"answer_threshold is {threshold}; it must be between 0 and 1",
                          hint="set answer_threshold to a probability, e.g. 0.3")
    values = {"answerability": round(_logit(answerability), 4), **binding.features}
    if refusal is not None:
        values["refusal"] = round(refusal, 4)
    w = weights if weights is not None else (WEIGHTS if refusal is not None
                                             else WEIGHTS_WITHOUT_REFUSAL)
    p = round(probability(values, w, DECISION_FEATURES), 4)
    return Verdict(p, threshold, p < threshold, values, binding.anchor)
