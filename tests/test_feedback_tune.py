"""``fiable feedback tune``: fusion and abstention settings of a collection from its feedback,
measured on a held-out part; bad input (too little feedback, unknown collection,
contradictory labels) and a dry run that writes nothing."""

from __future__ import annotations

import json

import pytest

from fiable.errors import UnknownCollectionError
from fiable.evaluation.metrics import answer_contains
from fiable.feedback.records import capture
from fiable.feedback.tune import (MIN_JUDGEMENTS, NotEnoughFeedbackError, abstains, agreement,
                                  judgements, tune)
from fiable.samples import handbook_dir
from fiable.settings import SETTINGS_FILE, read_collection_settings
from tests.helpers import copy_handbook, fake_workspace, run_cli

UNANSWERABLE = ["What is the capital of Mongolia?", "Who won the 1998 football world cup?",
                "How tall is the Eiffel tower?", "What does a barista earn in Lisbon?",
                "Which planet has the most moons?"]


def _questions() -> list[dict]:
    path = handbook_dir().parent / "handbook-questions.jsonl"
    items = [json.loads(line) for line in path.open(encoding="utf-8")]
    return items + [{"question": q, "answers": [], "answerable": False} for q in UNANSWERABLE]


def _rate(ws, trace_id: str, **record) -> None:
    capture(ws.store, {"trace_id": trace_id, **record}, pii_detector=ws.pii_detector)


def _simulated_users(ws) -> int:
    """Rate every answer as a user who knows the gold answers would; return the count."""
    n = 0
    for q in _questions():
        a = ws.ask(q["question"], collections=["hr"])
        if q["answerable"]:
            good = not a.abstained and answer_contains(a.text, q["answers"])
        else:
            good = a.abstained
        record = {"rating": "up" if good else "down"}
        if not good and q["answerable"]:
            record["correction"] = q["answers"][0]
        _rate(ws, a.trace_id, **record)
        n += 1
    return n


@pytest.fixture
def ws(hr_workspace):
    return hr_workspace


@pytest.fixture
def rated(ws):
    assert _simulated_users(ws) >= MIN_JUDGEMENTS
    return ws


def _toml_bytes(ws) -> bytes:
    path = ws.path / SETTINGS_FILE
    return path.read_bytes() if path.exists() else b""


def test_judgements_from_ratings_corrections_and_pairs(ws):
    a = ws.ask("How many days of paid annual leave do employees get per year?",
               collections=["hr"])
    b = ws.ask("How many days of paid annual leave do employees get per year?",
               collections=["hr"], overrides={"top_k": 1})
    c = ws.ask("What is the capital of Mongolia?", collections=["hr"])
    d = ws.ask("How long is the probation period?", collections=["hr"])
    _rate(ws, a.trace_id, rating="up")
    capture(ws.store, {"kind": "pairwise", "chosen_trace_id": a.trace_id,
                       "rejected_trace_id": b.trace_id}, pii_detector=ws.pii_detector)
    _rate(ws, c.trace_id, rating="down", reason="not in the handbook")
    _rate(ws, d.trace_id, rating="up")
    _rate(ws, d.trace_id, rating="down", principal="bob")  # a second person disagrees
    items, skipped = judgements(ws.store, "hr")
    by_trace = {j.trace_id: j for j in items}
    assert skipped == {"contradictory": 1} and d.trace_id not in by_trace
    assert by_trace[a.trace_id].good and by_trace[a.trace_id].positives
    assert set(by_trace[a.trace_id].positives) <= {s.chunk_id for s in a.sources}
    assert not by_trace[b.trace_id].good and by_trace[b.trace_id].positives == ()
    wrong = by_trace[c.trace_id]
    assert not wrong.good and wrong.wants_abstention and not wrong.abstained
    # the same question is always in the same part
    assert by_trace[a.trace_id].held_out == by_trace[b.trace_id].held_out
    assert judgements(ws.store, "other")[0] == []


