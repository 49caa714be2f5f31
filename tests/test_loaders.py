"""Document loaders: structure of each format, and a clear error for every bad input."""

from __future__ import annotations

import logging
import pathlib
import time
import zipfile
from pathlib import Path

import pytest

from fiable.documents import Block, LoadedDocument
from fiable.errors import (
    BinaryContentError,
    CorruptFileError,
    EmptyFileError,
    EncodingError,
    EncryptedFileError,
    FileTooLargeError,
    LoadError,
    NoTextLayerError,
    UnsupportedFormatError,
)
from fiable.loaders import SUPPORTED_EXTENSIONS, detect_format, load
from tests.fixtures_loaders import encrypt_pdf, make_docx, make_pdf


def check_invariants(doc: LoadedDocument) -> None:
    assert isinstance(doc.blocks, tuple) and doc.blocks
    for block in doc.blocks:
        assert isinstance(block, Block)
        assert block.text and block.text == block.text.strip()
        if block.kind == "heading":
            assert block.level >= 1 and block.heading_path and block.heading_path[-1] == block.text
        else:
            assert block.level == 0
    assert doc.title


def load_ok(path: Path, **kwargs) -> LoadedDocument:
    doc = load(path, **kwargs)
    check_invariants(doc)
    assert doc.source == str(path)
    assert load(path, **kwargs) == doc  # deterministic
    return doc


def load_fails(path: Path, error: type[LoadError], **kwargs) -> LoadError:
    with pytest.raises(error) as info:
        load(path, **kwargs)
    err = info.value
    assert type(err) is error
    assert err.path == str(path) and str(path) in str(err)
    assert err.hint and err.hint.strip()
    return err


def kinds(doc: LoadedDocument) -> list[str]:
    return [b.kind for b in doc.blocks]


# --- format detection ---------------------------------------------------------------


def test_supported_extensions_and_detection() -> None:
    assert SUPPORTED_EXTENSIONS == {".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf", ".docx"}
    assert detect_format(Path("a.md")) == "markdown"
    assert detect_format(Path("a.MARKDOWN")) == "markdown"
    assert detect_format(Path("a.txt")) == "text"
    assert detect_format(Path("a.Text")) == "text"
    assert detect_format(Path("a.htm")) == "html"
    assert detect_format(Path("dir.v2/a.HTML")) == "html"
    assert detect_format(Path("a.pdf")) == "pdf"
    assert detect_format(Path("a.docx")) == "docx"


