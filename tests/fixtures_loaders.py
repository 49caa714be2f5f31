"""Builders of small test documents (PDF through reportlab, DOCX through python-docx)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

PageSpec = Sequence[str | tuple[str, int]]  # lines; (text, outline level) makes a bookmarked heading


def make_pdf(
    path: Path,
    pages: Sequence[PageSpec],
    *,
    title: str | None = None,
    draw_only: bool = False,
) -> Path:
    """A PDF with one page per entry; each page lists its lines top-down.

    An empty string leaves a blank gap (a paragraph break). A ``(text, level)`` item is drawn
    in a larger font and bookmarked in the outline at ``level`` (0 = top). ``draw_only``
    makes pages holding only a drawn rectangle (no text layer).
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    if title is not None:
        c.setTitle(title)
    width, height = A4
    for page_number, lines in enumerate(pages, start=1):
        if draw_only:
            c.rect(72, 72, 200, 300, stroke=1, fill=1)
        y = height - 72
        for i, item in enumerate(lines):
            if isinstance(item, tuple):
                text, level = item
                key = f"p{page_number}-{i}"
                c.bookmarkPage(key)
                c.addOutlineEntry(text, key, level=level)
                c.setFont("Helvetica-Bold", 16)
                c.drawString(72, y, text)
                y -= 24
            elif item == "":
                y -= 14
            else:
                c.setFont("Helvetica", 11)
                c.drawString(72, y, item)
                y -= 14
        c.showPage()
    c.save()
    return path


def encrypt_pdf(source: Path, target: Path, *, user_password: str, owner_password: str | None = "owner") -> Path:
    """A copy of ``source`` encrypted with pypdf (RC4-128: no extra package needed)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    with target.open("wb") as handle:
        writer.write(handle)
    return target


def make_docx(path: Path, build) -> Path:
    """Save the python-docx Document that ``build(document)`` fills."""
    import docx

    document = docx.Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path
