"""PDF through pypdf: one paragraph block per paragraph, pages kept, outline -> headings."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from fiable.documents import Block, LoadedDocument
from fiable.errors import CorruptFileError, EmptyFileError, EncryptedFileError, NoTextLayerError
from fiable.loaders._common import clean_inline, finish_blocks, make_block, normalise_text, stem_title

__all__ = ["load_pdf", "split_paragraphs"]

logger = logging.getLogger(__name__)

_CORRUPT_HINT = "re-export or repair the PDF (e.g. `qpdf in.pdf repaired.pdf`), or check that it is really a PDF"
_MAX_TITLE_CHARS = 80
_EOF_WINDOW = 8192  # where the %%EOF end marker must be (some writers append junk after it)
_SENTENCE_END = re.compile(r"[.!?:][\"'”’)\]]*$")
_BULLET = re.compile(r"^(?:[•◦▪▫●○■□‣⁃–—\-*]\s|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s)")
_HYPHEN_END = re.compile(r"[^\W\d_]-$")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_FILENAME_TITLE = re.compile(r"\.(?:docx?|pdf|odt|rtf|tex|dvi|indd|pptx?|xlsx?|qxd|tmp)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _OutlineEntry:
    page: int  # 0-based
    order: int
    level: int  # 1 = top
    path: tuple[str, ...]


def load_pdf(path: Path, data: bytes) -> LoadedDocument:
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError

    src = str(path)
    if b"%PDF-" not in data[:1024]:
        raise CorruptFileError(
            "is not a PDF: no %PDF- header at the start of the file",
            path=src,
            hint="check the file's real type (`file <path>`) and give it the matching extension",
        )

    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        raise CorruptFileError(
            "is truncated or damaged: there is no %%EOF marker at its end",
            path=src,
            hint="download or copy the file again; if it was complete, repair it with `qpdf in.pdf repaired.pdf`",
        )
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        metadata = {"encrypted": "false"}
        if reader.is_encrypted:
            try:
                decrypted = reader.decrypt("")
            except DependencyError as exc:
                raise EncryptedFileError(
                    f"is encrypted with an algorithm that needs an extra package: {exc}",
                    path=src,
                    hint="install it (`pip install cryptography`), or remove the encryption: "
                    "`qpdf --decrypt in.pdf out.pdf`",
                ) from None
            if not decrypted:
                raise EncryptedFileError(
                    "is password-protected (it cannot be opened without its password)",
                    path=src,
                    hint="remove the password first, e.g. `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`",
                )
            metadata["encrypted"] = "true"
        pages = list(reader.pages)
        page_texts: list[str] = []
        for number, page in enumerate(pages, start=1):
            try:
                page_texts.append(page.extract_text() or "")
            except FileNotDecryptedError:
                raise
            except Exception as exc:  # noqa: BLE001 - any parser failure is a corrupt page
                raise CorruptFileError(
                    f"page {number} cannot be read: {type(exc).__name__}: {exc}", path=src, hint=_CORRUPT_HINT
                ) from exc
        title_meta = _metadata_title(reader)
        outline = _outline(reader)
    except (EncryptedFileError, CorruptFileError):
        raise
    except FileNotDecryptedError as exc:
        raise EncryptedFileError(
            f"is encrypted and could not be decrypted: {exc}",
            path=src,
            hint="remove the password first, e.g. `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`",
        ) from None
    except DependencyError as exc:
        raise EncryptedFileError(
            f"needs an extra package to be read: {exc}",
            path=src,
            hint="install it (`pip install cryptography`), or remove the encryption: `qpdf --decrypt in.pdf out.pdf`",
        ) from None
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds of errors on garbage
        raise CorruptFileError(
            f"cannot be parsed as a PDF: {type(exc).__name__}: {exc}", path=src, hint=_CORRUPT_HINT
        ) from exc

    if not pages:
        raise EmptyFileError("is a PDF with no pages", path=src, hint="re-export the PDF from its source document")

    page_paragraphs, first_line = _page_paragraphs(page_texts, outline)
    if not any(page_paragraphs):
        raise NoTextLayerError(
            f"has {len(pages)} page(s) but no extractable text (scanned images?)",
            path=src,
            hint="run OCR first to add a text layer, e.g. `ocrmypdf in.pdf out.pdf`",
        )

    blocks = finish_blocks(_blocks(page_paragraphs, outline))
    metadata["pages"] = str(len(pages))
    title = title_meta or _first_line_title(first_line) or stem_title(path)
    return LoadedDocument(source=src, title=title, format="pdf", blocks=blocks, metadata=metadata)


def _metadata_title(reader) -> str | None:
    try:
        info = reader.metadata
        raw = info.title if info is not None else None
    except Exception:  # noqa: BLE001 - a broken info dictionary only costs the title
        return None
    if not raw:
        return None
    title = clean_inline(str(raw))
    title = re.sub(r"^Microsoft (?:Word|PowerPoint|Excel) - ", "", title)
    if not title or title.lower() in ("untitled", "untitled document", "title") or _FILENAME_TITLE.search(title):
        return None
    return title


def _first_line_title(first_line: str) -> str | None:
    """Page 1's first line (running headers already dropped) when it is short."""
    if first_line and len(first_line) <= _MAX_TITLE_CHARS and any(c.isalpha() for c in first_line):
        return None if first_line.endswith(".") else first_line
    return None


