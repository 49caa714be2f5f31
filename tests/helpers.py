"""Small builders for test files and workspaces."""

from __future__ import annotations

import shutil
from pathlib import Path

from fiable import Workspace
from fiable.samples import handbook_dir


def copy_handbook(dest: Path) -> Path:
    target = dest / "handbook"
    shutil.copytree(handbook_dir(), target, ignore=shutil.ignore_patterns("*.jsonl"))
    return target


def fake_workspace(path: Path, **settings) -> Workspace:
    settings.setdefault("embedder", "hashing")
    settings.setdefault("generator", "fake")
    settings.setdefault("min_relevance", 0.05)
    return Workspace.open(path, create=True, **settings)


def make_pdf(path: Path, pages: list[str]) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(72, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``fiable ARGS`` in-process: (exit code, stdout, stderr)."""
    from fiable.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err
