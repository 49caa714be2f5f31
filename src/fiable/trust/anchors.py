"""Where a sentence's values stand in its evidence: is each one attached to the right thing?

The commonest error of a small reader is a real value of the passages attached to the wrong
subject: asked for the hotel rate in Paris, it writes "The maximum hotel rate per night for
a business trip to Paris is €0.37 per kilometre." Every word and number of that sentence
occurs in the passages, so word overlap, number and name checks all pass it. What gives it
away is where its value stands: the evidence sentence that holds "0.37" (the mileage rule)
is not the one that says what the rest of the sentence says (the hotel table).

So for an answer sentence:

- its **values** are the numbers and names it states beyond the question's;
- its **holders** are the evidence sentences holding the most of those values (a table row
  read with its caption and header row, which say what its cells are);
- the **rest** is the sentence with its values removed: what it says the values are about
  (with the question before it when little is left: a bare "23 years" is about what was asked);
- the **value gap** is how much better some evidence sentence matches the rest than the best
  holder does, by embedding cosine (``value_gap``) and by the share of the rest's content
  words (``value_gap_lexical``). A value in the sentence that says what the claim says has a
  gap of 0; a value taken from the sentence about something else has a positive one.

The verifier (:mod:`fiable.trust.verifier`) reads both gaps beside its other signals. No model
is called beyond the embedder the verifier already uses (one more short text per sentence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from ..sentences import content_words, split_sentences, word_tokens
from .signals import content_stems, missing_numbers, names_in, numbers_in

__all__ = ["EvidenceLines", "Placement", "Values", "evidence_lines", "holders", "lexical_gap",
           "excluded_names", "rate_mismatch", "similarity_gap", "values_of"]

_TABLE_CELL = " | "  # how the loaders write a table row's cells
_NUMBER_TEXT = re.compile(r"(?<!\w)(?:\d[\d\u00a0\u202f,.]*\d|\d)(?!\w)")  # not the 1 of P1


class Placement(NamedTuple):
    """Where a sentence's values stand: the two gaps, and the rates ("per night") the
    sentence says that the sentence holding its value does not."""

    similarity_gap: float = 0.0
    lexical_gap: float = 0.0
    rates: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()  # names of the sentence its value's sentence excludes


@dataclass(frozen=True, slots=True)
class EvidenceLines:
    """The evidence split into sentences (each passage on its own), and for each sentence
    the sentences it is read with: itself, or for a table row its caption and header row;
    and its passage's heading line, read with it by the lexical gap."""

    texts: tuple[str, ...]
    windows: tuple[tuple[int, ...], ...]
    headers: tuple[int, ...]  # a table row's header row (its place in texts), else -1
    headings: tuple[str, ...]  # the heading line of each sentence's passage ("" when none)


@dataclass(frozen=True, slots=True)
class Values:
    """The values a sentence states beyond its question, and the sentence without them."""

    numbers: frozenset[str]
    names: frozenset[str]  # name words, folded
    rest: str

    def __bool__(self) -> bool:
        return bool(self.numbers or self.names)


def evidence_lines(evidence: Sequence[str], limit: int = 64) -> EvidenceLines:
    """The first ``limit`` distinct sentences of the passages, with their reading windows."""
    texts: list[str] = []
    windows: list[tuple[int, ...]] = []
    headers: list[int] = []
    headings: list[str] = []
    seen: set[str] = set()
    for passage in evidence:
        lines = [s.strip() for s in split_sentences(passage) if s.strip()]
        first = passage.strip().split("\n", 1)[0].strip()
        heading = first if len(first) < 150 and not first.endswith((".", "!", "?", ":", ";")) else ""
        where: dict[int, int] = {}  # a line of this passage -> its place in texts
        for index, line in enumerate(lines):
            if line in seen or len(texts) >= limit:
                where[index] = texts.index(line) if line in seen else -1
                continue
            seen.add(line)
            where[index] = len(texts)
            texts.append(line)
            window, header = [where[index]], -1
            if _TABLE_CELL in line:  # a table row: its caption (the line above) and header row
                top = index
                while top > 0 and _TABLE_CELL in lines[top - 1]:
                    top -= 1
                window = [where[i] for i in (top - 1, top) if 0 <= i < index and where[i] >= 0] + window
                header = where[top] if top < index else -1
            windows.append(tuple(window))
            headers.append(header)
            headings.append(heading)
    return EvidenceLines(tuple(texts), tuple(windows), tuple(headers), tuple(headings))


def values_of(sentence: str, question: str = "") -> Values:
    """The numbers and name words of ``sentence`` that ``question`` does not state."""
    numbers = frozenset(numbers_in(sentence) - numbers_in(question))
    asked = {w for n in names_in(question) for w in content_words(n)}
    names = frozenset(w for n in names_in(sentence) for w in content_words(n)) - asked
    rest = sentence
    for name in sorted(names_in(sentence), key=len, reverse=True):
        if set(content_words(name)) & names:
            rest = re.sub(re.escape(name), " ", rest, flags=re.IGNORECASE)
    if numbers:
        rest = _NUMBER_TEXT.sub(" ", rest)
    if question and len(content_words(rest)) < 3:
        rest = f"{question} {rest}"  # a bare answer ("23 years") is about what was asked
    return Values(numbers, names, rest)


def _held(values: Values, text: str) -> int:
    """How many of ``values`` ``text`` holds."""
    have = set(word_tokens(text))
    return sum(1 for n in values.numbers if not missing_numbers(n, text)) + \
        sum(1 for w in values.names if w in have)


