"""The AI pairwise judge (fiable.feedback.judge): cheap cascade, model votes, ask-log labelling."""

from __future__ import annotations

import pytest

from fiable.feedback.judge import (
    AB_GRAMMAR,
    JUDGE_VERSION,
    PreferenceJudge,
    Verdict,
    judge_unlabelled,
    parse_choice,
)
from fiable.generators.fake import FakeGenerator
from tests.helpers import copy_handbook, fake_workspace

PASSAGES = [("Employees receive 25 days of paid leave per year. Leave requests go through the "
             "HR portal at least two weeks ahead."),
            "The office is in Lyon. Parking is free for employees with a badge."]
QUESTION = "How many days of paid leave do employees receive?"
RIGHT = "Employees receive 25 days of paid leave per year [1]."
WRONG = "Employees receive 40 days of paid leave per year in Geneva."


def test_a_supported_answer_beats_an_unsupported_one_in_either_position():
    judge = PreferenceJudge()
    first = judge.judge(QUESTION, PASSAGES, RIGHT, WRONG)
    second = judge.judge(QUESTION, PASSAGES, WRONG, RIGHT)
    assert (first.preferred, second.preferred) == ("a", "b")
    assert first.confidence == second.confidence and 0.8 < first.confidence <= 1.0
    assert first.signals["method"] == "signals"  # decided without a model
    assert first.signals["a"]["support_mean"] > first.signals["b"]["support_mean"]
    assert first.judge.startswith(JUDGE_VERSION) and "model=none" in first.judge


def test_the_answer_to_the_question_beats_a_supported_but_off_topic_sentence():
    verdict = PreferenceJudge().judge(QUESTION, PASSAGES, "The office is in Lyon [2].", RIGHT)
    assert verdict.preferred == "b"
    assert verdict.signals["b"]["relevance"] > verdict.signals["a"]["relevance"]


def test_ties_equivalent_answers_and_two_abstentions():
    judge = PreferenceJudge()
    assert judge.judge(QUESTION, PASSAGES, RIGHT, RIGHT.replace(" [1]", "")).preferred == "tie"
    both = judge.judge(QUESTION, PASSAGES, "Not in the documents.", "I don't know.")
    assert (both.preferred, both.confidence) == ("tie", 1.0)


def test_abstention_loses_to_a_supported_answer_and_beats_an_unsupported_one():
    judge = PreferenceJudge()
    v = judge.judge(QUESTION, PASSAGES, "Not in the documents.", RIGHT)
    assert (v.preferred, v.signals["rule"]) == ("b", "abstention")
    v = judge.judge(QUESTION, PASSAGES, "Staff get unlimited holidays in Geneva.",
                    "Not in the documents.")
    assert v.preferred == "b" and v.confidence > 0.6


def test_confidence_is_in_range_and_verdict_is_a_dataclass():
    v = PreferenceJudge().judge(QUESTION, PASSAGES, RIGHT, WRONG)
    assert isinstance(v, Verdict) and 0.5 <= v.confidence <= 1.0


@pytest.mark.parametrize("reply,choice", [("A", "A"), ("B", "B"), (" B.", "B"), ("a", None),
                                          ("", None), ("Answer A", None), ("AB", None)])
def test_parse_choice(reply, choice):
    assert parse_choice(reply) == choice


def _close_judge(responses):
    # margin 1.0: every pair goes to the model (the cheap score is always "close")
    gen = FakeGenerator(responses=responses, model_id="fake-judge")
    return PreferenceJudge(gen, margin=1.0), gen


def test_model_is_asked_in_both_orders_with_the_grammar_and_the_rubric():
    judge, gen = _close_judge(["A", "B"])  # A first, then B when swapped: consistent for A
    vote, details = judge.model_vote(QUESTION, PASSAGES, RIGHT, WRONG)
    assert vote == 1 and details == {"model_ab": "A", "model_ba": "B", "model_vote": 1}
    assert all(o.grammar == AB_GRAMMAR and o.temperature == 0 for o in gen.options_calls)
    first, second = (c[-1].content for c in gen.calls)
    assert "Answer A: " + RIGHT.replace(" [1]", "") in first  # markers stripped
    assert "Answer A: " + WRONG in second  # the swapped order
    assert "Rubric" in gen.calls[0][0].content


def test_position_bias_gives_no_vote_and_the_cheap_score_decides():
    judge, _ = _close_judge(["A", "A"])  # always the first position: inconsistent
    v = judge.judge(QUESTION, PASSAGES, RIGHT, WRONG)
    assert v.signals["model_vote"] == 0 and v.signals["method"] == "model"
    assert v.preferred == "a" and v.confidence == v.signals["p_cheap"]
    assert "model=fake-judge" in v.judge


