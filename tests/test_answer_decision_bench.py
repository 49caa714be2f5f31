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


BINDING = {"anchored": 1.0, "window_coverage": 0.8, "window_names_missing": 0.0,
           "window_numbers_missing": 0.0, "window_antonym": 0.0, "answer_type": 0.5}


def _table(stdout: str) -> dict[tuple[str, str], list[str]]:
    """The replay table's rows by (answerability_threshold, answer_threshold)."""
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in stdout.splitlines()
             if line.startswith("| 0.")]
    return {(c[0], c[1]): c[2:] for c in cells}


def test_replay_scores_each_threshold(tmp_path) -> None:
    rows = [{"p": 0.7, "text": "Paris", "answerable": True, "answers": ["Paris"], "kind": "squad",
             "after": {**BINDING, "refusal": 0.01}},
            {"p": 0.45, "text": "Lyon", "answerable": False, "answers": [], "kind": "squad",
             "after": {**BINDING, "window_names_missing": 1.0, "refusal": 0.3}},
            {"p": 0.2, "text": "", "answerable": False, "answers": [], "code": "model_refused",
             "kind": "squad", "after": None}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    done = _run("--replay", str(path))
    assert done.returncode == 0, done.stderr
    lines = _table(done.stdout)
    # at 0.3 the 0.45 answer to an unanswerable question is kept; at 0.5 it is refused
    assert lines[("0.30", "0.00")][-1] == "1/2" and lines[("0.50", "0.00")][-1] == "0/2"
    assert lines[("0.50", "0.00")][0] == "1.000"  # the answerable one, answered right
    # the answer decision (the module's weights) withholds the answer whose subject is missing
    assert lines[("0.30", "0.50")][-1] == "0/2" and lines[("0.30", "0.50")][0] == "1.000"
    assert "model refusals left: 1/3" in done.stdout
    assert "AUROC (answerable or not) over the 2 model answers" in done.stdout


def test_fit_prints_the_weights_with_and_without_the_refusal(tmp_path) -> None:
    rows = [{"p": p, "text": "x", "answerable": ok, "answers": ["x"] if ok else [],
             "kind": kind, "after": {**BINDING, "window_names_missing": 0.0 if ok else 1.0,
                                     "refusal": 0.05 if ok else 0.4}}
            for p, ok, kind in ((0.8, True, "squad"), (0.6, False, "squad"), (0.7, True, "evalset"),
                                (0.55, False, "squad"), (0.9, True, "squad"))]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    done = _run("--fit", str(path), "--replay", str(path))
    assert done.returncode == 0, done.stderr
    assert "fitted on 5 model answers (4 SQuAD dev, 1 evaluation set dev, 3 answerable)" in done.stderr
    weights = json.loads(done.stderr.split("WEIGHTS = ")[1].splitlines()[0].replace("'", '"'))
    assert weights["window_names_missing"] < 0 and weights["refusal"] < 0
    assert "WEIGHTS_WITHOUT_REFUSAL = " in done.stderr


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