def test_abstention_rule_and_agreement(ws):
    a = ws.ask("What is the capital of Mongolia?", collections=["hr"])
    _rate(ws, a.trace_id, rating="down")
    [j] = judgements(ws.store, "hr")[0]
    assert j.relevance is not None and j.support is not None
    assert not abstains(j, 0.0, 0.0)
    assert abstains(j, j.relevance + 0.01, 0.0)
    assert abstains(j, 0.0, j.support + 0.01) and not abstains(j, 0.0, j.support - 0.01)
    assert agreement([j], 0.0, 0.0) == 0.0 and agreement([j], 1.0, 0.0) == 1.0


def test_too_little_feedback_says_how_much_is_needed(ws):
    for q in _questions()[:3]:
        _rate(ws, ws.ask(q["question"], collections=["hr"]).trace_id, rating="down")
    with pytest.raises(NotEnoughFeedbackError) as err:
        tune(ws, "hr")
    assert f"at least {MIN_JUDGEMENTS}" in err.value.message and "3 rated answers" in err.value.message
    assert "fiable feedback add" in err.value.hint


def test_unknown_collection_is_refused(rated):
    with pytest.raises(UnknownCollectionError):
        tune(rated, "nope")


def test_dry_run_proposes_and_writes_nothing(rated):
    before, runs = _toml_bytes(rated), len(rated.store.eval_runs())
    result = tune(rated, "hr", dry_run=True)
    assert result.changes and result.written is None and result.run_id is None
    assert result.abstention is not None and result.abstention.changed
    part = result.abstention
    assert part.tune_after > part.tune_before
    assert part.tune_n + part.held_out_n == result.judged and part.held_out_n > 0
    assert 0.0 <= part.held_out_before <= 1.0 and 0.0 <= part.held_out_after <= 1.0
    assert _toml_bytes(rated) == before and len(rated.store.eval_runs()) == runs


def test_tune_writes_the_collection_table_and_records_the_change(rated):
    from fiable.settings import write_collection_settings

    write_collection_settings(rated.path, "hr", {"feedback_export": False})
    result = tune(rated, "hr", dry_run=False)
    table = read_collection_settings(rated.path / SETTINGS_FILE)["hr"]
    assert {k: table[k] for k in result.changes} == result.changes
    assert table["feedback_export"] is False  # the table's other values are kept
    assert "tuned by `fiable feedback tune`" in (rated.path / SETTINGS_FILE).read_text()
    [run] = [r for r in rated.store.eval_runs() if r["id"] == result.run_id]
    assert run["kind"] == "feedback-tune" and run["collection"] == "hr"


def test_contradictory_labels_leave_the_thresholds_as_they_are(ws):
    """Each question asked twice, one answer rated up and the other down: no threshold
    agrees with more than half of them, so nothing is proposed nor written."""
    for q in _questions():
        first = ws.ask(q["question"], collections=["hr"])
        second = ws.ask(q["question"], collections=["hr"])
        assert (first.relevance, first.support) == (second.relevance, second.support)
        _rate(ws, first.trace_id, rating="up")
        _rate(ws, second.trace_id, rating="down")
    result = tune(ws, "hr", dry_run=True)
    # the up-rated answers still say which passages were right (fusion may move), but no
    # threshold agrees with more than half of the ratings: the thresholds stay
    assert not {"min_relevance", "support_threshold", "verify"} & set(result.changes)
    assert result.abstention is not None and result.abstention.tune_before == 0.5
    assert not result.abstention.changed and result.abstention.proposed == result.abstention.current


def test_cli_tune(cli_env, capsys):
    w = fake_workspace(cli_env / "ws")
    w.ingest([copy_handbook(cli_env)], collection="hr")
    code, _, err = run_cli(capsys, "feedback", "tune", "-c", "hr", "--dry-run")
    assert code == 2 and "not enough feedback" in err
    _simulated_users(w)
    w.close()
    before = (cli_env / "ws" / SETTINGS_FILE).read_bytes()
    code, out, _ = run_cli(capsys, "feedback", "tune", "-c", "hr", "--dry-run")
    assert code == 0 and "abstention:" in out and "held-out" in out
    assert "dry run: nothing written" in out
    assert (cli_env / "ws" / SETTINGS_FILE).read_bytes() == before
    code, _, err = run_cli(capsys, "feedback", "tune", "-c", "nope")
    assert code == 2 and "nope" in err
    code, out, _ = run_cli(capsys, "feedback", "tune", "-c", "hr", "--json")
    data = json.loads(out)
    assert code == 0 and data["written"] and data["changes"]
    assert (cli_env / "ws" / SETTINGS_FILE).read_bytes() != before


