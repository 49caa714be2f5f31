"""Sentence verification: how well is each answer sentence backed by the passages it cites?

The Verifier contract (checked by ``tests/contracts/verifier.py`` for every implementation):
- ``verify(claims)`` returns one :class:`Support` per claim, in order: a ``score`` in
  [0, 1] (higher = better supported) and a ``label``: ``supported`` (score >=
  ``thresholds.supported``), ``partly`` (>= ``thresholds.partly``) or ``unsupported``.
- A sentence copied from its evidence is supported; a sentence whose numbers or names
  are absent from the evidence, or that shares nothing with it, is not.
- Verifying never raises on odd text (empty evidence, no words): it answers unsupported.

:class:`CascadeVerifier` is the default. No NLI or cross-encoder model ships offline, so it
combines cheap signals first (:mod:`fiable.trust.signals`; the embedding similarity of the
sentence to its closest evidence sentence; a number written with a unit the evidence never
gives it, :mod:`fiable.trust.units`; and where the sentence's values stand, the value gaps
of :mod:`fiable.trust.anchors`, which catch a real value of the passages attached to the
wrong subject, row, column or unit) in a logistic score whose weights were fitted on
development splits (``benchmarks/verifier.py --fit``), and asks the generator as a yes/no
judge only for sentences in the uncertain band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, Sequence

import numpy as np

from .anchors import (Placement, evidence_lines, excluded_names, holders, lexical_gap,
                      rate_mismatch, similarity_gap, values_of)
from .signals import evidence_language, signals
from .units import mismatched_units

__all__ = ["WEIGHTS", "WEIGHTS_LEXICAL", "CascadeVerifier", "Claim", "Judge", "Support", "Thresholds",
           "Verifier", "features"]

Label = Literal["supported", "partly", "unsupported"]


@dataclass(frozen=True, slots=True)
class Claim:
    """An answer sentence and the evidence it rests on (its cited passages' texts)."""

    sentence: str
    evidence: tuple[str, ...]
    question: str = ""


@dataclass(frozen=True, slots=True)
class Support:
    score: float
    label: Label
    method: Literal["signals", "judge", "none"]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score cut-offs for the labels, and the band where the judge is asked."""

    supported: float = 0.5
    partly: float = 0.3
    judge_low: float = 0.25
    judge_high: float = 0.7


class Verifier(Protocol):
    def verify(self, claims: Sequence[Claim]) -> list[Support]: ...


class Judge(Protocol):
    """Answers whether ``evidence`` supports ``sentence``: True, False, or None (no answer)."""

    def __call__(self, sentence: str, evidence: str) -> bool | None: ...


# Logistic weights over (bias, lexical, similarity, missing number or unit, missing-name
# share, value similarity gap, value lexical gap), fitted on the SQuAD 2.0 dev split's sets
# (model-written sentences among them) by `python benchmarks/verifier.py --fit` (WEIGHTS
# with the embedder, WEIGHTS_LEXICAL for a verifier without one).
WEIGHTS: tuple[float, ...] = (-2.06, 2.13, 0.95, -2.31, -1.97, -1.51, -3.44)
WEIGHTS_LEXICAL: tuple[float, ...] = (-1.71, 2.59, 0.0, -2.32, -1.98, 0.0, -4.18)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def features(sentence: str, evidence: str, similarity: float, placement: Placement = Placement()
             ) -> tuple[dict[str, Any], list[float]]:
    """The signals of a claim and the feature vector the logistic score reads; ``placement``:
    where its values stand (:mod:`fiable.trust.anchors`)."""
    sig = signals(sentence, evidence)
    # a name of the sentence missing from the evidence, or excluded where its value stands
    missing = len(sig.missing_entities) + len(placement.excluded)
    missing_names = missing / max(sig.entities, missing) if missing else 0.0
    # "27 days" where the evidence says working days; "rate per night ... €0.37 per kilometre"
    units = mismatched_units(sentence, evidence) + [f"per {r}" for r in placement.rates]
    vector = [1.0, sig.lexical, similarity, float(bool(sig.missing_numbers or units)),
              missing_names, placement.similarity_gap, placement.lexical_gap]
    details = {"lexical": sig.lexical, "similarity": round(similarity, 4),
               "missing_numbers": list(sig.missing_numbers),
               "missing_entities": list(sig.missing_entities), "unit_mismatch": units,
               "excluded_names": list(placement.excluded),
               "value_gap": round(placement.similarity_gap, 4),
               "value_gap_lexical": round(placement.lexical_gap, 4)}
    return details, vector


class CascadeVerifier:
    """Cheap signals for every sentence, the judge only where they are unsure."""

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        *,
        judge: Judge | None = None,
        thresholds: Thresholds = Thresholds(),
        weights: Sequence[float] | None = None,
    ) -> None:
        self.embed = embed
        self.judge = judge
        self.thresholds = thresholds
        self.weights = tuple(weights or (WEIGHTS if embed is not None else WEIGHTS_LEXICAL))

    def _similarities(self, claims: Sequence[Claim]) -> list[tuple[float, Placement]]:
        """For each claim: the cosine of its sentence to the closest evidence sentence (0
        without an embedder), and where its values stand (the similarity gap 0 without an
        embedder). Evidence sentences shared by several claims are embedded once."""
        lines = [evidence_lines(c.evidence) for c in claims]
        values = [values_of(c.sentence, c.question) for c in claims]
        held = [holders(v, ls) for v, ls in zip(values, lines)]
        placed = [Placement(0.0, lexical_gap(v.rest, ls, h, evidence_language("\n".join(c.evidence)), v),
                            rate_mismatch(c.sentence, ls, h, v), excluded_names(c.sentence, ls, h, v))
                  if h else Placement()
                  for c, v, ls, h in zip(claims, values, lines, held)]
        if self.embed is None or not claims:
            return [(0.0, p) for p in placed]
        unique = list(dict.fromkeys(t for ls in lines for t in ls.texts))
        rests = [v.rest if v.rest.strip() else c.sentence for c, v in zip(claims, values)]
        vectors = self.embed([c.sentence for c in claims] + rests + unique)
        row = {text: 2 * len(claims) + i for i, text in enumerate(unique)}
        out = []
        for i, ls in enumerate(lines):
            if not ls.texts:
                out.append((0.0, placed[i]))
                continue
            evidence = vectors[[row[t] for t in ls.texts]]
            gap = similarity_gap(vectors[len(claims) + i], evidence, ls, held[i])
            out.append((float(np.max(evidence @ vectors[i])), placed[i]._replace(similarity_gap=gap)))
        return out

    def _label(self, score: float) -> Label:
        t = self.thresholds
        return "supported" if score >= t.supported else "partly" if score >= t.partly else "unsupported"

    def verify(self, claims: Sequence[Claim]) -> list[Support]:
        sims = self._similarities(claims)
        out: list[Support] = []
        for claim, (sim, placement) in zip(claims, sims):
            evidence = "\n".join(e for e in claim.evidence if e.strip())
            if not evidence or not any(ch.isalnum() for ch in claim.sentence):
                out.append(Support(0.0, "unsupported", "none", {"reason": "no evidence"}))
                continue
            details, vector = features(claim.sentence, evidence, sim, placement)
            score = _sigmoid(sum(w * x for w, x in zip(self.weights, vector)))
            method: Literal["signals", "judge"] = "signals"
            t = self.thresholds
            if self.judge is not None and t.judge_low <= score < t.judge_high:
                verdict = self.judge(claim.sentence, evidence)
                if verdict is not None:
                    details["signals_score"] = round(score, 4)
                    details["judge"] = "yes" if verdict else "no"
                    score = (score + (1.0 if verdict else 0.0)) / 2
                    method = "judge"
            score = round(score, 4)
            out.append(Support(score, self._label(score), method, details))
        return out
