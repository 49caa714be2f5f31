"""A bare number answer gets back the unit or currency its passage gives it.

Asked for a short answer, a 0.5B model often drops what makes a figure mean something:
"What is the maximum hotel rate per night in Leeds?" / "110" where the passage says
"£110"; "12" where it says "12 characters". :func:`complete_number` finds the number in
the shown passages and, when the passage writes it with a currency sign before it or a
unit after it (days, hours, characters, GB, km, %, jours, mois, ...), answers with the
passage's own words. Anything but a bare number is left as written, and so is a number the
passages do not hold (the verifier deals with that one).
"""

from __future__ import annotations

import re
from typing import Sequence

from ..sentences import fold_word

__all__ = ["complete_number"]

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


def complete_number(answer: str, passages: Sequence[str]) -> str:
    """``answer`` with the currency and unit its number has in the first passage that
    holds it, when ``answer`` is only a number; else ``answer`` unchanged."""
    bare = _BARE.match(answer)
    if bare is None:
        return answer
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