def _outline(reader) -> list[_OutlineEntry]:
    """Bookmarks flattened in order, with the page they point at; [] when unusable."""
    entries: list[_OutlineEntry] = []

    def visit(items, parents: tuple[str, ...]) -> None:
        last_title: str | None = None
        for item in items:
            if isinstance(item, list):
                if last_title is not None:
                    visit(item, (*parents, last_title))
                continue
            title = clean_inline(str(getattr(item, "title", "") or ""))
            page = reader.get_destination_page_number(item)
            last_title = title or None
            if title and page is not None and page >= 0:
                entries.append(_OutlineEntry(page, len(entries), len(parents) + 1, (*parents, title)))

    try:
        visit(reader.outline, ())
    except Exception as exc:  # noqa: BLE001 - a broken outline is ignored, the text still loads
        logger.warning("ignoring unreadable PDF outline", extra={"error": str(exc)})
        return []
    return entries


def _page_paragraphs(page_texts: list[str], outline: list[_OutlineEntry]) -> tuple[list[list[str]], str]:
    """Each page's paragraphs, and the first line of page 1 once running lines are gone."""
    pages_lines = [_lines(text) for text in page_texts]
    _drop_running_lines(pages_lines)
    # The text width in characters: the longest lines, an outlier or two aside.
    lengths = sorted(len(line) for lines in pages_lines for line in lines if line)
    width = (lengths[int(0.95 * (len(lengths) - 1))] if len(lengths) >= 40 else lengths[-1]) if lengths else 0
    titles: dict[int, set[str]] = {}
    for entry in outline:
        titles.setdefault(entry.page, set()).add(_normkey(entry.path[-1]))
    paragraphs = [
        split_paragraphs(lines, width, frozenset(titles.get(index, ()))) for index, lines in enumerate(pages_lines)
    ]
    first_line = next((line for line in pages_lines[0] if line), "") if pages_lines else ""
    return paragraphs, first_line


def _lines(text: str) -> list[str]:
    """Lines of a page, whitespace collapsed; blank lines kept as '' (paragraph breaks)."""
    text = text.replace("\u00ad\n", "").replace("\u00ad\r\n", "")
    return [clean_inline(line) for line in normalise_text(text).split("\n")]


def _drop_running_lines(pages_lines: list[list[str]]) -> None:
    """Drop page numbers, and headers/footers repeated on most pages, at page edges."""

    def edge_indexes(lines: list[str]) -> list[int]:
        # Two lines at each edge, one on short pages, none where that would be the body.
        filled = [i for i, line in enumerate(lines) if line]
        if len(filled) >= 6:
            return sorted({*filled[:2], *filled[-2:]})
        return sorted({filled[0], filled[-1]}) if len(filled) >= 3 else []

    repeated: set[str] = set()
    if len(pages_lines) >= 3:
        counts: dict[str, int] = {}
        for lines in pages_lines:
            for key in {_DIGITS.sub("#", lines[i]) for i in edge_indexes(lines)}:
                counts[key] = counts.get(key, 0) + 1
        repeated = {key for key, n in counts.items() if n >= 0.6 * len(pages_lines)}
    for lines in pages_lines:
        filled = [i for i, line in enumerate(lines) if line]
        for i in {*filled[:1], *filled[-1:]}:
            if _PAGE_NUMBER.match(lines[i]):
                lines[i] = ""
        for i in edge_indexes(lines):
            if _DIGITS.sub("#", lines[i]) in repeated:
                lines[i] = ""


