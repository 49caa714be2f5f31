"""Document loaders: a file in, a :class:`~fiable.documents.LoadedDocument` out.

``load(path)`` picks the loader from the extension, checks the size with ``stat()``
before reading anything, and raises one of the :class:`~fiable.errors.LoadError`
subclasses (each naming the file and saying how to fix it) for anything it cannot read.
``load_bytes(data, name)`` does the same for bytes read elsewhere (a Ray worker gets a
file's bytes, not its path): ``name`` gives the extension, the title fallback and the
source, and is never opened.
Loaders are pure functions of the file's bytes: no global state, deterministic output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fiable.documents import LoadedDocument
from fiable.errors import CorruptFileError, EmptyFileError, FileTooLargeError, LoadError, UnsupportedFormatError

__all__ = ["DEFAULT_MAX_BYTES", "SUPPORTED_EXTENSIONS", "Format", "detect_format", "load", "load_bytes"]

Format = Literal["text", "markdown", "html", "pdf", "docx"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_FORMATS: dict[str, Format] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_FORMATS)


def detect_format(path: Path) -> Format:
    """The format of ``path`` from its extension (case-insensitive)."""
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise UnsupportedFormatError(
            f"has {what}, which fiable cannot load",
            path=str(path),
            hint=f"convert it to one of the supported types: {', '.join(sorted(SUPPORTED_EXTENSIONS))}",
        )
    return fmt


def load(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedDocument:
    """Load one file into blocks. Raises a :class:`~fiable.errors.LoadError` subclass."""
    path = Path(path)
    src = str(path)
    fmt = detect_format(path)
    size = _checked_size(path, max_bytes)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise LoadError(
            f"cannot be read: {exc.strerror or exc}", path=src, hint="check the file's permissions"
        ) from exc
    if len(data) > max_bytes:  # it grew after stat()
        raise _too_large(src, len(data), max_bytes)
    if not data:
        raise _empty(src, size)
    return _parse(fmt, path, data, max_bytes)


def load_bytes(data: bytes, name: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedDocument:
    """Load a file's ``data`` as :func:`load` would load the file ``name`` (never opened)."""
    path = Path(name)
    fmt = detect_format(path)
    if len(data) > max_bytes:
        raise _too_large(str(path), len(data), max_bytes)
    if not data:
        raise _empty(str(path), 0)
    return _parse(fmt, path, data, max_bytes)


def _parse(fmt: Format, path: Path, data: bytes, max_bytes: int) -> LoadedDocument:
    src = str(path)
    try:
        doc = _dispatch(fmt, path, data, max_bytes)
    except RecursionError as exc:
        raise CorruptFileError(
            "is nested too deeply to be read", path=src, hint="simplify or re-export the document"
        ) from exc

    if not doc.blocks:
        raise EmptyFileError(
            "contains no text once loaded (only whitespace, markup or empty elements)",
            path=src,
            hint="add text to the file, or leave it out of the ingest",
        )
    return doc


def _dispatch(fmt: Format, path: Path, data: bytes, max_bytes: int) -> LoadedDocument:
    if fmt == "text":
        from fiable.loaders.text import load_text

        return load_text(path, data)
    if fmt == "markdown":
        from fiable.loaders.markdown import load_markdown

        return load_markdown(path, data)
    if fmt == "html":
        from fiable.loaders.html import load_html

        return load_html(path, data)
    if fmt == "pdf":
        from fiable.loaders.pdf import load_pdf

        return load_pdf(path, data)
    from fiable.loaders.docx import load_docx

    return load_docx(path, data, max_bytes=max_bytes)


def _checked_size(path: Path, max_bytes: int) -> int:
    src = str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise LoadError("does not exist", path=src, hint="check the path") from None
    except OSError as exc:
        raise LoadError(
            f"cannot be read: {exc.strerror or exc}", path=src, hint="check the path and permissions"
        ) from exc
    if path.is_dir():
        raise LoadError("is a directory, not a file", path=src, hint="give the files inside it, or ingest the folder")
    size = st.st_size
    if size > max_bytes:
        raise _too_large(src, size, max_bytes)
    if size == 0:
        raise _empty(src, 0)
    return size


def _too_large(src: str, size: int, max_bytes: int) -> FileTooLargeError:
    return FileTooLargeError(
        f"is {_human(size)} ({size} bytes), over the limit of {_human(max_bytes)} ({max_bytes} bytes)",
        path=src,
        hint="raise the `max_file_mb` setting or split the file",
    )


def _empty(src: str, size: int) -> EmptyFileError:
    return EmptyFileError("is empty (0 bytes)", path=src, hint="add text to the file, or leave it out of the ingest")


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} B"
