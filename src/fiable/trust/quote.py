"""The passage sentence that answers a question best, offered as a marked quote.

A 0.5B reader sometimes says "not in the documents", or only repeats the question ("What
are colloblasts?" / "Colloblasts."), while one of the passages it was shown answers the
question in so many words. Rather than nothing, the answer can then be that sentence,
verbatim and marked as a quote of the cited passage: nothing generated, so nothing to
verify, and the reader sees exactly what the documents say.

:func:`best_quote` scores each sentence of the shown passages by the share of the
question's content words it holds (stemmed, the language's stop words left out), asks for
words beyond the question's (a sentence that only restates the question answers nothing)
and, for when / how many / who questions, a year, a number or a name. The decision to
offer it is :mod:`fiable.trust.decision`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..sentences import content_words, split_sentences
from .answerability import expected_type, has_type
from .signals import lexical_support

__all__ = ["Quote", "best_quote", "novelty"]

_MIN_WORDS = 4  # a quote shorter than this is a heading or a fragment
_MAX_CHARS = 400  # a longer "sentence" is a run-on list or a table row dump


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence of passage ``number`` (1-based, as shown to the model)."""

    text: str
    number: int
    coverage: float  # share of the question's content words in the sentence
    type_match: float  # 1 / 0 when the question asks for a year, number or name; else 0.5


def novelty(text: str, question: str) -> float:
    """Share of ``text``'s content words that are not the question's (0: it only repeats
    the question)."""
    words = set(content_words(text))
    if not words:
        return 0.0
    return len(words - set(content_words(question))) / len(words)


def best_quote(question: str, passages: Sequence[str], language: str = "en") -> Quote | None:
    """The best-answering sentence of ``passages`` (in prompt order) for ``question``, or
    None when no sentence holds both question words and something new (and for a question
    without a content word: nothing to match a sentence against)."""
    if lexical_support(question, "", language) == 1.0:  # vacuous: no content word to find
        return None
    kind = expected_type(question)
    best: tuple[float, int, Quote] | None = None
    for number, passage in enumerate(passages, start=1):
        for sentence in split_sentences(passage):
            sentence = sentence.strip()
            if len(sentence.split()) < _MIN_WORDS or len(sentence) > _MAX_CHARS:
                continue
            if novelty(sentence, question) < 0.3:
                continue
            coverage = lexical_support(question, sentence, language)
            match = has_type(kind, sentence)
            score = coverage + 0.2 * (match - 0.5)
            if best is None or score > best[0] + 1e-9 or (
                    abs(score - best[0]) <= 1e-9 and number < best[1]):
                best = (score, number, Quote(sentence, number, round(coverage, 4), match))
    return None if best is None else best[2]