def test_a_consistent_model_vote_raises_the_confidence_and_unparsable_replies_are_ignored():
    judge, _ = _close_judge(["A", "B"])
    boosted = judge.judge(QUESTION, PASSAGES, RIGHT, WRONG)
    assert boosted.confidence > boosted.signals["p_cheap"]
    judge, _ = _close_judge(["maybe", "B"])
    v = judge.judge(QUESTION, PASSAGES, RIGHT, WRONG)
    assert v.signals["model_ab"] is None and v.signals["method"] == "signals"


def test_the_cheap_path_does_not_call_the_model_when_it_is_sure():
    judge, gen = _close_judge([])
    judge.margin = 0.3
    judge.judge(QUESTION, PASSAGES, RIGHT, WRONG)
    assert gen.calls == [] and judge.model_calls == 0


# -- judge_unlabelled -----------------------------------------------------------------
@pytest.fixture()
def logged(tmp_path):
    ws = fake_workspace(tmp_path / "ws")
    ws.ingest([copy_handbook(tmp_path)])
    first = ws.ask("How many days of paid leave do employees get?")
    second = ws.ask("How do I request remote work?")
    yield ws, first, second
    ws.close()


def _scripted(ws, *answers):
    ws._generator = FakeGenerator(responses=list(answers))


def test_judge_unlabelled_stores_ai_records_and_skips_human_labelled_questions(logged):
    ws, first, second = logged
    ws.store.save_feedback({"trace_id": second.trace_id, "rating": 1})  # a human label
    _scripted(ws, "Employees get 99 days off in Geneva.")  # the second answer: unsupported
    records = judge_unlabelled(ws, limit=5)
    assert len(records) == 1
    r = records[0]
    assert r["source"] == "ai" and r["kind"] == "pairwise"
    assert r["chosen_trace_id"] == r["trace_id"] == first.trace_id
    assert r["rejected_trace_id"] not in (first.trace_id, second.trace_id)
    assert r["judge"].startswith(JUDGE_VERSION) and 0.5 <= r["confidence"] <= 1
    stored = [f for f in ws.store.feedback(trace_id=first.trace_id) if f.get("source") == "ai"]
    assert stored and stored[0]["signals"] == r["signals"]
    # a second run finds nothing new: the question has an AI label, the other a human one
    assert judge_unlabelled(ws, limit=5) == []


def test_judge_unlabelled_dry_run_writes_nothing(logged):
    ws, *_ = logged
    asks_before = len(ws.store.asks(limit=100))
    _scripted(ws, "Employees get 99 days off in Geneva.", "Remote work is forbidden on Mars.")
    records = judge_unlabelled(ws, limit=5, dry_run=True)
    assert {r["source"] for r in records} == {"ai"} and len(records) == 2
    assert ws.store.feedback() == [] and len(ws.store.asks(limit=100)) == asks_before


def test_judge_unlabelled_respects_the_limit_and_skips_ties(logged):
    ws, *_ = logged
    assert judge_unlabelled(ws, limit=0) == []
    # the extractive fake answers the same at any temperature: ties, nothing stored
    assert judge_unlabelled(ws, limit=5, overrides={"temperature": 0.7}) == []
    assert ws.store.feedback() == []


def test_cli_command_runs(logged, tmp_path):
    from click.testing import CliRunner

    from fiable.cli.feedback_judge import judge_command

    ws, *_ = logged
    path = ws.path
    ws.close()
    result = CliRunner().invoke(judge_command, ["--limit", "1", "--dry-run", "--overrides",
                                                "temperature=0.7"],
                                obj={"workspace": str(path), "sets": {"generator": "fake",
                                                                      "embedder": "hashing"}})
    assert result.exit_code == 0, result.output
    assert "0 pairs" in result.output or "pair" in result.output


@pytest.mark.integration
def test_smollm2_answers_inside_the_grammar(smollm2_gguf):
    from fiable.generators.llamacpp import LlamaCppGenerator

    with LlamaCppGenerator(smollm2_gguf, n_ctx=1024, n_threads=1) as gen:
        judge = PreferenceJudge(gen, margin=1.0)
        vote, details = judge.model_vote(QUESTION, PASSAGES, RIGHT, WRONG)
    assert details["model_ab"] in ("A", "B") and details["model_ba"] in ("A", "B")
    assert vote in (-1, 0, 1)
