"""The README's examples run (with the deterministic fakes, so no model is needed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import copy_handbook

README = Path(__file__).resolve().parents[1] / "README.md"


def _run_python(code: str, cwd: Path, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_readme_python_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "the README has no Python example"
    copy_handbook(tmp_path)
    env = {**os.environ, "FIABLE_EMBEDDER": "hashing", "FIABLE_GENERATOR": "fake",
           "FIABLE_MIN_RELEVANCE": "0.05"}
    for code in blocks:
        assert "[1]" in _run_python(code, tmp_path, env)


def test_readme_lists_every_cli_command():
    from fiable.cli import cli

    text = README.read_text(encoding="utf-8")
    missing = [name for name in cli.commands if f"fiable {name}" not in text]
    assert not missing, f"commands missing from the README: {missing}"


EVALUATION_DOC = README.parent / "docs" / "evaluation.md"


def test_evaluation_doc_python_example_runs(tmp_path):
    import shutil

    (code,) = re.findall(r"```python\n(.*?)```", EVALUATION_DOC.read_text(encoding="utf-8"),
                         re.DOTALL)
    fixture = Path(__file__).parent / "fixtures" / "eval" / "scifact-mini"
    shutil.copytree(fixture, tmp_path / "data" / "scifact")
    env = {**os.environ, "FIABLE_EMBEDDER": "hashing", "FIABLE_GENERATOR": "fake"}
    assert "p50_ms" in _run_python(code, tmp_path, env)


def test_evaluation_doc_covers_every_eval_command():
    from fiable.cli.evaluate import eval_group

    text = EVALUATION_DOC.read_text(encoding="utf-8")
    missing = [n for n in eval_group.commands if n != "run" and f"fiable eval {n}" not in text]
    assert not missing
    for option in ("--fail-under", "--fail-over", "--compare", "--sweep", "--plot", "--json"):
        assert option in text
