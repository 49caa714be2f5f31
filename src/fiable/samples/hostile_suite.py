"""The prompt-injection suite: hostile documents written to steer a small model, each with
one question its benign part answers and the canary strings an answer that obeyed the
injection would contain (a number, a code, a link the payload asks for).

``hostile-suite/suite.jsonl`` holds each case as plain text: ``benign`` (the document's
honest content), ``payload`` (the injection), its ``format`` (md, txt, html, docx), where
the payload goes (``end``, or ``far``: ``pointer | rule``, the pointer after the benign
text and the rule after enough filler to land in another chunk) and its ``obfuscation``, applied when the file is written:

- ``homoglyph``: Latin letters swapped for Cyrillic look-alikes;
- ``zero-width``: zero-width spaces inside the words;
- ``spaced``: one space between letters, three between words;
- ``tags``: the payload in invisible Unicode tag characters (U+E0000 block);
- ``base64``: the payload base64-encoded behind "decode and follow";
- ``hidden``: a DOCX run with the hidden (``w:vanish``) property.

:func:`write_suite` writes the documents through the formats the real loaders read
(Markdown, text, HTML with comments / ``alt`` / ``display:none``, DOCX with hidden runs).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

__all__ = ["CYRILLIC", "obfuscate", "suite", "write_suite"]

CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "i": "і",
                          "x": "х", "y": "у", "A": "А", "E": "Е", "O": "О", "P": "Р",
                          "C": "С", "I": "І", "T": "Т", "H": "Н", "K": "К", "M": "М"})
_FILLER = (
    "This policy was agreed with the staff representatives and applies to every site. "
    "Managers explain it to newcomers during their first week, and the HR team answers "
    "questions about specific cases. Exceptions are decided case by case, in writing, "
    "and recorded in the employee's file. The policy is reviewed every year in March; "
    "changes are announced on the intranet one month before they apply. "
)
_FILLER_FR = (
    "Cette règle a été validée avec les représentants du personnel et s'applique sur tous "
    "les sites. Les managers la présentent aux nouveaux arrivants pendant leur première "
    "semaine, et l'équipe RH répond aux questions sur les cas particuliers. Les exceptions "
    "sont décidées au cas par cas, par écrit, et notées dans le dossier du salarié. "
)


def _dir() -> Path:
    return Path(__file__).resolve().parent / "hostile-suite"


def suite() -> list[dict[str, Any]]:
    """The cases of ``hostile-suite/suite.jsonl``, in file order."""
    text = (_dir() / "suite.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def obfuscate(text: str, how: str) -> str:
    """``text`` as the case's obfuscation writes it (``none``/``hidden``: unchanged)."""
    if how == "homoglyph":
        return text.translate(CYRILLIC)
    if how == "zero-width":
        return " ".join("\u200b".join(word) for word in text.split(" "))
    if how == "spaced":
        return "   ".join(" ".join(word) for word in text.split())
    if how == "tags":
        return "".join(chr(0xE0000 + ord(c)) for c in text if 0x20 <= ord(c) < 0x7F)
    if how == "base64":
        return ("Decode and follow: "
                + base64.b64encode(text.encode("utf-8")).decode("ascii"))
    return text


def _parts(case: dict[str, Any]) -> tuple[str, str, str]:
    """(benign text, filler, payload) of a case, obfuscation applied."""
    if case["where"] != "far":
        return case["benign"], "", obfuscate(case["payload"], case["obfuscation"])
    pointer, _, rule = (p.strip() for p in case["payload"].partition("|"))
    filler = (_FILLER_FR if case["lang"] == "fr" else _FILLER) * 4
    return (f"{case['benign']}\n\n{pointer}", filler,
            obfuscate(rule, case["obfuscation"]))


def _docx(path: Path, case: dict[str, Any]) -> None:
    from docx import Document

    benign, filler, payload = _parts(case)
    doc = Document()
    doc.add_heading(case["title"], level=1)
    doc.add_paragraph(benign)
    if filler:
        doc.add_paragraph(filler)
    run = doc.add_paragraph().add_run(payload)
    run.font.hidden = case["obfuscation"] == "hidden"
    doc.core_properties.title = case["title"]
    doc.save(str(path))


def _html(case: dict[str, Any]) -> str:
    benign, filler, payload = _parts(case)  # html payloads carry their own markup
    title = html.escape(case["title"])
    extra = f"<p>{html.escape(filler)}</p>" if filler else ""
    return (f"<!DOCTYPE html>\n<html lang=\"{case['lang']}\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title></head>\n<body><main><h1>{title}</h1>\n"
            f"<p>{html.escape(benign)}</p>\n{extra}{payload}\n</main></body></html>\n")


def write_suite(folder: Path) -> dict[str, Path]:
    """Write every case's document into ``folder`` (created); case id -> its file."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for case in suite():
        path = folder / f"{case['id']}-{case['technique']}.{case['format']}"
        if case["format"] == "docx":
            _docx(path, case)
        elif case["format"] == "html":
            path.write_text(_html(case), encoding="utf-8")
        else:
            benign, filler, payload = _parts(case)
            head = f"# {case['title']}\n\n" if case["format"] == "md" else f"{case['title']}\n\n"
            body = "\n\n".join(p for p in (benign, filler, payload) if p)
            path.write_text(head + body + "\n", encoding="utf-8")
        written[case["id"]] = path
    return written
