"""benchmarks/generators.py and benchmarks/crosslingual.py: their figures from known rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_the_generator_summary_counts_answers_refusals_and_times() -> None:
    generators = _load("generators")
    rows = [  # two answerable (one right, one refused), two unanswerable (one answered)
        {"answerable": True, "answers": ["27 days"], "text": "27 days", "first_token": 1.0,
         "generate": 2.0, "total": 3.0},
        {"answerable": True, "answers": ["Tuesday"], "text": "", "first_token": None,
         "generate": None, "total": 0.5},
        {"answerable": False, "answers": [], "text": "", "first_token": 3.0, "generate": 4.0,
         "total": 5.0},
        {"answerable": False, "answers": [], "text": "Monday", "first_token": 2.0,
         "generate": 6.0, "total": 7.0},
    ]
    (f1, contains, precision, recall, ab_f1, wrong, answered_unans,
     first50, first95, full50, full95, ask50) = generators.summary(rows)
    assert (f1, contains) == ("0.500", "0.500")
    assert (precision, recall, ab_f1) == ("0.500", "0.500", "0.500")
    assert (wrong, answered_unans) == ("1/2", "1/2")
    assert (first50, first95, full50, full95) == ("2.00", "3.00", "4.00", "6.00")
    assert ask50 == "3.00"


def test_the_french_handbook_questions_match_the_english_ones() -> None:
    crosslingual = _load("crosslingual")
    from fiable.language import detect_language
    from fiable.samples import handbook_questions

    french = crosslingual.handbook_fr()
    english = {q["id"]: q for q in handbook_questions()}
    assert [q["id"] for q in french] == list(english)
    for q in french:
        assert detect_language(q["question"]) == "fr", q["question"]
        assert q["answerable"] == english[q["id"]]["answerable"] == bool(q["answers"])
        assert set(english[q["id"]]["answers"]) <= set(q["answers"])  # English golds kept


@pytest.mark.parametrize("script, args", [("generators.py", ["--squad", "-1"]),
                                          ("generators.py", ["--generators", " "]),
                                          ("crosslingual.py", ["--conditions", "nope"])])
def test_bad_arguments_are_refused_with_the_fix(script, args) -> None:
    import subprocess

    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and ("give" in done.stderr or "choose among" in done.stderr)


def test_mixed_fact_negatives_take_a_value_from_another_sentence_of_the_passage() -> None:
    verifier = _load("verifier")
    context = ("Hotel rates are capped at 180 euros a night in Paris. Mileage is paid at 0.37 "
               "euros per kilometre. Claims go to Jane Roe in Lyon.")
    sentence = "Hotel rates are capped at 180 euros a night in Paris."
    assert verifier.same_passage_values("180", context, sentence) == ["0.37"]
    names = verifier.same_passage_values("Paris", context, sentence)
    assert "Lyon" in names and "Jane Roe" in names and "Paris" not in names
    assert verifier.same_passage_values("capped", context, sentence) == []  # no shape to swap
