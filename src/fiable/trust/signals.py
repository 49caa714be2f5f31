"""Cheap support signals between an answer sentence and its evidence (no model involved).

- ``lexical``: share of the sentence's content words found in the evidence (light
  stemming, accents folded);
- ``numbers``: numbers of the sentence (digits, or number words up to twenty; ``1,000`` and
  ``1 000`` alike) missing from the evidence;
- ``entities``: proper names / acronyms of the sentence (capitalised words not opening the
  sentence, all-caps tokens) missing from the evidence.

Numbers and names are where a small model's unsupported sentences usually differ from the
passage ("27 days" where the passage says 25), which overlap alone misses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..sentences import content_words, word_tokens

__all__ = ["Signals", "lexical_support", "missing_entities", "missing_numbers", "signals"]

_NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "hundred": "100",
    # French ("un", "une" are articles too: left out, like English "one")
    "deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "sept": "7",
    "huit": "8", "neuf": "9", "dix": "10", "onze": "11", "douze": "12", "vingt": "20",
    "trente": "30", "cent": "100",
}
_NUMBER = re.compile(r"\b\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+(?:[.,]\d+)?\b|\d+(?:[.,]\d+)?")
_ENTITY = re.compile(r"\b[A-ZÀ-ÖØ-Þ][\w'’-]*(?:\s+[A-ZÀ-ÖØ-Þ][\w'’-]*)*")
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b")
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "es", "ed", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            if suffix == "es" and not word.endswith(("ses", "xes", "zes", "ches", "shes")):
                suffix = "s"  # employees -> employee, like employee
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def _stems(text: str) -> set[str]:
    """Stemmed content words, numbers left to :func:`missing_numbers`."""
    return {_stem(w) for w in content_words(text)
            if w not in _NUMBER_WORDS and not _NUMBER.fullmatch(w)}


def lexical_support(sentence: str, evidence: str) -> float:
    """Share of the sentence's content words (stemmed) present in the evidence."""
    words = _stems(sentence)
    if not words:
        return 1.0
    return len(words & _stems(evidence)) / len(words)


_THOUSANDS = re.compile(r"\d{1,3}(?:([.,\u00a0\u202f ])\d{3})(?:\1\d{3})*")


def _normalise_number(raw: str) -> str:
    """``1,000`` / ``1 000`` / ``1.000`` -> ``1000``; ``3,50`` / ``3.50`` -> ``3.5``."""
    if _THOUSANDS.fullmatch(raw):
        return re.sub(r"\D", "", raw)
    digits = re.sub(r"[\u00a0\u202f ]", "", raw)
    head, sep, tail = digits.replace(",", ".").rpartition(".")
    if not sep:
        return tail
    number = head.replace(".", "") + "." + tail
    return number.rstrip("0").rstrip(".")


def _numbers(text: str) -> set[str]:
    found = {_normalise_number(n) for n in _NUMBER.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in word_tokens(text) if w in _NUMBER_WORDS}
    return found


def missing_numbers(sentence: str, evidence: str) -> list[str]:
    """Numbers stated by the sentence that the evidence does not contain."""
    have = _numbers(evidence)
    return sorted(n for n in _numbers(sentence) if n not in have)


def _entities(sentence: str) -> set[str]:
    names: set[str] = set()
    for match in _ENTITY.finditer(sentence):
        words = match.group(0).split()
        if match.start() == 0 or sentence[: match.start()].rstrip().endswith((".", ":", '"', "“")):
            words = words[1:]  # the sentence's first word is capitalised anyway
        names.update(w for w in words if len(w) > 1)
    names.update(_ACRONYM.findall(sentence))
    return {" ".join(word_tokens(n)) for n in names if word_tokens(n)}


def missing_entities(sentence: str, evidence: str) -> list[str]:
    """Names and acronyms of the sentence that do not occur in the evidence."""
    have = set(word_tokens(evidence))
    stems = {_stem(w) for w in have}
    return sorted(e for e in _entities(sentence)
                  if not all(w in have or _stem(w) in stems for w in e.split()))


@dataclass(frozen=True, slots=True)
class Signals:
    lexical: float
    missing_numbers: tuple[str, ...]
    missing_entities: tuple[str, ...]
    numbers: int
    entities: int


def signals(sentence: str, evidence: str) -> Signals:
    """All cheap signals of ``sentence`` against ``evidence``."""
    return Signals(
        lexical=round(lexical_support(sentence, evidence), 4),
        missing_numbers=tuple(missing_numbers(sentence, evidence)),
        missing_entities=tuple(missing_entities(sentence, evidence)),
        numbers=len(_numbers(sentence)),
        entities=len(_entities(sentence)),
    )
