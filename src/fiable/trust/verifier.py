"""Sentence verification: how well is each answer sentence backed by the passages it cites?

The Verifier contract (checked by ``tests/contracts/verifier.py`` for every implementation):
- ``verify(claims)`` returns one :class:`Support` per claim, in order: a ``score`` in
  [0, 1] (higher = better supported) and a ``label``: ``supported`` (score >=
  ``thresholds.supported``), ``partly`` (>= ``thresholds.partly``) or ``unsupported``.
- A sentence copied from its evidence is supported; a sentence whose numbers or names
  are absent from the evidence, or that shares nothing with it, is not.
- Verifying never raises on odd text (empty evidence, no words): it answers unsupported.

:class:`CascadeVerifier` is the default. No NLI or cross-encoder model ships offline, so it
combines cheap signals first (:mod:`fiable.trust.signals`, plus the embedding similarity
of the sentence to its closest evidence sentence) in a logistic score whose weights were
fitted on a development split (``benchmarks/verifier.py``), and asks the generator as a
yes/no judge only for sentences in the uncertain band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, Sequence

import numpy as np

from ..sentences import split_sentences
from .signals import signals

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


# Logistic weights over (bias, lexical, similarity, missing number, missing-name share),
# fitted on the SQuAD 2.0 dev split by `python benchmarks/verifier.py --fit` (WEIGHTS with
# the embedder's similarity, WEIGHTS_LEXICAL for a verifier without an embedder).
WEIGHTS: tuple[float, ...] = (-3.65, 3.83, 1.29, -3.07, -2.74)
WEIGHTS_LEXICAL: tuple[float, ...] = (-3.16, 4.52, 0.0, -3.08, -2.79)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def features(sentence: str, evidence: str, similarity: float) -> tuple[dict[str, Any], list[float]]:
    """The signals of a claim and the feature vector the logistic score reads."""
    sig = signals(sentence, evidence)
    missing_names = len(sig.missing_entities) / sig.entities if sig.entities else 0.0
    vector = [1.0, sig.lexical, similarity, float(bool(sig.missing_numbers)), missing_names]
    details = {"lexical": sig.lexical, "similarity": round(similarity, 4),
               "missing_numbers": list(sig.missing_numbers),
               "missing_entities": list(sig.missing_entities)}
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

    def _similarities(self, claims: Sequence[Claim]) -> list[float]:
        """Cosine of each sentence to its closest evidence sentence (0 without an embedder).
        Evidence sentences shared by several claims are embedded once."""
        if self.embed is None or not claims:
            return [0.0] * len(claims)
        pieces = [list(dict.fromkeys(s for e in c.evidence for s in split_sentences(e)))[:64]
                  for c in claims]
        unique = list(dict.fromkeys(p for ps in pieces for p in ps))
        vectors = self.embed([c.sentence for c in claims] + unique)
        row = {text: len(claims) + i for i, text in enumerate(unique)}
        return [float(np.max(vectors[[row[p] for p in ps]] @ vectors[i])) if ps else 0.0
                for i, ps in enumerate(pieces)]

    def _label(self, score: float) -> Label:
        t = self.thresholds
        return "supported" if score >= t.supported else "partly" if score >= t.partly else "unsupported"

    def verify(self, claims: Sequence[Claim]) -> list[Support]:
        sims = self._similarities(claims)
        out: list[Support] = []
        for claim, sim in zip(claims, sims):
            evidence = "\n".join(e for e in claim.evidence if e.strip())
            if not evidence or not any(ch.isalnum() for ch in claim.sentence):
                out.append(Support(0.0, "unsupported", "none", {"reason": "no evidence"}))
                continue
            details, vector = features(claim.sentence, evidence, sim)
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
