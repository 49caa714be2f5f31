"""Plain text: paragraphs split on blank lines, no headings."""

from __future__ import annotations

import re
from pathlib import Path

from fiable.documents import LoadedDocument
from fiable.loaders._common import clean_lines, decode_text, finish_blocks, make_block, normalise_text, stem_title

__all__ = ["load_text"]

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_MAX_TITLE_CHARS = 80


def load_text(path: Path, data: bytes) -> LoadedDocument:
    text, encoding = decode_text(data, path)
    paragraphs = [clean_lines(p) for p in _BLANK_LINE.split(normalise_text(text))]
    blocks = finish_blocks(make_block(p) for p in paragraphs)
    title = _title_from_first_line(blocks[0].text if blocks else "") or stem_title(path)
    return LoadedDocument(source=str(path), title=title, format="text", blocks=blocks, metadata={"encoding": encoding})


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
