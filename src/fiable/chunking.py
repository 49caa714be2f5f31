"""Structure-aware chunking, bounded in tokens of the embedder's own tokenizer.

A document's blocks are cut into units (sentences of paragraphs; lines of lists, tables
and code; whole headings), then packed greedily into chunks of at most ``max_tokens``:

- a heading starts a new chunk (a heading is never left alone at the end of a chunk);
- a page change starts a new chunk, so each chunk cites pages precisely;
- when a section is longer than one chunk, the next chunk repeats the last sentences of
  the previous one, up to ``overlap`` tokens;
- a single unit longer than ``max_tokens`` is cut at word boundaries.

Every chunk is a contiguous slice ``document.text()[char_start:char_end]``, so offsets are
exact, and carries the heading path and pages of what it holds.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Callable

from .documents import LoadedDocument
from .sentences import sentence_spans

__all__ = ["Chunk", "chunk_document", "CHUNKER_VERSION", "embedding_text", "split_words"]

CHUNKER_VERSION = "1"
TokenCounter = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    text: str
    char_start: int
    char_end: int
    heading_path: tuple[str, ...]
    page_start: int | None
    page_end: int | None
    token_count: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    tokens: int
    page: int | None
    heading_path: tuple[str, ...]
    is_heading: bool


_WHITESPACE_RUN = re.compile(r"\S+")


def split_words(
    text: str, start: int, end: int, limit: int, count: TokenCounter
) -> list[tuple[int, int, int]]:
    """Cut ``text[start:end]`` at word boundaries into pieces of at most ``limit`` tokens."""
    words = [(m.start(), m.end()) for m in _WHITESPACE_RUN.finditer(text, start, end)]
    pieces: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        total = count(text[words[i][0] : words[-1][1]])
        remaining = len(words) - i
        take = remaining if total <= limit else max(1, math.floor(remaining * limit / total))
        while True:
            a, b = words[i][0], words[i + take - 1][1]
            n = count(text[a:b])
            if n <= limit or take == 1:
                break
            take = max(1, math.floor(take * limit / n) if n > limit * 1.05 else take - 1)
        pieces.append((a, b, n))
        i += take
    return pieces


def _units(doc: LoadedDocument, text: str, limit: int, count: TokenCounter) -> list[_Unit]:
    units: list[_Unit] = []
    for block, offset in zip(doc.blocks, doc.block_offsets()):
        end = offset + len(block.text)
        if block.kind == "heading":
            spans = [(offset, end)]
        elif block.kind in {"list", "table", "code"}:
            spans = []
            line_start = offset
            for line in block.text.split("\n"):
                if line.strip():
                    a = line_start + (len(line) - len(line.lstrip()))
                    spans.append((a, line_start + len(line.rstrip())))
                line_start += len(line) + 1
        else:
            spans = sentence_spans(text, offset, end)
        for a, b in spans:
            n = count(text[a:b])
            if n > limit:
                for pa, pb, pn in split_words(text, a, b, limit, count):
                    units.append(_Unit(pa, pb, pn, block.page, block.heading_path, False))
            else:
                units.append(
                    _Unit(a, b, n, block.page, block.heading_path, block.kind == "heading")
                )
    return units


def _make_chunk(ordinal: int, text: str, units: list[_Unit]) -> Chunk:
    body = [u for u in units if not u.is_heading] or units
    pages = [u.page for u in units if u.page is not None]
    start, end = units[0].start, units[-1].end
    piece = text[start:end]
    return Chunk(
        ordinal=ordinal,
        text=piece,
        char_start=start,
        char_end=end,
        heading_path=body[-1].heading_path,
        page_start=min(pages) if pages else None,
        page_end=max(pages) if pages else None,
        token_count=sum(u.tokens for u in units),
        content_hash=hashlib.sha256(piece.encode("utf-8")).hexdigest(),
    )


def chunk_document(
    doc: LoadedDocument, *, count_tokens: TokenCounter, max_tokens: int = 200, overlap: int = 40
) -> list[Chunk]:
    """Cut ``doc`` into chunks of at most ``max_tokens`` tokens (see module docstring)."""
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    overlap = max(0, min(overlap, max_tokens // 2))
    text = doc.text()
    chunks: list[Chunk] = []
    current: list[_Unit] = []
    tokens = 0
    fresh = 0  # units in ``current`` not already emitted in the previous chunk

    def flush(keep_overlap: bool) -> None:
        nonlocal current, tokens, fresh
        if not fresh:
            current, tokens = [], 0
            return
        chunks.append(_make_chunk(len(chunks), text, current))
        kept: list[_Unit] = []
        if keep_overlap and overlap:
            budget = overlap
            for u in reversed(current):
                if u.is_heading or u.tokens > budget:
                    break
                kept.insert(0, u)
                budget -= u.tokens
        current = kept
        tokens = sum(u.tokens for u in kept)
        fresh = 0

    for unit in _units(doc, text, max_tokens, count_tokens):
        fresh_body = fresh > 0 and any(not u.is_heading for u in current[-fresh:])
        if unit.is_heading or (current and unit.page != current[-1].page):
            if fresh_body:
                flush(keep_overlap=False)
            elif not fresh:  # only overlap from before the heading / page break: drop it
                current, tokens = [], 0
        elif tokens + unit.tokens > max_tokens:
            if fresh:
                flush(keep_overlap=fresh_body)
            while current and tokens + unit.tokens > max_tokens:
                tokens -= current.pop(0).tokens
        current.append(unit)
        tokens += unit.tokens
        fresh += 1
    flush(keep_overlap=False)
    return chunks


def embedding_text(title: str, heading_path: tuple[str, ...], text: str) -> str:
    """What the embedder reads for a chunk: its title and headings, then its text."""
    context = [title] + [h for h in heading_path if h != title]
    return " > ".join(c for c in context if c) + "\n" + text if any(context) else text