def holders(values: Values, lines: EvidenceLines) -> list[int]:
    """The evidence sentences holding the most of ``values`` (none when none holds any)."""
    if not values:
        return []
    total = len(values.numbers) + len(values.names)
    shares = [_held(values, text) / total for text in lines.texts]
    top = max(shares, default=0.0)
    return [i for i, share in enumerate(shares) if top > 0 and share == top]


def similarity_gap(rest_vector: np.ndarray, line_vectors: np.ndarray, lines: EvidenceLines,
                   held: Sequence[int]) -> float:
    """How much closer (cosine) the best evidence sentence is to the rest than the best
    holder, read with its window; 0 when a holder is the best match or nothing holds a value."""
    if not held or not len(line_vectors):
        return 0.0
    sims = line_vectors @ rest_vector
    holder = max(float(sims[list(lines.windows[i])].max()) for i in held)
    return max(0.0, float(sims.max()) - holder)


def _read_with(lines: EvidenceLines, index: int, values: Values) -> str:
    """Holder ``index`` read with its window; for a table row, only the cells holding the
    values, each with its column's header, beside the row's label and the table's caption
    (so that a value of another column does not borrow its neighbours' headers)."""
    window = [lines.texts[j] for j in lines.windows[index]]
    header = lines.headers[index]
    if header < 0:
        return " ".join(window)
    cells = lines.texts[index].split(_TABLE_CELL)
    heads = lines.texts[header].split(_TABLE_CELL)
    columns = [k for k in range(1, len(cells)) if _held(values, cells[k])]
    if len(cells) != len(heads) or not columns:
        return " ".join(window)
    caption = [lines.texts[j] for j in lines.windows[index] if j not in (header, index)]
    return " ".join(caption + [cells[0]] + [f"{heads[k]} {cells[k]}" for k in columns])


def _label_extra(lines: EvidenceLines, index: int, words: set[str], language: str) -> float:
    """For a table row, the share of its label's words (its first cell) the rest does not
    say: "Hotel, per night, in France outside Paris" matches a question about Paris less
    well than "Hotel, per night, in Paris" although it holds all of its words."""
    if lines.headers[index] < 0:
        return 0.0
    label = content_stems(lines.texts[index].split(_TABLE_CELL)[0], language)
    return len(label - words) / len(label) if label else 0.0


def lexical_gap(rest: str, lines: EvidenceLines, held: Sequence[int], language: str,
                values: Values) -> float:
    """The same gap by the share of the rest's content words each sentence holds, each
    read with its window (a table row with its caption and header; a holding row with the
    headers of the ``values``' columns only) and its passage's heading line (the title and
    section path the pipeline puts first: "Paid annual leave > Carrying over unused days"),
    a table row less half the share of its label's words the rest does not say."""
    words = content_stems(rest, language)
    if not held or not words:
        return 0.0

    def share(text: str, index: int) -> float:
        return (len(words & content_stems(text, language)) / len(words)
                - 0.5 * _label_extra(lines, index, words, language))

    best = max(share(" ".join([lines.headings[i], *(lines.texts[j] for j in window)]), i)
               for i, window in enumerate(lines.windows))
    holder = max(share(f"{lines.headings[i]} {_read_with(lines, i, values)}", i) for i in held)
    return max(0.0, best - holder)


_RATE = re.compile(r"\b(?:per|par)\s+(?!\d)([^\W\d_]{3,})", re.IGNORECASE)


def _rates(text: str) -> set[str]:
    """The "per X" / "par X" units of ``text``, folded."""
    return {word_tokens(m.group(1))[0] for m in _RATE.finditer(text) if word_tokens(m.group(1))}


def rate_mismatch(sentence: str, lines: EvidenceLines, held: Sequence[int],
                  values: Values) -> tuple[str, ...]:
    """The rates the sentence states ("hotel rate per night") that no holder of its value
    states when the holders state rates of their own ("€0.37 per kilometre"): a value whose
    unit disagrees with what the sentence says it measures. Empty when no holder states a
    rate, or one states every rate of the sentence."""
    said = _rates(sentence)
    if not said or not held:
        return ()
    best: set[str] | None = None
    for i in held:
        there = _rates(f"{lines.headings[i]} {_read_with(lines, i, values)}")
        if not there or said <= there:
            return ()
        missing = said - there
        best = missing if best is None or len(missing) < len(best) else best
    return tuple(sorted(best or ()))


_EXCLUDING = ("outside", "except", "excluding", "other than", "apart from", "besides", "hors",
              "sauf", "en dehors de", "à l'exception de", "excepté")


def excluded_names(sentence: str, lines: EvidenceLines, held: Sequence[int],
                   values: Values) -> tuple[str, ...]:
    """The names the sentence states (beyond its values) that every holder of its value
    excludes ("in France outside Paris" holds €120, not the rate of Paris)."""
    names = {w for n in names_in(values.rest) for w in content_words(n)} - set(values.names)
    if not names or not held:
        return ()
    out: set[str] | None = None
    for i in held:
        text = " ".join(word_tokens(_read_with(lines, i, values)))
        here = {n for n in names if any(re.search(rf"\b{re.escape(' '.join(word_tokens(x)))}\s+"
                                                  rf"(?:(?:the|de|la|le|les|of)\s+)?{re.escape(n)}\b",
                                                  text) for x in _EXCLUDING)}
        out = here if out is None else out & here
    return tuple(sorted(out or ()))
