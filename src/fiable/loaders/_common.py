"""Shared helpers of the loaders: decoding, text normalisation, heading paths, titles."""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from fiable.documents import Block, BlockKind
from fiable.errors import BinaryContentError, EncodingError

__all__ = [
    "HeadingTracker",
    "clean_code",
    "clean_inline",
    "clean_lines",
    "decode_text",
    "finish_blocks",
    "normalise_text",
    "stem_title",
]

logger = logging.getLogger(__name__)

_SNIFF_BYTES = 8192
# C0 controls that never occur in text (tab, LF, VT, FF, CR and ESC aside).
_BINARY_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_MAX_BINARY_RATIO = 0.10  # share of control bytes above which a file is binary
_MAX_CP1252_NON_ASCII = 0.30  # share of non-ASCII chars in a plausible cp1252 text
_MAX_CP1252_CONTROLS = 0.01

# Control characters (tab and newline aside), BOMs, zero-width characters, soft hyphens.
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u200b\u2060\u00ad]")
_STRAY_CONTROLS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")  # beyond \t \n \v \f \r ESC
_LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
_LIGATURE = re.compile("[" + "".join(_LIGATURES) + "]")
_HSPACE = re.compile(r"[^\S\n]+")  # whitespace other than newline
_ANY_SPACE = re.compile(r"\s+")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_CONVERT_HINT = "convert the file to UTF-8, e.g. `iconv -f LATIN1 -t UTF-8 in.txt > out.txt`"


def decode_text(data: bytes, path: Path, *, declared: str | None = None) -> tuple[str, str]:
    """Decode the bytes of a text file; return ``(text, encoding)``.

    UTF-8 (BOM stripped) and UTF-8/16/32 with a BOM are accepted; ``declared`` (e.g. an
    HTML meta charset) is tried next; cp1252 last, when the result looks like text.
    Raises BinaryContentError for binary data and EncodingError for anything else.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                name = codec.upper().replace("-SIG", "")
                raise EncodingError(
                    f"starts with a {name} byte-order mark but is not valid {name}: {exc.reason}",
                    path=str(path),
                    hint=f"re-save the file as UTF-8, e.g. `iconv -f {name} -t UTF-8 in.txt > out.txt`",
                ) from None
            _check_decoded_controls(text, path)
            return text, "utf-8" if codec == "utf-8-sig" else codec

    sample = data[:_SNIFF_BYTES]
    if b"\x00" in sample:
        raise BinaryContentError(
            "contains NUL bytes: this is binary data, not text",
            path=str(path),
            hint="give fiable a text file (UTF-8), or use the extension of the real format (.pdf, .docx)",
        )
    controls = len(sample) - len(sample.translate(None, _BINARY_BYTES))
    if sample and controls / len(sample) > _MAX_BINARY_RATIO:
        raise BinaryContentError(
            f"{controls} of its first {len(sample)} bytes are control characters: this is binary data, not text",
            path=str(path),
            hint="give fiable a text file (UTF-8), or use the extension of the real format (.pdf, .docx)",
        )

    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc

    if declared:
        try:
            codec = codecs.lookup(declared).name
        except LookupError:
            codec = None
        if codec and codec not in ("utf-8", "utf-16", "utf-32"):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                pass
            else:
                logger.warning("decoded as declared charset", extra={"path": str(path), "encoding": codec})
                return text, codec

    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None and _plausible_text(text):
        logger.warning("decoded as cp1252", extra={"path": str(path)})
        return text, "cp1252"
    raise EncodingError(
        f"is not valid UTF-8 (byte 0x{data[utf8_error.start]:02x} at offset {utf8_error.start}) "
        "and does not look like cp1252/Latin-1 text either",
        path=str(path),
        hint=_CONVERT_HINT,
    )


def _plausible_text(text: str) -> bool:
    if not text:
        return False
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    controls = len(_STRAY_CONTROLS.findall(text))
    return non_ascii / len(text) <= _MAX_CP1252_NON_ASCII and controls / len(text) <= _MAX_CP1252_CONTROLS


def _check_decoded_controls(text: str, path: Path) -> None:
    sample = text[:_SNIFF_BYTES]
    controls = len(_STRAY_CONTROLS.findall(sample))
    if sample and controls / len(sample) > _MAX_BINARY_RATIO:
        raise BinaryContentError(
            "is mostly control characters: this is binary data, not text",
            path=str(path),
            hint="give fiable a text file (UTF-8), or use the extension of the real format (.pdf, .docx)",
        )


def normalise_text(text: str) -> str:
    """NFC, ``\\n`` newlines, no control or zero-width characters (tabs and newlines kept)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = text.replace("\f", "\n").replace("\x0b", "\n").replace("\x85", "\n")
    text = _LIGATURE.sub(lambda m: _LIGATURES[m.group()], unicodedata.normalize("NFC", text))
    return _DROPPED.sub("", text)


def clean_inline(text: str) -> str:
    """All whitespace (newlines included) collapsed to single spaces, stripped."""
    return _ANY_SPACE.sub(" ", normalise_text(text)).strip()


def clean_lines(text: str) -> str:
    """Each line's whitespace collapsed and stripped; empty lines dropped; lines kept."""
    lines = (_HSPACE.sub(" ", line).strip() for line in normalise_text(text).split("\n"))
    return "\n".join(line for line in lines if line)


def clean_code(text: str) -> str:
    """Code keeps its indentation: trailing spaces and surrounding blank lines removed."""
    lines = [line.rstrip() for line in normalise_text(text).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def stem_title(path: Path) -> str:
    """The file stem turned into words: ``my_notes-2024`` -> ``my notes 2024``."""
    words = clean_inline(re.sub(r"[_\-.+]+", " ", path.stem))
    return words or path.name


class HeadingTracker:
    """Keeps the heading hierarchy while blocks are emitted in document order."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._stack)

    def push(self, level: int, text: str) -> tuple[str, ...]:
        """Enter a heading of ``level``; return its heading path (ending with itself)."""
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        return self.path

    def reset(self, entries: Iterable[tuple[int, str]]) -> None:
        self._stack = list(entries)


def make_block(
    text: str,
    kind: BlockKind = "paragraph",
    heading_path: tuple[str, ...] = (),
    page: int | None = None,
    level: int = 0,
) -> Block:
    return Block(text=text, kind=kind, heading_path=heading_path, page=page, level=level)


def finish_blocks(blocks: Iterable[Block]) -> tuple[Block, ...]:
    """Drop blocks whose text is empty after stripping; strip the others."""
    out: list[Block] = []
    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        if text != block.text:
            block = Block(
                text=text, kind=block.kind, heading_path=block.heading_path, page=block.page, level=block.level
            )
        out.append(block)
    return tuple(out)
