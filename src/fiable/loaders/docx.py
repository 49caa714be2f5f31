"""DOCX through python-docx: headings from styles, lists grouped, tables in place."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fiable.documents import Block, LoadedDocument
from fiable.errors import CorruptFileError, EncryptedFileError, FileTooLargeError
from fiable.loaders._common import (
    HeadingTracker,
    clean_inline,
    clean_lines,
    finish_blocks,
    make_block,
    stem_title,
)

__all__ = ["load_docx"]

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_HEADING_NAME = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_TOC_NAME = re.compile(r"^toc\s*\d$")  # table-of-contents entries repeat the headings
_LIST_NAME = re.compile(r"^list\b.*?(\d)?$", re.IGNORECASE)
_CORRUPT_HINT = "open the file in Word or LibreOffice and save it again as .docx"
_MAX_STYLE_DEPTH = 10


@dataclass(frozen=True, slots=True)
class _Style:
    name: str
    based_on: str | None
    numbered: bool
    outline_level: int | None  # 0-based, as in w:outlineLvl


def load_docx(path: Path, data: bytes, *, max_bytes: int) -> LoadedDocument:
    import docx

    src = str(path)
    if data.startswith(OLE_SIGNATURE):
        raise EncryptedFileError(
            "is an OLE compound file, not a zip package: a password-protected (encrypted) DOCX "
            "(or an old binary .doc renamed to .docx)",
            path=src,
            hint="open it in Word or LibreOffice, remove the password (Word: File > Info > Protect Document > "
            "Encrypt with Password, empty it) and save it as .docx",
        )
    if not data.startswith(b"PK"):
        raise CorruptFileError(
            "is not a DOCX: a .docx file is a zip package and this one does not start like a zip",
            path=src,
            hint=_CORRUPT_HINT,
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CorruptFileError(f"is not a readable zip package: {exc}", path=src, hint=_CORRUPT_HINT) from exc
    limit = max(10 * max_bytes, 100 * 1024 * 1024)
    if unpacked > limit:
        raise FileTooLargeError(
            f"unpacks to {unpacked} bytes, over the limit of {limit} bytes (10 x the file size limit)",
            path=src,
            hint="raise the `max_file_mb` setting or split the document",
        )
    try:
        document = docx.Document(io.BytesIO(data))
        styles = _styles(document)
        core_title = clean_inline(document.core_properties.title or "")
        builder = _Builder(styles)
        builder.container(document.element.body)
        builder.flush_list()
    except (CorruptFileError, EncryptedFileError):
        raise
    except Exception as exc:  # noqa: BLE001 - zip/xml/package errors all mean a broken file
        raise CorruptFileError(
            f"cannot be read as a DOCX: {type(exc).__name__}: {exc}", path=src, hint=_CORRUPT_HINT
        ) from exc

    blocks = finish_blocks(builder.blocks)
    title = core_title or builder.title_paragraph or builder.first_heading or stem_title(path)
    return LoadedDocument(source=src, title=title, format="docx", blocks=blocks, metadata={})


def _styles(document) -> dict[str, _Style]:
    styles: dict[str, _Style] = {}
    default: _Style | None = None
    for element in document.styles.element.iter(f"{_W}style"):
        if element.get(f"{_W}type") != "paragraph":
            continue
        style_id = element.get(f"{_W}styleId")
        name_el = element.find(f"{_W}name")
        based_el = element.find(f"{_W}basedOn")
        ppr = element.find(f"{_W}pPr")
        outline = ppr.find(f"{_W}outlineLvl") if ppr is not None else None
        outline_level = None
        if outline is not None:
            try:
                outline_level = int(outline.get(f"{_W}val"))
            except (TypeError, ValueError):
                outline_level = None
        style = _Style(
            name=(name_el.get(f"{_W}val") if name_el is not None else style_id) or "",
            based_on=based_el.get(f"{_W}val") if based_el is not None else None,
            numbered=ppr is not None and ppr.find(f"{_W}numPr") is not None,
            outline_level=outline_level,
        )
        if style_id:
            styles[style_id] = style
        if element.get(f"{_W}default") in ("1", "true", "on"):
            default = style
    if default is not None:
        styles[""] = default
    return styles


def _run_text(element, parts: list[str]) -> None:
    """Visible text below ``element``: deleted text, field codes and fallbacks skipped."""
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in (f"{_W}del", f"{_W}delText", f"{_W}instrText", _MC_FALLBACK):
            continue
        if tag == f"{_W}t":
            parts.append(child.text or "")
        elif tag == f"{_W}tab":
            parts.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
        elif tag == f"{_W}noBreakHyphen":
            parts.append("-")
        elif tag == f"{_W}p":  # a paragraph nested in a text box or cell
            parts.append(" ")
            _run_text(child, parts)
            parts.append(" ")
        else:
            _run_text(child, parts)


def _paragraph_text(p) -> str:
    parts: list[str] = []
    _run_text(p, parts)
    return clean_lines("".join(parts))


class _Builder:
    def __init__(self, styles: dict[str, _Style]) -> None:
        self.styles = styles
        self.blocks: list[Block] = []
        self.headings = HeadingTracker()
        self.title_paragraph: str | None = None
        self.first_heading: str | None = None
        self._list: list[str] = []

    def flush_list(self) -> None:
        if self._list:
            self.blocks.append(make_block("\n".join(self._list), "list", self.headings.path))
            self._list = []

    def container(self, element) -> None:
        for child in element:
            tag = child.tag
            if tag == f"{_W}p":
                self.paragraph(child)
            elif tag == f"{_W}tbl":
                self.flush_list()
                self.table(child)
            elif tag in (f"{_W}sdt", f"{_W}customXml", f"{_W}sdtContent"):
                self.container(child)

    def _style_chain(self, p):
        ppr = p.find(f"{_W}pPr")
        style_el = ppr.find(f"{_W}pStyle") if ppr is not None else None
        style_id = style_el.get(f"{_W}val") if style_el is not None else ""
        seen: set[str] = set()
        while style_id is not None and style_id not in seen and len(seen) < _MAX_STYLE_DEPTH:
            seen.add(style_id)
            style = self.styles.get(style_id)
            if style is None:
                return
            yield style
            style_id = style.based_on

    def _classify(self, p) -> tuple[str, int]:
        """("title"|"heading"|"list"|"toc"|"paragraph", level)."""
        ppr = p.find(f"{_W}pPr")
        chain = list(self._style_chain(p))
        first_name = chain[0].name.strip().lower() if chain else ""
        if first_name == "title":
            return "title", 1
        if _TOC_NAME.match(first_name):
            return "toc", 0
        for style in chain:
            match = _HEADING_NAME.match(style.name.strip())
            if match:
                return "heading", int(match.group(1))
        own_outline = ppr.find(f"{_W}outlineLvl") if ppr is not None else None
        levels = [s.outline_level for s in chain if s.outline_level is not None]
        if own_outline is not None:
            try:
                levels.insert(0, int(own_outline.get(f"{_W}val")))
            except (TypeError, ValueError):
                pass
        if levels and 0 <= levels[0] <= 8:
            return "heading", levels[0] + 1
        num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
        if num_pr is not None:
            ilvl = num_pr.find(f"{_W}ilvl")
            try:
                return "list", int(ilvl.get(f"{_W}val")) if ilvl is not None else 0
            except (TypeError, ValueError):
                return "list", 0
        for style in chain:
            match = _LIST_NAME.match(style.name.strip())
            if match or style.numbered:
                depth = int(match.group(1)) - 1 if match and match.group(1) else 0
                return "list", max(depth, 0)
        return "paragraph", 0

    def paragraph(self, p) -> None:
        text = _paragraph_text(p)
        if not text:
            return
        kind, level = self._classify(p)
        if kind == "toc":
            return
        if kind == "list":
            self._list.append(f"{'  ' * min(level, 8)}- {clean_inline(text)}")
            return
        self.flush_list()
        if kind in ("title", "heading"):
            text = clean_inline(text)
            if kind == "title" and self.title_paragraph is None:
                self.title_paragraph = text
            if kind == "heading" and self.first_heading is None:
                self.first_heading = text
            path = self.headings.push(level, text)
            self.blocks.append(make_block(text, "heading", path, None, level))
        else:
            self.blocks.append(make_block(text, "paragraph", self.headings.path))

    def table(self, tbl) -> None:
        rows: list[str] = []
        for tr in tbl.iter(f"{_W}tr"):
            if _enclosing_table(tr) is not tbl:
                continue  # a row of a nested table: its text is in the enclosing cell
            cells = []
            for tc in tr.iter(f"{_W}tc"):
                if tc.getparent() is tr or (tc.getparent() is not None and tc.getparent().getparent() is tr):
                    cells.append(_cell_text(tc))
            if any(cells):
                rows.append(" | ".join(cells).rstrip())
        if rows:
            self.blocks.append(make_block("\n".join(rows), "table", self.headings.path))


def _enclosing_table(element):
    parent = element.getparent()
    while parent is not None and parent.tag != f"{_W}tbl":
        parent = parent.getparent()
    return parent


def _cell_text(tc) -> str:
    parts: list[str] = []
    _run_text(tc, parts)
    return clean_inline("".join(parts))