def test_before_after_on_an_evaluation_set(rated, tmp_path):
    """With an evaluation set, the current and the proposed thresholds are measured on it
    (asked once, both pairs applied to the same answers); nothing is stored."""
    from fiable.evaluation import load_dataset

    qa = tmp_path / "qa.jsonl"
    with qa.open("w", encoding="utf-8") as fh:
        for i, q in enumerate(_questions()):
            fh.write(json.dumps({"id": f"e{i}", "question": q["question"],
                                 "answers": q["answers"], "answerable": q["answerable"],
                                 "split": "test"}) + "\n")
    runs = len(rated.store.eval_runs())
    result = tune(rated, "hr", dataset=load_dataset(qa, split="test"))
    ev = result.evaluation
    assert ev["items"] == len(_questions()) and ev["method"].startswith("one pass")
    assert set(ev["before"]) == set(ev["after"]) >= {"f1", "abstention.f1"}
    assert ev["before"] != ev["after"]  # the proposed thresholds change what is answered
    assert len(rated.store.eval_runs()) == runs
    # higher thresholds only add abstentions: recall of abstaining cannot fall
    assert result.changes["min_relevance"] > rated.settings.min_relevance
    assert ev["after"]["abstention.recall"] >= ev["before"]["abstention.recall"]


def test_the_guard_keeps_the_answers_people_rated_right():
    """Mostly wrong answers, all at high relevance: agreement alone would abstain on
    everything; the guard keeps answering what people liked unless told otherwise."""
    from fiable.feedback.tune import Judgement, _tune_thresholds, kept_right

    def judged(i: int, good: bool, relevance: float) -> Judgement:
        return Judgement(trace_id=f"t{i}", question=f"q{i}", good=good, abstained=False,
                         fixed_abstention=False, relevance=relevance, support=0.9,
                         positives=(), correction=None, held_out=False)

    items = [judged(i, False, 0.40 + i * 0.001) for i in range(15)]
    items += [judged(100 + i, True, 0.31 + i * 0.01) for i in range(5)]
    current = {"min_relevance": 0.3, "support_threshold": 0.0}
    free = _tune_thresholds(items, current, keep_right=0.0)
    assert kept_right(items, free.proposed["min_relevance"], 0.0) < 0.5
    guarded = _tune_thresholds(items, current, keep_right=0.8)
    assert kept_right(items, guarded.proposed["min_relevance"],
                      guarded.proposed["support_threshold"]) >= 0.8
    assert guarded.tune_after <= free.tune_after


def test_a_change_worse_on_the_held_out_feedback_is_not_proposed():
    """Better on the tune part, worse on the held-out part: overfitting, not proposed."""
    from fiable.feedback.tune import Judgement, _tune_thresholds

    def judged(i: int, good: bool, relevance: float, held_out: bool) -> Judgement:
        return Judgement(trace_id=f"t{i}", question=f"q{i}", good=good, abstained=False,
                         fixed_abstention=False, relevance=relevance, support=0.9,
                         positives=(), correction=None, held_out=held_out)

    # on the tune part, low-relevance answers are wrong; on the held-out part, right
    items = [judged(i, False, 0.35, False) for i in range(10)]
    items += [judged(10 + i, True, 0.7, False) for i in range(10)]
    items += [judged(20 + i, True, 0.35, True) for i in range(10)]
    current = {"min_relevance": 0.3, "support_threshold": 0.0}
    part = _tune_thresholds(items, current, keep_right=0.0)
    assert part.changed and part.tune_after > part.tune_before
    assert part.held_out_after < part.held_out_before
    from fiable.feedback.tune import TuneResult, gate_held_out

    result = TuneResult("hr", {}, current, len(items), {})
    result.abstention = part
    gate_held_out(result)
    assert not result.abstention.changed and "worse on the held-out part" in result.notes[-1]
