"""A bare number answer gets back the unit or currency its passage gives it.

Asked for a short answer, a 0.5B model often drops what makes a figure mean something:
"What is the maximum hotel rate per night in Leeds?" / "110" where the passage says
"£110"; "12" where it says "12 characters". :func:`complete_number` finds the number in
the shown passages and, when the passage writes it with a currency sign before it or a
unit after it (days, hours, characters, GB, km, %, jours, mois, ...), answers with the
passage's own words. Anything but a bare number is left as written, and so is a number the
passages do not hold (the verifier deals with that one).

:func:`mismatched_units` is the verifier's side of the same idea: a number stated with a
unit the evidence never gives it ("27 days" where the passage says "27 working days", "€25"
where it says "25%") is not supported by that evidence.
"""

from __future__ import annotations

import re
from typing import Sequence

from ..sentences import fold_word

__all__ = ["complete_number", "mismatched_units"]

_BARE = re.compile(r"^\s*(?P<num>\d{1,3}(?:[ ,.\u00a0\u202f]\d{3})*(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
                   r"\s*(?P<end>[.!]?)\s*$")
_UNITS = frozenset("""
    day days hour hours minute minutes month months week weeks year years second seconds
    character characters gb mb tb kb km kilometre kilometres kilometer kilometers mile miles
    euro euros pound pounds pence p percent working business calendar times
    jour jours heure heures semaine semaines an ans annee annees mois caractere caracteres
    go mo ko kilometres ouvres ouvrables calendaires fois
""".split())
_TWO_WORD = frozenset({"working", "business", "calendar", "ouvres", "ouvrables", "calendaires"})


_WITH_UNIT = re.compile(r"^\s*(?P<num>\d{1,3}(?:[ ,.\u00a0\u202f]\d{3})*(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
                        r"\s+(?P<unit>[^\W\d_]+)\s*(?P<end>[.!]?)\s*$")


def complete_number(answer: str, passages: Sequence[str]) -> str:
    """``answer`` with the currency and unit its number has in the first passage that
    holds it, when ``answer`` is only a number, or a number with a unit the passage
    qualifies ("27 days" where it says "27 working days"); else ``answer`` unchanged."""
    bare = _BARE.match(answer)
    if bare is None:
        return _qualify(answer, passages)
    number, end = bare.group("num"), bare.group("end")
    found = re.compile(rf"(?P<pre>[£€$]\s?)?(?<![\d.,]){re.escape(number)}(?![\d]|[.,]\d)"
                       r"(?P<post>\s?%|\s?€|\s?£|\s+[^\W\d_]+(?:\s+[^\W\d_]+)?)?")
    for passage in passages:
        for match in found.finditer(passage):
            pre = match.group("pre") or ""
            post = _unit(match.group("post") or "")
            if pre or post:
                return f"{pre}{number}{post}{end}"
    return answer


def _qualify(answer: str, passages: Sequence[str]) -> str:
    """A "27 days" answer written "27 working days" when that is how the first passage
    holding 27 before a qualified form of the same unit writes it; else unchanged."""
    short = _WITH_UNIT.match(answer)
    if short is None or fold_word(short.group("unit")) not in _UNITS:
        return answer
    number, unit = short.group("num"), fold_word(short.group("unit"))
    found = re.compile(rf"(?<![\d.,]){re.escape(number)}\s+(?P<q>[^\W\d_]+)\s+(?P<u>[^\W\d_]+)")
    for passage in passages:
        for match in found.finditer(passage):
            if fold_word(match.group("q")) in _TWO_WORD and fold_word(match.group("u")) == unit:
                return f"{number} {match.group('q')} {match.group('u')}{short.group('end')}"
    return answer


def _unit(post: str) -> str:
    """The unit part of the words after a number: ``" working days"``, ``" GB"``, ``"%"``."""
    if post.strip() in ("%", "€", "£"):
        return post
    words = post.split()
    if not words or fold_word(words[0]) not in _UNITS:
        return ""
    if fold_word(words[0]) in _TWO_WORD and len(words) > 1 and fold_word(words[1]) in _UNITS:
        return " " + " ".join(words[:2])
    return "" if fold_word(words[0]) in _TWO_WORD else " " + words[0]


_CURRENCY_WORDS = {"euro": "€", "euros": "€", "eur": "€", "pound": "£", "pounds": "£", "gbp": "£",
                   "dollar": "$", "dollars": "$", "usd": "$"}
_NUMBER_UNIT = re.compile(
    r"(?P<pre>[£€$])?\s?(?<![\d.,])(?P<num>\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+(?:[.,]\d+)?\b|\d+(?:[.,]\d+)?)"
    r"(?P<post>\s?%|\s?[€£$]|\s+[^\W\d_]+(?:\s+[^\W\d_]+)?)?")


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def units_of(text: str) -> dict[str, set[str]]:
    """Each number of ``text`` (digits only, ``1 000`` -> ``1000``) with the units it is
    written with: ``€``/``£``/``$``/``%`` or a unit word (singular, with ``working`` /
    ``calendar`` kept: ``working day``); ``""`` for a number written bare."""
    found: dict[str, set[str]] = {}
    for m in _NUMBER_UNIT.finditer(text):
        number = re.sub(r"[\s\u00a0\u202f]", "", m.group("num")).replace(",", ".")
        post = (m.group("post") or "").strip()
        words = post.split()
        unit = m.group("pre") or ""
        if post in ("%", "€", "£", "$"):
            unit = post
        elif words and fold_word(words[0]) in _CURRENCY_WORDS:
            unit = _CURRENCY_WORDS[fold_word(words[0])]
        elif not unit and words:
            named = _unit(" " + post).split()
            unit = " ".join(_singular(fold_word(w)) for w in named)
        found.setdefault(number, set()).add(unit)
    return found


def mismatched_units(sentence: str, evidence: str) -> list[str]:
    """The numbers of ``sentence`` written with a unit that no occurrence of the same number
    in ``evidence`` has, when every occurrence there has a unit (``27 days`` vs ``27 working
    days``, ``€25`` vs ``25%``); a number the evidence writes bare, or lacks, is not counted."""
    have = units_of(evidence)
    out = []
    for number, units in units_of(sentence).items():
        there = have.get(number)
        if not there or "" in there:
            continue
        if any(u and u not in there for u in units):
            out.append(number)
    return sorted(out)
