"""Sentence splitting and word tokens, shared by chunking and citation mapping.

A rule-based splitter: it breaks after ``.``, ``!``, ``?`` (and a closing quote or bracket)
followed by whitespace and an upper-case letter, digit, quote or bracket, except after
common abbreviations, initials and list numbers. Newlines that separate list items or
lines of a table also end a sentence. It returns character spans, so callers keep exact
offsets into the original text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["sentence_spans", "split_sentences", "fold_word", "word_tokens", "content_words"]

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st vs etc e.g i.e cf al fig figs no nos vol pp p approx dept
    inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun
    min max art sec ch eq ref refs ed eds est op mme mlle env
    """.split()
)

# End punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"""[.!?…]+["'”’)\]]*\s+""")
_NEXT_STARTS_SENTENCE = re.compile(r"""["'“‘(\[]?[\w]""", re.UNICODE)
_LINE_BREAK = re.compile(r"\n+")
_WORD = re.compile(r"\w+(?:[.,'’-]\w+)*", re.UNICODE)


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the token just before ``end`` (the position of the period) is an abbreviation."""
    start = end
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "([\"'":
        start -= 1
    token = text[start:end].lower().rstrip(".")
    if not token:
        return False
    if token in _ABBREVIATIONS:
        return True
    if len(token) == 1 and token.isalpha():  # initials: "J. Smith"
        return True
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]?", token):  # "e.g", "u.s"
        return True
    return False


def _split_line(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    seg_start = start
    while seg_start < end and text[seg_start].isspace():
        seg_start += 1
    for m in _BOUNDARY.finditer(text, seg_start, end):
        nxt = m.end()
        if nxt >= end:
            break
        if not _NEXT_STARTS_SENTENCE.match(text, nxt):
            continue
        following = text[nxt]
        if following.isalpha() and following.islower():
            continue
        punct_pos = m.start()
        if text[punct_pos] == "." and _is_abbreviation(text, punct_pos):
            continue
        # "1. First item" style list numbers: a lone number before the period.
        if text[punct_pos] == "." and re.fullmatch(r"\d{1,2}", text[seg_start:punct_pos].strip()):
            continue
        sent_end = m.end()
        while sent_end > seg_start and text[sent_end - 1].isspace():
            sent_end -= 1
        if sent_end > seg_start:
            spans.append((seg_start, sent_end))
        seg_start = nxt
    tail_end = end
    while tail_end > seg_start and text[tail_end - 1].isspace():
        tail_end -= 1
    while seg_start < tail_end and text[seg_start].isspace():
        seg_start += 1
    if tail_end > seg_start:
        spans.append((seg_start, tail_end))


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the sentences in ``text[start:end]``.

    Spans exclude surrounding whitespace, never overlap, and appear in order.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    line_start = start
    for m in _LINE_BREAK.finditer(text, start, end):
        _split_line(text, line_start, m.start(), spans)
        line_start = m.end()
    _split_line(text, line_start, end, spans)
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped."""
    return [text[a:b] for a, b in sentence_spans(text)]


def fold_word(word: str) -> str:
    """``word`` lower-cased with its accents removed (``"Ouvrés"`` -> ``"ouvres"``)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def word_tokens(text: str) -> list[str]:
    """Lower-cased, accent-folded word tokens (numbers kept, e.g. ``3.5`` and ``25``)."""
    return [fold_word(w) for w in _WORD.findall(text)]


_STOP_WORDS = frozenset(
    """
    a an and are as at be been being but by can could did do does doing for from had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor
    not of off on once only or other our ours out over own same she should so some such than that
    the their theirs them then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours also any each
    may must per via about after again against all am before below between both during few further
    above because down
    """.split()
)


def content_words(text: str) -> list[str]:
    """Word tokens without English stop words: what overlap measures compare."""
    return [w for w in word_tokens(text) if w not in _STOP_WORDS]