@pytest.mark.parametrize("name", ["slides.pptx", "README", "archive.tar.gz", "old.doc"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("some text")
    err = load_fails(path, UnsupportedFormatError)
    assert ".pdf" in err.hint and ".md" in err.hint
    with pytest.raises(UnsupportedFormatError):
        detect_format(path)


def test_missing_file(tmp_path: Path) -> None:
    load_fails(tmp_path / "nope.txt", LoadError)


# --- size and emptiness ------------------------------------------------------------------


def test_too_large_by_setting(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 400)
    err = load_fails(path, FileTooLargeError, max_bytes=1000)
    assert "2000 bytes" in err.message and "1000 bytes" in err.message
    assert "max_file_mb" in err.hint
    assert load_ok(path, max_bytes=2000).blocks


def test_sparse_huge_file_rejected_without_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.pdf"
    with path.open("wb") as f:
        f.truncate(200 * 1024 * 1024)

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(pathlib.Path, "open", no_reading)
    monkeypatch.setattr(pathlib.Path, "read_bytes", no_reading)
    start = time.perf_counter()
    err = load_fails(path, FileTooLargeError)
    assert time.perf_counter() - start < 1.0
    assert str(200 * 1024 * 1024) in err.message and str(50 * 1024 * 1024) in err.message


@pytest.mark.parametrize("name", ["e.txt", "e.md", "e.html", "e.pdf", "e.docx"])
def test_zero_bytes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    load_fails(path, EmptyFileError)


@pytest.mark.parametrize("name", ["w.txt", "w.md", "w.html"])
def test_whitespace_only(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"  \n\n\t \r\n   \n")
    load_fails(path, EmptyFileError)


def test_markup_without_text_is_empty(tmp_path: Path) -> None:
    md = tmp_path / "only.md"
    md.write_text("---\ntitle: Nothing\n---\n\n<!-- a comment -->\n\n---\n")
    load_fails(md, EmptyFileError)
    html = tmp_path / "nav.html"
    html.write_text("<html><body><nav><a href='/'>Home</a></nav><script>x()</script></body></html>")
    load_fails(html, EmptyFileError)


# --- encodings and binary content -----------------------------------------------------


@pytest.mark.parametrize("name", ["bin.txt", "bin.md", "bin.html"])
def test_binary_with_nul_bytes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    load_fails(path, BinaryContentError)


def test_binary_with_control_chars(tmp_path: Path) -> None:
    path = tmp_path / "ctrl.md"
    path.write_bytes(bytes([1, 2, 3, 4, 5, 6, 0x0E, 0x0F, 0x10, 0x11]) * 50 + b"some text")
    load_fails(path, BinaryContentError)


def test_cp1252_accepted_with_metadata_and_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Café crème, déjà vu — “quoted” text costs 5 €.\n\nÜber naïve façade.".encode("cp1252"))
    with caplog.at_level(logging.WARNING, logger="fiable.loaders"):
        doc = load_ok(path)
    assert doc.metadata["encoding"] == "cp1252"
    assert doc.blocks[0].text == "Café crème, déjà vu — “quoted” text costs 5 €."
    assert doc.blocks[1].text == "Über naïve façade."
    records = [r for r in caplog.records if r.getMessage() == "decoded as cp1252"]
    assert records and records[0].path == str(path)


def test_undecodable_text(tmp_path: Path) -> None:
    path = tmp_path / "junk.md"
    path.write_bytes(bytes(range(0x80, 0x100)) * 8 + b"\x01\x02abc")
    err = load_fails(path, EncodingError)
    assert "UTF-8" in err.message and "iconv" in err.hint


def test_undecodable_even_without_undefined_cp1252_bytes(tmp_path: Path) -> None:
    path = tmp_path / "junk.txt"
    path.write_bytes(bytes(b for b in range(0xA0, 0x100)) * 10 + b"ok\x07")
    load_fails(path, EncodingError)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path: Path, codec: str) -> None:
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    path = tmp_path / "wide.txt"
    path.write_bytes(bom + "Größe\r\n\r\nÉté à Paris".encode(codec))
    doc = load_ok(path)
    assert [b.text for b in doc.blocks] == ["Größe", "Été à Paris"]
    assert doc.metadata["encoding"] == "utf-16"


def test_utf8_bom_stripped_and_text_normalised(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    decomposed = "Cafe\u0301"  # e + combining acute: NFC makes it one character
    path.write_bytes(
        b"\xef\xbb\xbf" + f"{decomposed}   au\x07 lait\r\nsecond\tline\r\n\r\n\r\n  Third  para  ".encode()
    )
    doc = load_ok(path)
    assert doc.metadata["encoding"] == "utf-8"
    assert [b.text for b in doc.blocks] == ["Caf\u00e9 au lait\nsecond line", "Third para"]
    assert not doc.text().startswith("\ufeff")


# --- plain text ---------------------------------------------------------------------


def test_text_paragraphs_and_title_from_first_line(tmp_path: Path) -> None:
    path = tmp_path / "meeting_notes.txt"
    path.write_text("Quarterly Review\n\nWe met on Monday.\nAll present.\n\n\n\nNext steps follow.\n")
    doc = load_ok(path)
    assert doc.format == "text" and doc.title == "Quarterly Review"
    assert [b.text for b in doc.blocks] == ["Quarterly Review", "We met on Monday.\nAll present.", "Next steps follow."]
    assert set(kinds(doc)) == {"paragraph"} and all(b.heading_path == () for b in doc.blocks)
    assert doc.pages is None


def test_text_title_falls_back_to_stem(tmp_path: Path) -> None:
    path = tmp_path / "meeting_notes-2024.txt"
    path.write_text("This first paragraph is a sentence, not a title.\n\nMore.")
    assert load_ok(path).title == "meeting notes 2024"


# --- markdown --------------------------------------------------------------------------

MARKDOWN = """\
---
title: "Guide: Install"
tags: [a, b]
---
Getting Started
===============

Intro with *emphasis*, **strong**, `code` and a [link text](https://example.org) &amp; more.

## Install

- first item
- second *item*
  - nested item

1. step one
2. step two

```bash
pip install fiable
  indented line
```

### Options

| Name | Default |
|------|---------|
| size | 10 |

> A quoted remark.

Setext two
----------

Closing words.
"""


def test_markdown_structure(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN)
    doc = load_ok(path)
    assert doc.format == "markdown" and doc.title == "Guide: Install"
    assert "tags" not in doc.text() and "Guide: Install" not in doc.text()
    got = [(b.kind, b.level, b.heading_path, b.text) for b in doc.blocks]
    top = ("Getting Started",)
    assert got == [
        ("heading", 1, top, "Getting Started"),
        ("paragraph", 0, top, "Intro with emphasis, strong, code and a link text & more."),
        ("heading", 2, (*top, "Install"), "Install"),
        ("list", 0, (*top, "Install"), "- first item\n- second item\n  - nested item"),
        ("list", 0, (*top, "Install"), "1. step one\n2. step two"),
        ("code", 0, (*top, "Install"), "pip install fiable\n  indented line"),
        ("heading", 3, (*top, "Install", "Options"), "Options"),
        ("table", 0, (*top, "Install", "Options"), "Name | Default\nsize | 10"),
        ("paragraph", 0, (*top, "Install", "Options"), "A quoted remark."),
        ("heading", 2, (*top, "Setext two"), "Setext two"),
        ("paragraph", 0, (*top, "Setext two"), "Closing words."),
    ]


def test_markdown_title_from_h1_then_stem(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("Some text first.\n\n# The Title\n\nBody.\n")
    assert load_ok(path).title == "The Title"
    path = tmp_path / "release_notes-v2.markdown"
    path.write_text("## Only level two\n\nBody.\n")
    doc = load_ok(path)
    assert doc.title == "release notes v2"
    assert doc.blocks[0].heading_path == ("Only level two",) and doc.blocks[0].level == 2


def test_markdown_heading_path_pops_levels(tmp_path: Path) -> None:
    path = tmp_path / "h.md"
    path.write_text("# A\n\n### A1 deep\n\ntext\n\n## B\n\nb text\n\n# C\n\nc text\n")
    doc = load_ok(path)
    paths = {b.text: b.heading_path for b in doc.blocks}
    assert paths["text"] == ("A", "A1 deep")
    assert paths["b text"] == ("A", "B")
    assert paths["c text"] == ("C",)


# --- HTML --------------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head><title>Ignored &amp; Site | Example</title><style>p { color: red }</style>
<script>var tracking = 1;</script></head>
<body>
<header class="site"><a href="/">Example Inc</a><nav><ul><li>Home</li><li>Blog</li></ul></nav></header>
<div role="navigation">Skip to menu</div>
<aside>Related posts sidebar</aside>
<main>
  <article>
    <header><h1>Caf&eacute; &amp; Tea</h1></header>
    <p>First   paragraph
       with <em>emphasis</em> and <a href="/x">a link</a>.</p>
    <div>Loose text directly in a div <span>with a span</span>
      <p>an inner paragraph</p>
      trailing loose text</div>
    <h2>Menu</h2>
    <ul><li>Espresso<ul><li>Double</li></ul></li><li>Latte</li></ul>
    <ol><li>Order</li><li>Pay</li></ol>
    <pre>def brew():
    return "coffee"</pre>
    <table><tr><th>Drink</th><th>Price</th></tr><tr><td>Tea</td><td>2 &euro;</td></tr></table>
    <blockquote>Best coffee in town.</blockquote>
    <dl><dt>Roast</dt><dd>Dark</dd></dl>
    <p aria-hidden="true">Screen-reader-hidden junk</p>
    <div hidden>Hidden div</div>
    <form><label>Subscribe</label><input name="e"></form>
    <noscript>Enable JS</noscript>
    <h3>Hours</h3>
    <p>Open daily.</p>
  </article>
</main>
<footer>Copyright 2024 Example Inc</footer>
</body></html>
"""


def test_html_main_content_structure(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(HTML)
    doc = load_ok(path)
    assert doc.format == "html" and doc.title == "Café & Tea"
    text = doc.text()
    for junk in ("Example Inc", "Home", "Skip to menu", "Related posts", "Copyright", "tracking", "color",
                 "Screen-reader", "Hidden div", "Subscribe", "Enable JS", "Ignored"):  # fmt: skip
        assert junk not in text
    got = [(b.kind, b.level, b.heading_path, b.text) for b in doc.blocks]
    top = ("Café & Tea",)
    menu = (*top, "Menu")
    assert got == [
        ("heading", 1, top, "Café & Tea"),
        ("paragraph", 0, top, "First paragraph with emphasis and a link."),
        ("paragraph", 0, top, "Loose text directly in a div with a span"),
        ("paragraph", 0, top, "an inner paragraph"),
        ("paragraph", 0, top, "trailing loose text"),
        ("heading", 2, menu, "Menu"),
        ("list", 0, menu, "- Espresso\n  - Double\n- Latte"),
        ("list", 0, menu, "1. Order\n2. Pay"),
        ("code", 0, menu, 'def brew():\n    return "coffee"'),
        ("table", 0, menu, "Drink | Price\nTea | 2 €"),
        ("paragraph", 0, menu, "Best coffee in town."),
        ("paragraph", 0, menu, "Roast"),
        ("paragraph", 0, menu, "Dark"),
        ("heading", 3, (*menu, "Hours"), "Hours"),
        ("paragraph", 0, (*menu, "Hours"), "Open daily."),
    ]


def test_html_body_fallback_and_title_tag(tmp_path: Path) -> None:
    path = tmp_path / "plain.htm"
    path.write_text(
        "<html><head><title>Plain Page</title></head><body><nav>Menu</nav>"
        "<div>Just text<br>on two lines</div><footer>foot</footer></body></html>"
    )
    doc = load_ok(path)
    assert doc.title == "Plain Page"
    assert [b.text for b in doc.blocks] == ["Just text\non two lines"]


def test_html_title_stem_and_latin1_meta_charset(tmp_path: Path) -> None:
    path = tmp_path / "old_page.html"
    path.write_bytes(b'<html><head><meta charset="iso-8859-1"></head><body><p>Gr\xfc\xdfe</p></body></html>')
    doc = load_ok(path)
    assert doc.title == "old page" and doc.blocks[0].text == "Grüße"


def test_html_role_main_and_layout_table(tmp_path: Path) -> None:
    path = tmp_path / "legacy.html"
    path.write_text(
        "<body><div role='banner'>Banner</div><div role='main'><table><tr><td>"
        "<h1>Legacy</h1><p>Body text.</p></td><td><table><tr><td>a</td><td>b</td></tr></table></td></tr>"
        "</table></div><div role='contentinfo'>Footer</div></body>"
    )
    doc = load_ok(path)
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Legacy"),
        ("paragraph", "Body text."),
        ("table", "a | b"),
    ]


# --- PDF ---------------------------------------------------------------------------------


def sample_pdf(path: Path, **kwargs) -> Path:
    return make_pdf(
        path,
        [
            [
                ("Chapter One", 0),
                "This first paragraph talks about retrieval of infor-",
                "mation from documents on a second line.",
                "A short second paragraph.",
                ("Section A", 1),
                "Text in section A.",
            ],
            ["Continued on page two.", ("Chapter Two", 0), "Last words."],
        ],
        **kwargs,
    )


def test_pdf_pages_paragraphs_and_outline(tmp_path: Path) -> None:
    doc = load_ok(sample_pdf(tmp_path / "report.pdf", title="Annual Report"))
    assert doc.format == "pdf" and doc.title == "Annual Report" and doc.pages == 2
    assert doc.metadata["pages"] == "2"
    one, sec = ("Chapter One",), ("Chapter One", "Section A")
    assert [(b.kind, b.level, b.heading_path, b.page, b.text) for b in doc.blocks] == [
        ("heading", 1, one, 1, "Chapter One"),
        (
            "paragraph", 0, one, 1,
            "This first paragraph talks about retrieval of information from documents on a second line.",
        ),
        ("paragraph", 0, one, 1, "A short second paragraph."),
        ("heading", 2, sec, 1, "Section A"),
        ("paragraph", 0, sec, 1, "Text in section A."),
        ("paragraph", 0, sec, 2, "Continued on page two."),
        ("heading", 1, ("Chapter Two",), 2, "Chapter Two"),
        ("paragraph", 0, ("Chapter Two",), 2, "Last words."),
    ]  # fmt: skip


def test_pdf_without_outline_or_title(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "scan_notes.pdf",
        [["Short Title Line", "", "Body sentence one.", "", "Body two."], ["Page two."], ["Page three."]],
    )
    doc = load_ok(path)
    assert doc.title == "Short Title Line"
    assert all(b.kind == "paragraph" and b.heading_path == () for b in doc.blocks)
    assert [b.page for b in doc.blocks][-2:] == [2, 3]
    assert "Page two." in doc.text() and doc.pages == 3


def test_pdf_running_page_numbers_dropped(tmp_path: Path) -> None:
    pages = [[f"Content of page {n}.", "", f"Page {n} of 4"] for n in range(1, 5)]
    doc = load_ok(make_pdf(tmp_path / "numbered.pdf", pages))
    assert [b.text for b in doc.blocks] == [f"Content of page {n}." for n in range(1, 5)]


def test_pdf_truncated_is_corrupt(tmp_path: Path) -> None:
    good = sample_pdf(tmp_path / "good.pdf").read_bytes()
    for fraction in (0.3, 0.6, 0.9):
        path = tmp_path / f"cut{int(fraction * 10)}.pdf"
        path.write_bytes(good[: int(len(good) * fraction)])
        err = load_fails(path, CorruptFileError)
        assert "truncated" in err.message


@pytest.mark.parametrize(
    "content",
    [
        b"This is just text, not a PDF.\n",
        b"%PDF-1.7\n" + bytes(range(256)) * 20,
        b"%PDF-1.7\n" + bytes(range(256)) * 20 + b"\nstartxref\n9999\n%%EOF\n",
    ],
    ids=["text", "garbage", "garbage-with-eof"],
)
def test_pdf_not_a_pdf_is_corrupt(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(content)
    load_fails(path, CorruptFileError)


def test_pdf_with_user_password_is_encrypted(tmp_path: Path) -> None:
    path = encrypt_pdf(sample_pdf(tmp_path / "plain.pdf"), tmp_path / "locked.pdf", user_password="s3cret")
    err = load_fails(path, EncryptedFileError)
    assert "qpdf" in err.hint


def test_pdf_with_empty_user_password_loads(tmp_path: Path) -> None:
    plain = load_ok(sample_pdf(tmp_path / "plain.pdf"))
    path = encrypt_pdf(tmp_path / "plain.pdf", tmp_path / "owner_only.pdf", user_password="")
    doc = load_ok(path)
    assert doc.metadata["encrypted"] == "true"
    assert doc.blocks == plain.blocks


def test_pdf_needing_missing_crypto_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdf
    from pypdf.errors import DependencyError

    path = encrypt_pdf(sample_pdf(tmp_path / "plain.pdf"), tmp_path / "aes.pdf", user_password="")

    def needs_cryptography(self, password):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(pypdf.PdfReader, "decrypt", needs_cryptography)
    err = load_fails(path, EncryptedFileError)
    assert "cryptography" in err.hint


def test_pdf_image_only_has_no_text_layer(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scanned.pdf", [[], []], draw_only=True)
    err = load_fails(path, NoTextLayerError)
    assert "2 page" in err.message and "ocrmypdf" in err.hint


# --- DOCX --------------------------------------------------------------------------------


def build_docx(document) -> None:
    document.add_paragraph("Handbook", style="Title")
    document.add_heading("Intro", 1)
    paragraph = document.add_paragraph("Hello ")
    paragraph.add_run("bold").bold = True
    paragraph.add_run(" world.")
    document.add_paragraph("first point", style="List Bullet")
    document.add_paragraph("sub point", style="List Bullet 2")
    document.add_paragraph("second point", style="List Number")
    document.add_heading("Data", 2)
    table = document.add_table(rows=2, cols=3)
    for col, text in enumerate(["Name", "Size", "Unit"]):
        table.cell(0, col).text = text
    table.cell(1, 0).text = "disk"
    table.cell(1, 1).merge(table.cell(1, 2)).text = "10 GB"
    document.add_paragraph("After the table.")
    document.add_heading("Details", 3)
    document.add_paragraph("Deep text.")
    document.add_heading("Appendix", 1)
    document.add_paragraph("The end.")


def test_docx_structure_in_document_order(tmp_path: Path) -> None:
    doc = load_ok(make_docx(tmp_path / "handbook.docx", build_docx))
    assert doc.format == "docx" and doc.title == "Handbook"
    intro, data = ("Intro",), ("Intro", "Data")
    assert [(b.kind, b.level, b.heading_path, b.text) for b in doc.blocks] == [
        ("heading", 1, ("Handbook",), "Handbook"),
        ("heading", 1, intro, "Intro"),
        ("paragraph", 0, intro, "Hello bold world."),
        ("list", 0, intro, "- first point\n  - sub point\n- second point"),
        ("heading", 2, data, "Data"),
        ("table", 0, data, "Name | Size | Unit\ndisk | 10 GB"),
        ("paragraph", 0, data, "After the table."),
        ("heading", 3, (*data, "Details"), "Details"),
        ("paragraph", 0, (*data, "Details"), "Deep text."),
        ("heading", 1, ("Appendix",), "Appendix"),
        ("paragraph", 0, ("Appendix",), "The end."),
    ]


def test_docx_titles(tmp_path: Path) -> None:
    def with_core_title(document) -> None:
        document.core_properties.title = "Core Title"
        build_docx(document)

    assert load_ok(make_docx(tmp_path / "a.docx", with_core_title)).title == "Core Title"

    def headings_only(document) -> None:
        document.add_paragraph("Preface text.")
        document.add_heading("First Heading", 2)

    assert load_ok(make_docx(tmp_path / "b.docx", headings_only)).title == "First Heading"

    def text_only(document) -> None:
        document.add_paragraph("Just a paragraph.")

    assert load_ok(make_docx(tmp_path / "project_plan.docx", text_only)).title == "project plan"


def test_docx_garbage_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "garbage.docx"
    path.write_bytes(bytes(range(256)) * 8)
    load_fails(path, CorruptFileError)
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)  # a zip header and nothing behind it
    load_fails(path, CorruptFileError)


def test_docx_zip_without_document_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "notword.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    load_fails(path, CorruptFileError)


def test_docx_truncated_is_corrupt(tmp_path: Path) -> None:
    data = make_docx(tmp_path / "full.docx", build_docx).read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) // 2])
    load_fails(path, CorruptFileError)


def test_docx_ole_container_is_encrypted(tmp_path: Path) -> None:
    path = tmp_path / "protected.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00")
    err = load_fails(path, EncryptedFileError)
    assert "password" in err.hint


def test_docx_without_text_is_empty(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "blank.docx", lambda document: document.add_paragraph("   "))
    load_fails(path, EmptyFileError)


def test_text_title_from_capitalised_first_line(tmp_path: Path) -> None:
    path = tmp_path / "guide.txt"
    path.write_text("REMOTE WORK GUIDELINES\nVersion 3, effective 1 March.\n\nBody.")
    assert load_ok(path).title == "REMOTE WORK GUIDELINES"
    path.write_text("Remote Work Guidelines for Everyone\nVersion 3, effective 1 March.\n\nBody.")
    assert load_ok(path).title == "Remote Work Guidelines for Everyone"
    path.write_text("this sentence wraps over the line because it is long\nand goes on here.\n\nBody.")
    assert load_ok(path).title == "guide"


def test_docx_custom_styles_numbering_and_toc(tmp_path: Path) -> None:
    from docx.enum.style import WD_STYLE_TYPE

    def build(document) -> None:
        styles = document.styles
        custom = styles.add_style("Chapter Heading", WD_STYLE_TYPE.PARAGRAPH)
        custom.base_style = styles["Heading 2"]
        styles.add_style("toc 1", WD_STYLE_TYPE.PARAGRAPH)
        document.add_paragraph("Chapter One\t3", style="toc 1")
        document.add_heading("Top", 1)
        document.add_paragraph("Chapter One", style="Chapter Heading")
        for level, text in ((0, "numbered a"), (1, "numbered b")):
            paragraph = document.add_paragraph(text)
            num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
            num_pr.get_or_add_ilvl().val = level
            num_pr.get_or_add_numId().val = 1
        document.add_paragraph("Plain again.")

    doc = load_ok(make_docx(tmp_path / "styled.docx", build))
    assert [(b.kind, b.level, b.heading_path, b.text) for b in doc.blocks] == [
        ("heading", 1, ("Top",), "Top"),
        ("heading", 2, ("Top", "Chapter One"), "Chapter One"),
        ("list", 0, ("Top", "Chapter One"), "- numbered a\n  - numbered b"),
        ("paragraph", 0, ("Top", "Chapter One"), "Plain again."),
    ]


def test_load_bytes_gives_what_load_gives_and_never_opens_the_name():
    """The Ray executor's workers get bytes and a name: same documents, same errors."""
    from fiable.loaders import load_bytes
    from fiable.samples import handbook_dir

    for path in sorted(handbook_dir().iterdir()):
        if path.suffix.lower() in SUPPORTED_EXTENSIONS:
            assert load_bytes(path.read_bytes(), path) == load(path), path.name
    assert load_bytes(b"Title\n\nBody.", "/nowhere/a.txt").source == "/nowhere/a.txt"
    with pytest.raises(EmptyFileError):
        load_bytes(b"", "/nowhere/empty.md")
    with pytest.raises(FileTooLargeError):
        load_bytes(b"x" * 11, "/nowhere/big.txt", max_bytes=10)