def split_paragraphs(lines: list[str], width: int, headings: frozenset[str] = frozenset()) -> list[str]:
    """Group a page's lines into paragraphs and join each one's lines.

    A paragraph ends at a blank line; after a line ending with sentence punctuation that is
    clearly shorter than the text width, when the next line starts with a capital, digit or
    bullet; around a short heading-like line (no final punctuation, capitalised, followed by
    a capital); around a line equal to a bookmark title (``headings``, normalised); and
    before a bullet line. Hyphenated breaks are rejoined ("infor-" + "mation"); other soft
    wraps become spaces.
    """
    paragraphs: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            paragraphs.append(_join(current))
            current.clear()

    for i, line in enumerate(lines):
        if not line:
            close()
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        is_heading = _normkey(line) in headings
        if current and (
            is_heading
            or _BULLET.match(line)
            or (_SENTENCE_END.search(current[-1]) and nxt and _starts_block(nxt) and _heading_like(line, width))
        ):
            close()
        current.append(line)
        if is_heading or (nxt and _ends_paragraph(line, nxt, width)):
            close()
    close()
    return [p for p in paragraphs if p]


def _starts_block(line: str) -> bool:
    first = line[0]
    return first.isupper() or first.isdigit() or bool(_BULLET.match(line)) or first in "\"“'(["


def _heading_like(line: str, width: int) -> bool:
    """Short, capitalised, without final punctuation: reads like a heading."""
    return (
        width > 0
        and len(line) <= _MAX_TITLE_CHARS
        and len(line) < 0.6 * width
        and not _SENTENCE_END.search(line)
        and line[-1] not in ",;-–"
        and (line[0].isupper() or line[0].isdigit())
    )


def _ends_paragraph(line: str, nxt: str, width: int) -> bool:
    if not _starts_block(nxt):
        return False
    if _SENTENCE_END.search(line):
        return width > 0 and len(line) < 0.85 * width
    return _heading_like(line, width)


def _join(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        if _HYPHEN_END.search(text) and line[0].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return text.strip()


def _normkey(text: str) -> str:
    return " ".join(text.casefold().split())


def _starts_with(paragraph: str, key: str) -> bool:
    """Whether the paragraph begins with the (normalised) heading, on a word boundary."""
    norm = _normkey(paragraph)
    return norm.startswith(key) and (len(norm) == len(key) or not norm[len(key)].isalnum())


def _blocks(page_paragraphs: list[list[str]], outline: list[_OutlineEntry]) -> list[Block]:
    by_page: dict[int, list[_OutlineEntry]] = {}
    for entry in outline:
        by_page.setdefault(entry.page, []).append(entry)

    blocks: list[Block] = []
    path: tuple[str, ...] = ()
    for index, paragraphs in enumerate(page_paragraphs):
        page = index + 1
        # Where each bookmark of this page starts: at the paragraph that begins with its
        # title (searched in order), else right after the previous one (or page start).
        starts: dict[int, list[tuple[_OutlineEntry, bool]]] = {}
        cursor = 0
        for entry in by_page.get(index, []):
            key = _normkey(entry.path[-1])
            found = next((i for i in range(cursor, len(paragraphs)) if _starts_with(paragraphs[i], key)), None)
            if found is None:
                starts.setdefault(cursor, []).append((entry, False))
            else:
                starts.setdefault(found, []).append((entry, True))
                cursor = found + 1
        for i, paragraph in enumerate(paragraphs):
            heading: _OutlineEntry | None = None
            for entry, matched in starts.get(i, []):
                path = entry.path
                if matched:
                    heading = entry
            if heading is None:
                blocks.append(make_block(paragraph, "paragraph", path, page))
                continue
            title = heading.path[-1]
            blocks.append(make_block(title, "heading", heading.path, page, heading.level))
            rest = ""
            if _normkey(paragraph) != _normkey(title):
                head = paragraph[: len(title)]
                rest = paragraph[len(title) :].strip() if _normkey(head) == _normkey(title) else paragraph
            if rest:
                blocks.append(make_block(rest, "paragraph", path, page))
        for entry, _ in starts.get(len(paragraphs), []):  # bookmarks after the last paragraph
            path = entry.path
    return blocks
