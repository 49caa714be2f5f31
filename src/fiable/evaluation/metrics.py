"""Evaluation metrics: deterministic, no model involved.

Retrieval: nDCG@k (graded, the BEIR/trec_eval definition), recall@k and reciprocal rank
over ranked document ids. Answers: exact match and token F1 after the official SQuAD
normalisation (lower case, no punctuation, no articles ``a an the``, single spaces), the
best over the gold answers; ``language="fr"`` uses the French normalisation instead (accents
folded, apostrophes split elisions, articles ``le la les l' un une des du d' au aux``
removed). Abstention: precision, recall and F1 where the positive class
is "the question is unanswerable" and the prediction is "fiable abstained".
"""

from __future__ import annotations

import collections
import math
import re
import string
import unicodedata
from typing import Iterable, Mapping, Sequence

__all__ = ["abstention_scores", "answer_contains", "exact_match", "mean", "ndcg_at_k",
           "normalize_answer", "percentile", "recall_at_k", "reciprocal_rank", "token_f1"]


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of ``ranked`` ids against graded ``relevant``."""
    seen: set[str] = set()
    dcg = 0.0
    for i, doc in enumerate(ranked[:k]):
        if doc in seen:  # a document counts once, at its best rank
            continue
        seen.add(doc)
        dcg += relevant.get(doc, 0) / math.log2(i + 2)
    ideal = sorted((r for r in relevant.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant ids found in the first ``k`` of ``ranked``."""
    wanted = {d for d, r in relevant.items() if r > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, int], k: int | None = None) -> float:
    """1 / rank of the first relevant id (0 when none in the first ``k``)."""
    for i, doc in enumerate(ranked[:k] if k else ranked, start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / i
    return 0.0


_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


_ARTICLES_FR = re.compile(r"\b(le|la|les|l|un|une|des|du|d|au|aux)\b", re.UNICODE)


def _normalize_fr(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(" " if ch in _PUNCT or ch in "’«»" else ch for ch in text)
    return " ".join(_ARTICLES_FR.sub(" ", text).split())


def normalize_answer(text: str, language: str = "en") -> str:
    """SQuAD's normalisation: lower case, punctuation and articles removed, spaces single
    (the French one for ``language="fr"``, see module docstring)."""
    if language == "fr":
        return _normalize_fr(text)
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _tokens(text: str, language: str = "en") -> list[str]:
    return normalize_answer(text, language).split()


def exact_match(prediction: str, golds: Iterable[str], language: str = "en") -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    pred = normalize_answer(prediction, language)
    return float(any(pred == normalize_answer(g, language) for g in golds))


def token_f1(prediction: str, golds: Iterable[str], language: str = "en") -> float:
    """The best token-overlap F1 of ``prediction`` against the gold answers (SQuAD)."""
    pred = _tokens(prediction, language)
    best = 0.0
    for gold in golds:
        ref = _tokens(gold, language)
        if not pred or not ref:
            best = max(best, float(pred == ref))
            continue
        common = collections.Counter(pred) & collections.Counter(ref)
        same = sum(common.values())
        if same == 0:
            continue
        precision, recall = same / len(pred), same / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _folded(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return normalize_answer("".join(ch for ch in text if not unicodedata.combining(ch)))


def answer_contains(text: str, golds: Iterable[str]) -> bool:
    """True when a normalised gold answer appears in the normalised ``text`` (whole words)."""
    haystack = f" {_folded(text)} "
    return any(g.strip() and f" {_folded(g)} " in haystack for g in golds)


def abstention_scores(predicted: Sequence[bool], unanswerable: Sequence[bool]) -> dict[str, float]:
    """Precision, recall and F1 of abstaining, the positive class being unanswerable."""
    tp = sum(p and u for p, u in zip(predicted, unanswerable))
    fp = sum(p and not u for p, u in zip(predicted, unanswerable))
    fn = sum(u and not p for p, u in zip(predicted, unanswerable))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, ``p`` in 0..100 (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return math.fsum(items) / len(items) if items else float("nan")
