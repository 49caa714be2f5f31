"""Split a question with several asks into sub-questions.

Two steps:

1. :func:`split_heuristic` (microseconds): numbered or bulleted lists, several sentences
   ending in ``?``, asks joined by "and" / "et" (or ";") before a question word, and
   "compare X and Y" / "comparer X et Y" / "difference between X and Y".
2. :func:`split_with_model` (the generator, one short call): only when the heuristic found
   one part and the question still looks compound (:func:`looks_compound`). The model's
   output is constrained by a GBNF grammar to ``{"questions":["...", ...]}`` (1 to 4
   strings), then parsed and checked: malformed JSON, empty strings or sub-questions that
   mostly use words absent from the question are refused and the heuristic's answer kept.

``experts_split`` chooses: ``heuristic`` (default), ``model`` (heuristic, then the model
when unsure) or ``off``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from ..errors import GeneratorError
from ..generators.base import ChatMessage, GenerationOptions, Generator

__all__ = ["MAX_PARTS", "SPLIT_GRAMMAR", "Split", "looks_compound", "parse_model_split",
           "split_heuristic", "split_question", "split_with_model"]

logger = logging.getLogger(__name__)

MAX_PARTS = 4
_MIN_PART_WORDS = 2

_WH_EN = ("what", "who", "whom", "whose", "when", "where", "which", "why", "how",
          "is it true", "does", "do", "did", "is there", "are there", "can", "could")
_WH_FR = ("qui", "que", "qu'", "qu’", "quel", "quelle", "quels", "quelles", "quand", "où",
          "pourquoi", "comment", "combien", "est-ce", "lequel", "laquelle", "lesquels",
          "lesquelles", "à quel", "à quelle", "en quelle", "de quel", "de quelle", "dans quel",
          "dans quelle")
_WH = "|".join(re.escape(w) for w in sorted(_WH_EN + _WH_FR, key=len, reverse=True))
# "..., and what ..." / "... et quand ..." / "...; who ...": the second ask starts at the word
_JOIN = re.compile(rf"\s*(?:,\s*|;\s*)?\b(?:and|and also|also|et|et aussi|puis)\s+(?=(?:{_WH})\b)"
                   rf"|\s*;\s*(?=(?:{_WH})\b)", re.IGNORECASE)
_COMPARE = re.compile(
    r"^\s*(?:please\s+)?(?:compare|contrast|comparer|comparez)\s+(?P<a>.+?)\s+"
    r"(?:and|with|to|versus|vs\.?|et|avec|à)\s+(?P<b>.+?)\s*[?.!]?\s*$"
    r"|^\s*(?:what\s+is\s+|what's\s+)?(?:the\s+)?differences?\s+between\s+(?P<c>.+?)\s+and\s+"
    r"(?P<d>.+?)\s*[?.!]?\s*$"
    r"|^\s*(?:quelle\s+est\s+)?(?:la\s+)?différences?\s+entre\s+(?P<e>.+?)\s+et\s+(?P<f>.+?)"
    r"\s*[?.!]?\s*$",
    re.IGNORECASE)
_ARTICLES = {"the", "a", "an", "le", "la", "les", "un", "une", "des", "du"}
_LIST_ITEM = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|[-*•])\s+")
_QUESTION_END = re.compile(r"(?<=[?？])\s+")
_HINT = re.compile(r"\b(and|et|also|aussi|compare|comparer|versus|vs|both|les deux)\b|[;,]",
                   re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)

SPLIT_GRAMMAR = r'''root ::= "{\"questions\":[" item ("," item)? ("," item)? ("," item)? "]}"
item ::= "\"" char char char+ "\""
char ::= [^"\\\n\r]
'''
_SYSTEM = ("You split a user's message into the separate questions it asks. Each question "
           "must stand alone and use the user's words. If it asks one thing, return it "
           "unchanged as the only question. Reply with JSON only.")
_USER = 'Message: {question}\n\nJSON {{"questions": [...]}}:'


@dataclass(frozen=True, slots=True)
class Split:
    """The sub-questions of a question and how they were found (``none``: one part)."""

    parts: tuple[str, ...]
    method: str  # none / list / question-marks / conjunction / comparison / model / off
    seconds: float = 0.0
    model_error: str | None = None  # why the model's split was refused, when it was

    def to_dict(self) -> dict[str, object]:
        return {"parts": list(self.parts), "method": self.method,
                "ms": round(self.seconds * 1000, 3), "model_error": self.model_error}


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(unicodedata.normalize("NFC", text))]


def _clean(part: str) -> str:
    part = " ".join(part.split()).strip(" ,;:-")
    if part and part[0].islower():
        part = part[0].upper() + part[1:]
    return part


def _finish(part: str) -> str:
    part = _clean(part)
    return part if not part or part[-1] in "?.!？" else part + "?"


def _usable(parts: Sequence[str]) -> bool:
    return (2 <= len(parts) <= MAX_PARTS
            and all(len(_words(p)) >= _MIN_PART_WORDS for p in parts))


def split_heuristic(question: str) -> Split:
    """Split ``question`` with patterns (see module docstring); one part when unsure."""
    t0 = time.perf_counter()
    text = question.strip()

    def done(parts: Sequence[str], method: str) -> Split:
        return Split(tuple(parts), method, time.perf_counter() - t0)

    if len(_LIST_ITEM.findall(text)) >= 2:
        parts = [_finish(p) for p in _LIST_ITEM.split(text)[1:] if p.strip()]
        if _usable(parts):
            return done(parts, "list")
    compare = _COMPARE.match(text)
    if compare:
        groups = [_clean(g).rstrip("?.!") for g in compare.groups() if g][:2]
        french = bool(compare.group("e")) or compare.group(0).lower().lstrip().startswith("compar") \
            and " et " in compare.group(0).lower()
        ask = "Qu'est-ce que {} ?" if french else "What is {}?"
        parts = [ask.format(g[0].lower() + g[1:] if g.split()[0].lower() in _ARTICLES else g)
                 for g in groups if g]
        if _usable(parts):
            return done(parts, "comparison")
    asks = [p for p in _QUESTION_END.split(text) if p.strip()]
    if len(asks) >= 2:
        parts = [_finish(p) for p in asks]
        if _usable(parts):
            return done(parts, "question-marks")
    pieces: list[str] = []
    for ask in asks or [text]:
        pieces += [p for p in _JOIN.split(ask) if p and p.strip()]
    parts = [_finish(p) for p in pieces]
    if len(parts) >= 2 and _usable(parts):
        return done(parts, "conjunction")
    return done([text], "none")


def looks_compound(question: str) -> bool:
    """Whether a question the heuristic left whole may still ask several things (worth a
    model call): it has a joining word or punctuation and enough words."""
    return len(_words(question)) >= 8 and bool(_HINT.search(question))


def parse_model_split(reply: str, question: str) -> tuple[str, ...]:
    """The sub-questions in the model's ``reply``; ValueError saying why it is refused."""
    try:
        data = json.loads(reply)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError("no 'questions' list")
    if len(items) > MAX_PARTS or not all(isinstance(q, str) for q in items):
        raise ValueError(f"'questions' must be 1 to {MAX_PARTS} strings")
    parts = tuple(_finish(q) for q in items)
    if any(len(_words(p)) < _MIN_PART_WORDS for p in parts):
        raise ValueError("a sub-question is empty or one word")
    known = set(_words(question))
    for p in parts:
        words = _words(p)
        if sum(w in known for w in words) < 0.6 * len(words):
            raise ValueError("a sub-question uses words that are not in the question")
    return parts


