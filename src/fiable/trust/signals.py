"""Cheap support signals between an answer sentence and its evidence (no model involved).

- ``lexical``: share of the sentence's content words found in the evidence (light
  stemming, accents folded);
- ``numbers``: numbers of the sentence (digits, or number words up to twenty; ``1,000`` and
  ``1 000`` alike, ``3,5`` and ``3.5`` alike) and dates (``12 mars 2024``, ``March 12, 2024``
  and ``12/03/2024`` alike) missing from the evidence;
- ``entities``: proper names / acronyms of the sentence (capitalised words not opening the
  sentence, all-caps tokens; French elisions ``l'``, ``d'`` set aside) missing from the evidence.

The language is the evidence's (:func:`fiable.language.detect_language`, English when
unsure): French evidence gets French stop words and the Snowball French stemmer for the
lexical share; English keeps the light suffix stemmer the weights were fitted with.

Numbers and names are where a small model's unsupported sentences usually differ from the
passage ("27 days" where the passage says 25), which overlap alone misses.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ..sentences import content_words, word_tokens

__all__ = ["Signals", "content_stems", "evidence_language", "lexical_support", "missing_entities",
           "missing_numbers", "names_in", "numbers_in", "signals"]

_NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "hundred": "100",
    # French ("un", "une" are articles too: left out, like English "one")
    "deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "sept": "7",
    "huit": "8", "neuf": "9", "dix": "10", "onze": "11", "douze": "12", "vingt": "20",
    "trente": "30", "cent": "100", "treize": "13", "quatorze": "14", "quinze": "15",
    "seize": "16", "dix-sept": "17", "dix-huit": "18", "dix-neuf": "19", "quarante": "40",
    "cinquante": "50", "soixante": "60", "mille": "1000", "zéro": "0",
}
_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7,
    "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12,
}
_MONTH = "|".join(sorted({"févr", "févier", "février", "août", "décembre", *_MONTHS}, key=len, reverse=True))
# "12 mars 2024", "1er mai", "mars 2024"; "March 12, 2024"; "12/03/2024" (day first)
_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:er|st|nd|rd|th)?\s+(?P<m1>{_MONTH})(?:\s+(?P<y1>\d{{4}}))?"
    rf"|(?P<m2>{_MONTH})\s+(?:(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+)?(?P<y2>\d{{4}})"
    rf"|(?P<d3>\d{{1,2}})[/.](?P<m3>\d{{1,2}})[/.](?P<y3>\d{{4}}))\b",
    re.IGNORECASE,
)
_ELISION = re.compile(r"^(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
_FRENCH_STOP_WORDS = frozenset(
    """
    le la les l un une des du de d et est sont dans par pour sur au aux ce cet cette ces qui que
    qu il elle ils elles on ne n pas ou se s sa ses son leur leurs y en ete etre ont avait etait
    avec sans plus tres comme mais donc car ni lui nous vous je j me m te t moi toi leur dont
    quel quelle quels quelles aussi tout tous toute toutes selon entre vers chez sous depuis
    lors apres avant pendant si deja fait peut doit ainsi c cela ceci celui celle ceux celles
    """.split()
)
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


@functools.lru_cache(maxsize=1)
def _french_stemmer() -> Any:
    import Stemmer  # PyStemmer: Snowball stemmers

    return Stemmer.Stemmer("french")


@functools.lru_cache(maxsize=512)
def evidence_language(evidence: str) -> str:
    """``fr`` for French evidence, else ``en`` (the signals' two rule sets)."""
    from ..language import detect_language

    return "fr" if detect_language(evidence[:2000]) == "fr" else "en"


def content_stems(text: str, language: str = "en") -> set[str]:
    """Stemmed content words, numbers left to :func:`missing_numbers`."""
    words = [w for w in content_words(text) if w not in _NUMBER_WORDS and not _NUMBER.fullmatch(w)]
    if language != "fr":
        return {_stem(w) for w in words}
    words = [_ELISION.sub("", w) for w in words]
    return set(_french_stemmer().stemWords([w for w in words if w not in _FRENCH_STOP_WORDS]))


def lexical_support(sentence: str, evidence: str, language: str | None = None) -> float:
    """Share of the sentence's content words (stemmed) present in the evidence; ``language``
    (``en``/``fr``) picks the stop words and stemmer, the evidence's when None."""
    language = language or evidence_language(evidence)
    words = content_stems(sentence, language)
    if not words:
        return 1.0
    return len(words & content_stems(evidence, language)) / len(words)


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


def _month(name: str) -> int:
    folded = word_tokens(name)[0]
    return _MONTHS.get(folded, _MONTHS.get(folded[:4] + "ier" if folded.startswith("fev") else folded, 0))


def _dates(text: str) -> tuple[set[tuple[int | None, int, int | None]], str]:
    """The dates of ``text`` as (year, month, day) with None where unsaid, and the text
    with them blanked out (so that their numbers are not compared twice)."""
    found: set[tuple[int | None, int, int | None]] = set()

    def take(m: re.Match[str]) -> str:
        if m.group("m3"):
            day, month, year = int(m.group("d3")), int(m.group("m3")), int(m.group("y3"))
            if not 1 <= month <= 12 or not 1 <= day <= 31:
                return m.group(0)
        else:
            name = m.group("m1") or m.group("m2")
            if name == "may":  # the verb ("5 may be carried over"); the month is written May
                return m.group(0)
            month = _month(name)
            day_s, year_s = m.group("d1") or m.group("d2"), m.group("y1") or m.group("y2")
            day, year = (int(day_s) if day_s else None), (int(year_s) if year_s else None)
            if not month or (day is not None and not 1 <= day <= 31) or (day is None and year is None):
                return m.group(0)
        found.add((year, month, day))
        return " "

    return found, _DATE.sub(take, text)


def numbers_in(text: str) -> set[str]:
    """The numbers of ``text``, normalised (``1,000`` -> ``1000``; number words as digits)."""
    found = {_normalise_number(n) for n in _NUMBER.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in word_tokens(text) if w in _NUMBER_WORDS}
    return found


def _date_text(date: tuple[int | None, int, int | None]) -> str:
    year, month, day = date
    return "-".join(["%04d" % year if year else "?", "%02d" % month, "%02d" % day if day else "?"])


def missing_numbers(sentence: str, evidence: str) -> list[str]:
    """Numbers and dates stated by the sentence that the evidence does not contain; a date
    is found when an evidence date agrees on every part the sentence gives (``mars 2024``
    in ``le 12 mars 2024``); missing dates are written ``YYYY-MM-DD`` (``?`` for unsaid)."""
    said, sentence_rest = _dates(sentence)
    stated, evidence_rest = _dates(evidence)
    have = numbers_in(evidence_rest) | numbers_in(evidence)
    missing = {n for n in numbers_in(sentence_rest) if n not in have}
    for year, month, day in said:
        if not any(m == month and (year is None or y == year) and (day is None or d == day)
                   for y, m, d in stated):
            missing.add(_date_text((year, month, day)))
    return sorted(missing)


def names_in(sentence: str) -> set[str]:
    """The proper names and acronyms of ``sentence``, lower-cased (its first word aside)."""
    names: set[str] = set()
    for match in _ENTITY.finditer(sentence):
        words = match.group(0).split()
        if match.start() == 0 or sentence[: match.start()].rstrip().endswith((".", ":", '"', "“")):
            words = words[1:]  # the sentence's first word is capitalised anyway
        names.update(w for w in words if len(w) > 1)
    names.update(_ACRONYM.findall(sentence))
    tokens = (" ".join(_ELISION.sub("", w) for w in word_tokens(n)) for n in names)
    return {t for t in tokens if t.strip()}


def missing_entities(sentence: str, evidence: str) -> list[str]:
    """Names and acronyms of the sentence that do not occur in the evidence."""
    have = {_ELISION.sub("", w) for w in word_tokens(evidence)}
    stems = {_stem(w) for w in have}
    return sorted(e for e in names_in(sentence)
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
        lexical=round(lexical_support(sentence, evidence, evidence_language(evidence)), 4),
        missing_numbers=tuple(missing_numbers(sentence, evidence)),
        missing_entities=tuple(missing_entities(sentence, evidence)),
        numbers=len(numbers_in(sentence)),
        entities=len(names_in(sentence)),
    )
