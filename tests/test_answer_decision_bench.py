"""benchmarks/answer_decision.py --replay: the table from recorded rows, and bad files refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "answer_decision.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120)


def test_replay_scores_each_threshold(tmp_path) -> None:
    rows = [{"p": 0.7, "text": "Paris", "answerable": True, "answers": ["Paris"]},
            {"p": 0.45, "text": "Lyon", "answerable": False, "answers": []},
            {"p": 0.2, "text": "", "answerable": False, "answers": [], "code": "model_refused"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    done = _run("--replay", str(path))
    assert done.returncode == 0, done.stderr
    lines = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in done.stdout.splitlines() if line.startswith("| 0.")}
    # at 0.3 the 0.45 answer to an unanswerable question is kept; at 0.5 it is refused
    assert lines["0.30"][-1] == "1/2" and lines["0.50"][-1] == "0/2"
    assert lines["0.50"][0] == "1.000"  # the answerable one, answered right, at every threshold
    assert "model refusals left: 1/3" in done.stdout


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("", "no rows"),
    ('{"x": 1}\n', "line 1: not a row of this benchmark"),
    ("not json\n", "line 1: not a row of this benchmark"),
])
def test_replay_refuses_a_file_it_cannot_read(tmp_path, content, message) -> None:
    path = tmp_path / "rows.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    done = _run("--replay", str(path))
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_negative_count_is_refused() -> None:
    done = _run("--squad", "-3")
    assert done.returncode == 2 and "1 or more" in done.stderr