def split_with_model(question: str, generator: Generator) -> tuple[str, ...]:
    """Ask ``generator`` for the sub-questions (grammar-constrained JSON); ValueError when
    the reply is refused, GeneratorError when the backend fails."""
    options = GenerationOptions(max_tokens=48 + len(question) // 2, temperature=0.0, seed=0,
                                grammar=SPLIT_GRAMMAR)
    messages = [ChatMessage("system", _SYSTEM),
                ChatMessage("user", _USER.format(question=question))]
    reply = "".join(generator.stream(messages, options)).strip()
    return parse_model_split(reply, question)


def split_question(question: str, mode: str, generator: Generator | None = None) -> Split:
    """Split ``question`` as ``mode`` says (``off`` / ``heuristic`` / ``model``)."""
    t0 = time.perf_counter()
    if mode == "off":
        return Split((question.strip(),), "off", 0.0)
    found = split_heuristic(question)
    if mode != "model" or len(found.parts) > 1 or generator is None \
            or not looks_compound(question):
        return found
    try:
        parts = split_with_model(question, generator)
    except (ValueError, GeneratorError) as exc:
        reason = exc.message if isinstance(exc, GeneratorError) else str(exc)
        logger.info("model split refused", extra={"reason": reason})
        return Split(found.parts, found.method, time.perf_counter() - t0, model_error=reason)
    method = "model" if len(parts) > 1 else "none"
    return Split(parts if len(parts) > 1 else found.parts, method, time.perf_counter() - t0)
