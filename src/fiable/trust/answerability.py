"""Answerability: do the retrieved passages answer this question at all?

SQuAD 2.0-style unanswerable questions are written against the very passage retrieval
finds (a swapped name, a negation, a number the passage does not give), so the best
passage similarity alone separates them poorly. This logistic classifier reads cheap
signals of the question against the passages about to be shown (no model call, a few ms)
and gives the probability that the question is answerable:

- retrieval: best dense similarity (``relevance``), its margin over the second passage,
  the best BM25 score (``lexical_top``, squashed to [0, 1));
- coverage: share of the question's content words in the best passage
  (``question_coverage``) and in the best single sentence (``sentence_coverage``); share
  of its names, and whether any of its numbers, are found nowhere in the passages;
- ``type_match``: a when / how-many / who question whose best sentence holds a year, a
  number or a name (0.5 for other questions); ``negation``: the question says not/never/...;
  ``antonym``: a question word whose opposite ("before" / "after", "dependent" /
  "independent") is in one of the three best-matching sentences instead of the word.

:data:`WEIGHTS` were fitted on the SQuAD 2.0 *dev* split only (see the comment there);
with ``answerability = classifier`` the pipeline abstains before generation when the
probability is below the per-collection ``answerability_threshold``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..errors import ConfigError
from ..sentences import split_sentences, word_tokens
from .signals import lexical_support, signals

__all__ = ["CALIBRATED_EMBEDDERS", "FEATURES", "WEIGHTS", "Decision", "antonym", "calibrated_for",
           "decide", "expected_type", "features", "has_type", "probability"]

FEATURES = ("relevance", "margin", "lexical_top", "question_coverage", "sentence_coverage",
            "question_names_missing", "question_numbers_missing", "type_match", "negation",
            "antonym")

# Logistic weights on the raw features ("bias" is the intercept). Provenance: fitted by
# `python benchmarks/abstention.py --fit` on SQuAD 2.0 dev-split questions 101-1892
# (1,792 questions, 886 answerable) pooled with the bundled evaluation set's dev split (35
# questions over Ferrand Holt's documents, 28 answerable, weighing half as much as the SQuAD
# ones: real policies with tables, exceptions and French beside SQuAD's adversarial
# questions), L2-regularised, standardised then folded back, with the default retrieval
# (MiniLM ONNX, weighted fusion, top_k 3). SQuAD alone had made a number or an opposite
# word ("paid" / "unpaid") in a real policy count as a sign of an unanswerable question.
# The first 100 SQuAD dev questions are kept out to choose the threshold; no test split is
# seen. AUROC (answerable or not) on those 100 dev questions: 0.77.
WEIGHTS: dict[str, float] = {
    "bias": -1.588, "relevance": 5.012, "margin": -0.137, "lexical_top": -1.416,
    "question_coverage": -0.344, "sentence_coverage": 0.597, "question_names_missing": -1.917,
    "question_numbers_missing": -0.113, "type_match": 0.398, "negation": -2.697,
    "antonym": -2.971,
}
# the embedders whose cosine scale WEIGHTS were fitted on (`answerability = auto` runs the
# classifier for these only: another model's similarities sit on another scale)
CALIBRATED_EMBEDDERS = ("all-MiniLM-L6-v2/",)
_LEXICAL_SCALE = 10.0  # BM25 scores squashed as s / (s + scale)
_NEGATION = frozenset({"not", "never", "no", "none", "without", "nobody", "nothing", "neither",
                       "nor", "cannot", "isn't", "wasn't", "didn't", "doesn't", "weren't", "aren't"})
# Opposites that SQuAD 2.0's unanswerable questions swap in ("before" for "after"); a
# question word whose opposite is in the best-matching sentences is the `antonym` signal,
# as is a negating prefix added or dropped ("dependent" / "independent").
_OPPOSITES = dict(pair for a, b in (
    ("before", "after"), ("first", "last"), ("least", "most"), ("begin", "end"),
    ("began", "ended"), ("start", "stop"), ("started", "stopped"), ("even", "odd"),
    ("increase", "decrease"), ("increased", "decreased"), ("more", "less"),
    ("minimum", "maximum"), ("lowest", "highest"), ("smallest", "largest"),
    ("earliest", "latest"), ("inside", "outside"), ("into", "out"), ("early", "late"),
    ("high", "low"), ("higher", "lower"), ("large", "small"), ("larger", "smaller"),
    ("major", "minor"), ("positive", "negative"), ("north", "south"), ("east", "west"),
    ("northern", "southern"), ("eastern", "western"), ("upper", "lower"), ("old", "new"),
    ("older", "newer"), ("oldest", "newest"), ("fewer", "more"), ("worst", "best"),
    ("win", "lose"), ("won", "lost"), ("accept", "reject"), ("accepted", "rejected"),
    ("allow", "forbid"), ("can", "cannot"), ("always", "never"), ("same", "different"),
) for pair in ((a, b), (b, a)))
_PREFIXES = ("non-", "non", "un", "in", "im", "ir", "il", "dis")
_YEAR = re.compile(r"\b1\d{3}\b|\b20\d{2}\b")
_DIGITS = re.compile(r"\d")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")


def expected_type(question: str) -> str | None:
    """What the question asks for: ``when`` (a year or date), ``number``, ``name``."""
    q = question.lower()
    if q.startswith(("when", "what year", "in what year", "which year", "what century")) \
            or " what year" in q or " which year" in q:
        return "when"
    if q.startswith(("how many", "how much", "how long", "how old", "how far", "how large",
                     "what percentage")) or " how many" in q or " how much" in q:
        return "number"
    if q.startswith(("who", "whom", "whose")):
        return "name"
    return None


def has_type(kind: str | None, text: str) -> float:
    """1.0 when ``text`` holds what a ``kind`` question asks for, 0.0 when not, 0.5 for no kind."""
    if kind is None:
        return 0.5
    if kind == "when":
        return float(bool(_YEAR.search(text)))
    if kind == "number":
        return float(bool(_DIGITS.search(text)) or any(w in text.lower().split() for w in (
            "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "hundred",
            "thousand", "million", "billion", "dozen")))
    return float(bool(_NAME.search(text)))


def _words_share(needle: str, haystack: str) -> float:
    return lexical_support(needle, haystack, "en") if haystack.strip() else 0.0


def _opposed(a: str, b: str) -> bool:
    if _OPPOSITES.get(a) == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) > 3 and any(long_ == p + short for p in _PREFIXES)


def antonym(question: str, sentences: Sequence[str]) -> float:
    """1 when a question word's opposite (or its prefix-negated form) is in one of the
    ``sentences`` while the word itself is in none of them (a policy that says both "paid"
    and "unpaid" leave answers a question about paid leave)."""
    asked = set(word_tokens(question))
    said_anywhere = {w for sentence in sentences for w in word_tokens(sentence)}
    missing = asked - said_anywhere
    for sentence in sentences:
        said = set(word_tokens(sentence))
        if any(_opposed(q, w) for q in missing for w in said - asked):
            return 1.0
    return 0.0


def features(question: str, passages: Sequence[str], dense_scores: Sequence[float | None],
             lexical_scores: Sequence[float | None]) -> dict[str, float]:
    """The classifier's features for ``question`` over the ``passages`` about to be shown,
    with their dense (cosine) and BM25 scores in the same order (None where a retriever
    did not rank the passage)."""
    texts = [p for p in passages if p.strip()]
    joined = "\n".join(texts)
    dense = sorted((float(s) for s in dense_scores if s is not None), reverse=True)
    top_lexical = max((abs(float(s)) for s in lexical_scores if s is not None), default=0.0)
    sentences = sorted((s for p in texts for s in split_sentences(p)),
                       key=lambda s: -_words_share(question, s))  # best-matching first
    best_sentence = sentences[0] if sentences else ""
    sig = signals(question, joined) if joined else None
    out = {
        "relevance": dense[0] if dense else 0.0,
        "margin": dense[0] - dense[1] if len(dense) > 1 else (dense[0] if dense else 0.0),
        "lexical_top": top_lexical / (top_lexical + _LEXICAL_SCALE),
        "question_coverage": max((_words_share(question, p) for p in texts), default=0.0),
        "sentence_coverage": _words_share(question, best_sentence) if best_sentence else 0.0,
        "question_names_missing": (len(sig.missing_entities) / sig.entities
                                   if sig is not None and sig.entities else 0.0),
        "question_numbers_missing": float(bool(sig.missing_numbers)) if sig is not None else 0.0,
        "type_match": has_type(expected_type(question), best_sentence),
        "negation": float(any(w in _NEGATION for w in question.lower().replace("?", " ").split())),
        "antonym": antonym(question, sentences[:3]),
    }
    return {k: round(v, 4) for k, v in out.items()}


def calibrated_for(embedder_model_id: str) -> bool:
    """Whether :data:`WEIGHTS` were fitted on this embedder's similarity scale."""
    return embedder_model_id.startswith(CALIBRATED_EMBEDDERS)


def probability(values: Mapping[str, float], weights: Mapping[str, float] | None = None,
                names: Sequence[str] = FEATURES) -> float:
    """P(answerable) under the logistic ``weights`` (default :data:`WEIGHTS`) over the
    features ``names`` (a missing value counts 0)."""
    w = WEIGHTS if weights is None else weights
    z = w.get("bias", 0.0) + sum(w.get(name, 0.0) * float(values.get(name, 0.0))
                                 for name in names)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True, slots=True)
class Decision:
    """The classifier's verdict: ``abstain`` when ``score`` < ``threshold``."""

    score: float
    threshold: float
    abstain: bool
    features: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"score": self.score, "threshold": self.threshold, "abstain": self.abstain,
                "features": dict(self.features)}


def decide(values: Mapping[str, float], threshold: float,
           weights: Mapping[str, float] | None = None) -> Decision:
    """Abstain when P(answerable) is below ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"answerability_threshold is {threshold}; it must be between 0 and 1",
                          hint="set answerability_threshold to a probability, e.g. 0.32, or "
                               "calibrate it with `fiable eval QA_SET --split dev --sweep`")
    p = round(probability(values, weights), 4)
    return Decision(p, threshold, p < threshold, dict(values))

