"""Plain text: paragraphs split on blank lines; headings and FAQ questions recognised.

Plain text has no markup, so structure is read from the lines themselves:

- a short line alone in its paragraph, written in capitals or numbered ("2. HOW MANY
  DAYS", "3) Core hours") is a section heading;
- a FAQ question (a paragraph's first line ending with "?", or starting with "Q:" /
  "Question:") is a heading of its own, one level below the section, so that each
  question/answer pair becomes its own chunk, found and cited as such.
"""

from __future__ import annotations

import re
from pathlib import Path

from fiable.documents import LoadedDocument
from fiable.loaders._common import clean_lines, decode_text, finish_blocks, make_block, normalise_text, stem_title

__all__ = ["load_text"]

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_MAX_TITLE_CHARS = 80


_NUMBERED = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*[.)]|[IVX]{1,4}\.)\s+\S")
_QUESTION_PREFIX = re.compile(r"^(?:Q|Question)\s*[:.)-]\s*", re.IGNORECASE)
_ANSWER_PREFIX = re.compile(r"^(?:A|Answer|R|Réponse)\s*[:.)-]\s*", re.IGNORECASE)
_MAX_HEADING_CHARS = 90
_MAX_QUESTION_CHARS = 200


def load_text(path: Path, data: bytes) -> LoadedDocument:
    text, encoding = decode_text(data, path)
    paragraphs = [clean_lines(p) for p in _BLANK_LINE.split(normalise_text(text))]
    paragraphs = [p for p in paragraphs if p.strip()]
    title = _title_from_first_line(paragraphs[0] if paragraphs else "") or stem_title(path)
    blocks = finish_blocks(_structure(paragraphs, title))
    return LoadedDocument(source=str(path), title=title, format="text", blocks=blocks, metadata={"encoding": encoding})


def _is_section_heading(paragraph: str) -> bool:
    line = paragraph.strip()
    if "\n" in line or len(line) > _MAX_HEADING_CHARS or line[-1:] in ".,;:!?":
        return False
    letters = [c for c in line if c.isalpha()]
    if len(letters) < 3:
        return False
    return bool(_NUMBERED.match(line)) or all(c.isupper() for c in letters)


def _question(paragraph: str) -> tuple[str, str] | None:
    """(question, rest of the paragraph) when the paragraph opens with a FAQ question."""
    first, _, rest = paragraph.strip().partition("\n")
    prefixed = _QUESTION_PREFIX.match(first)
    if not prefixed and not first.rstrip().endswith("?"):
        return None
    if len(first) > _MAX_QUESTION_CHARS:
        return None
    question = first[prefixed.end():] if prefixed else first
    return question.strip(), _ANSWER_PREFIX.sub("", rest.strip(), count=1)


def _structure(paragraphs: list[str], title: str):  # type: ignore[no-untyped-def]
    """Blocks of the paragraphs: section headings, FAQ questions as sub-headings, text."""
    section: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    for i, paragraph in enumerate(paragraphs):
        if i == 0 and paragraph.split("\n")[0].strip() == title:
            yield make_block(paragraph, "paragraph")  # the title line(s), kept as text
            continue
        if _is_section_heading(paragraph):
            section = path = (paragraph.strip(),)
            yield make_block(paragraph, "heading", path, level=2)
            continue
        asked = _question(paragraph)
        if asked is not None:
            question, rest = asked
            path = (*section, question)
            yield make_block(question, "heading", path, level=3)
            if rest:
                yield make_block(rest, "paragraph", path)
            continue
        yield make_block(paragraph, "paragraph", path)


def _title_from_first_line(first_paragraph: str) -> str | None:
    """The first line when it reads like a title: short, no final punctuation, and alone
    in its paragraph or written in capitals / Title Case (a wrapped sentence is not)."""
    if not first_paragraph:
        return None
    lines = first_paragraph.split("\n")
    line = lines[0].strip()
    if not line or len(line) > _MAX_TITLE_CHARS or line[-1] in ".,;:!?" or not any(c.isalpha() for c in line):
        return None
    if len(lines) == 1 or line.isupper():
        return line
    words = [w for w in line.split() if sum(c.isalpha() for c in w) >= 4]
    if words and sum(w[0].isupper() for w in words) >= 0.6 * len(words) and len(words) >= 2:
        return line
    return None
