"""Where the answer stands: is its value bound to what the question asks about?

A small reader's commonest mistake is a real value of the passages attached to the wrong
thing: asked for the hotel rate in Paris, it answers with the mileage rate, which is in the
passages too; asked a SQuAD 2.0 question whose subject the paragraph never mentions, it
answers with the value of the sentence about something else. Sentence-level support passes
both, since every word of the answer is in the passages. What gives them away is the
**anchor**: the passage sentence that holds the answer's value. Read beside its neighbours
(the sentence before it, the passage title; for a table row, its header row), the anchor of
a right answer holds what the question asks about; the anchor of a wrong one does not.

:func:`bind` finds the anchor and measures it against the question:

- ``anchored``: share of the answer's value (its words beyond the question's, and its
  numbers) found in the anchor sentence; low when the answer is not in the passages at all;
- ``window_coverage``: share of the question's content words in the anchor's window;
- ``window_names_missing``: share of the question's names missing from the window;
- ``window_numbers_missing``: 1 when a number of the question is missing from the window;
- ``window_antonym``: a question word whose opposite stands in the anchor instead;
- ``answer_type``: a when / how-many / who question answered with a year / number / name
  (0.5 for other questions).

The answer decision (:mod:`fiable.trust.decision`) weighs these with the answerability
classifier's score; no model is called (a few ms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ..sentences import content_words, split_sentences
from .answerability import antonym, expected_type, has_type
from .signals import (content_stems, lexical_support, missing_entities, missing_numbers, names_in,
                      numbers_in)

__all__ = ["BINDING_FEATURES", "Binding", "bind"]

BINDING_FEATURES = ("anchored", "window_coverage", "window_names_missing",
                    "window_numbers_missing", "window_antonym", "answer_type")
_TABLE_CELL = " | "  # how the loaders write a table row's cells


@dataclass(frozen=True, slots=True)
class Binding:
    """The anchor of an answer (``""`` when no passage sentence holds any of its value) and
    the features of the question against the anchor's window."""

    anchor: str
    number: int | None  # the anchor's passage, 1-based as shown to the model
    features: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"anchor": self.anchor, "passage": self.number, "features": dict(self.features)}


def _window(lines: list[str], index: int, title: str) -> str:
    """The anchor ``lines[index]`` with the sentence before it and the passage title; a
    table row with its table's header row (the first row of its run of rows) instead."""
    parts = [title] if title else []
    if _TABLE_CELL in lines[index]:
        top = index
        while top > 0 and _TABLE_CELL in lines[top - 1]:
            top -= 1
        parts += [lines[top - 1]] if top > 0 else []  # a caption or the line above
        parts += [lines[top]] if top != index else []
    elif index > 0:
        parts.append(lines[index - 1])
    parts.append(lines[index])
    return "\n".join(parts)


def _value(answer: str, question: str, language: str) -> tuple[set[str], set[str]]:
    """The answer's value: its content stems beyond the question's, and its numbers."""
    asked = content_stems(question, language)
    return content_stems(answer, language) - asked, numbers_in(answer)


def bind(question: str, answer: str, passages: Sequence[str], titles: Sequence[str] = (),
         language: str = "en") -> Binding:
    """The anchor of ``answer`` among ``passages`` (with their ``titles``, same order) and
    its features against ``question``."""
    words, numbers = _value(answer, question, language)
    best: tuple[float, float, int, str, str] | None = None
    for number, passage in enumerate(passages, start=1):
        title = titles[number - 1] if number <= len(titles) else ""
        lines = [s.strip() for s in split_sentences(passage) if s.strip()]
        for index, line in enumerate(lines):
            have = content_stems(line, language)
            found = len(words & have) + sum(1 for n in numbers if not missing_numbers(n, line))
            anchored = found / (len(words) + len(numbers)) if words or numbers else 0.0
            window = _window(lines, index, title)
            coverage = lexical_support(question, window, language)
            key = (anchored, coverage)
            if best is None or key > best[:2]:
                best = (anchored, coverage, number, line, window)
    if best is None:
        return Binding("", None, {name: 0.0 for name in BINDING_FEATURES})
    anchored, coverage, number, line, window = best
    names = names_in(question)
    values = {
        "anchored": anchored,
        "window_coverage": coverage,
        "window_names_missing": (len(missing_entities(question, window)) / len(names)
                                 if names else 0.0),
        "window_numbers_missing": float(bool(missing_numbers(question, window))),
        "window_antonym": antonym(question, [line]),
        "answer_type": has_type(expected_type(question), answer),
    }
    if not content_words(answer) and not numbers:
        values["anchored"] = 0.0
    return Binding(line if anchored > 0 else "", number if anchored > 0 else None,
                   {k: round(v, 4) for k, v in values.items()})
