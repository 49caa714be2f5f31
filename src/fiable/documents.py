"""What a loader produces: a document as an ordered list of structural blocks.

The document's normalised text is ``"\\n\\n".join(block.text for block in blocks)``;
character offsets elsewhere (chunks, citations) index into that string
(see :meth:`LoadedDocument.text` and :meth:`LoadedDocument.block_offsets`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Block", "BlockKind", "LoadedDocument", "BLOCK_SEPARATOR"]

BlockKind = Literal["heading", "paragraph", "list", "table", "code"]
BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit of a document.

    ``heading_path`` lists the headings above this block, outermost first; for a heading
    block it ends with the heading itself. ``page`` is 1-based (PDF) or None. ``level`` is
    the heading level (1 = top) for headings and 0 otherwise. ``text`` is never empty and
    has no leading/trailing whitespace.
    """

    text: str
    kind: BlockKind = "paragraph"
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    level: int = 0


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A loaded file: its title, format and blocks. ``blocks`` is never empty."""

    source: str
    title: str
    format: Literal["text", "markdown", "html", "pdf", "docx"]
    blocks: tuple[Block, ...]
    metadata: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """The normalised text: blocks joined by a blank line."""
        return BLOCK_SEPARATOR.join(b.text for b in self.blocks)

    def block_offsets(self) -> list[int]:
        """Start offset of each block in :meth:`text`."""
        offsets: list[int] = []
        pos = 0
        for block in self.blocks:
            offsets.append(pos)
            pos += len(block.text) + len(BLOCK_SEPARATOR)
        return offsets

    @property
    def pages(self) -> int | None:
        """Number of pages when the format has pages, else None."""
        pages = [b.page for b in self.blocks if b.page is not None]
        return max(pages) if pages else None
