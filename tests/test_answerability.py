"""The answerability classifier: its features, its decision before generation (fake model),
what it records (answer, trace, explain) and its calibration."""

from __future__ import annotations

import pytest

from fiable.answer import Done, NOT_IN_DOCUMENTS
from fiable.errors import FiableError
from fiable.evaluation.calibrate import calibrate_abstention, outcome
from fiable.explain import explain
from fiable.generators.fake import FakeGenerator
from fiable.observability.tracing import decision_of, find_span
from fiable.trust.answerability import FEATURES, WEIGHTS, decide, features, probability
from tests.helpers import copy_handbook, fake_workspace

PASSAGE = ("The Normans conquered England in 1066. William the Conqueror was crowned in "
           "Westminster Abbey. The Domesday Book counted 2,000 manors.")


def test_features_read_coverage_numbers_names_type_and_negation():
    good = features("When did the Normans conquer England?", [PASSAGE], [0.7], [12.0])
    assert set(good) == set(FEATURES)
    assert good["sentence_coverage"] == 1.0 and good["type_match"] == 1.0
    assert good["question_numbers_missing"] == 0.0 and good["negation"] == 0.0
    bad = features("How many manors did the Domesday Book not count in 1067?", [PASSAGE],
                   [0.7], [12.0])
    assert bad["question_numbers_missing"] == 1.0 and bad["negation"] == 1.0
    names = features("When did the Vikings conquer Ireland?", [PASSAGE], [0.7], [12.0])
    assert names["question_names_missing"] == 1.0  # Vikings and Ireland are both absent
    assert features("Who was crowned?", [PASSAGE], [0.5, 0.3], [3.0])["margin"] == 0.2
    none = features("When?", [], [], [])  # no passage: every signal is empty, no error
    assert none["relevance"] == 0.0 and none["question_coverage"] == 0.0


def test_antonym_needs_the_question_word_missing_from_every_best_sentence():
    swapped = features("What happened after the Normans conquered England?",
                       ["Before the Normans conquered England, the Saxons ruled."], [0.7], [9.0])
    assert swapped["antonym"] == 1.0
    policy = ["Employees may take up to 20 days of unpaid leave per calendar year.",
              "Every employee receives 27 working days of paid annual leave per calendar year."]
    both = features("How many days of paid annual leave do employees get per year?", policy,
                    [0.7, 0.6], [9.0, 8.0])
    assert both["antonym"] == 0.0  # "paid" is said too: "unpaid" is another rule, not a swap


def test_probability_follows_the_fitted_weights():
    good = features("When did the Normans conquer England?", [PASSAGE], [0.7], [12.0])
    bad = features("When did the Normans not conquer England in 1067?", [PASSAGE], [0.7], [12.0])
    assert WEIGHTS["negation"] < 0 and WEIGHTS["question_numbers_missing"] < 0
    assert probability(good) > probability(bad)
    assert decide(good, 0.0).abstain is False and decide(good, 1.0).abstain is True
    with pytest.raises(FiableError, match="between 0 and 1") as err:
        decide(good, 1.5)
    assert "sweep" in err.value.hint


def _ask(tmp_path, question: str, **settings):
    handbook = copy_handbook(tmp_path)
    generator = FakeGenerator(responses=["Every employee receives 27 working days of paid "
                                         "annual leave."])
    with fake_workspace(tmp_path / "ws", generator=generator, **settings) as ws:
        ws.ingest([handbook], collection="hr")
        done = next(e for e in ws.ask_stream(question) if isinstance(e, Done))
    return done, generator


GOOD = "How many days of paid annual leave do employees get?"
BAD = "How many days of paid annual leave do employees not get in 2031?"


def test_the_classifier_flips_the_decision_before_generation(tmp_path):
    # scored without abstaining (thresholds 0): the generator answers both questions
    good, _ = _ask(tmp_path / "g", GOOD, answerability="classifier", answerability_threshold=0.0,
                   answer_threshold=0.0)
    bad, _ = _ask(tmp_path / "b", BAD, answerability="classifier", answerability_threshold=0.0,
                  answer_threshold=0.0)
    p_good, p_bad = good.answer.answerability["score"], bad.answer.answerability["score"]
    assert not good.answer.abstained and not bad.answer.abstained
    assert p_good > p_bad  # the negation and the absent year lower P(answerable)
    threshold = round((p_good + p_bad) / 2, 4)
    kept, _ = _ask(tmp_path / "k", GOOD, answerability="classifier",
                   answerability_threshold=threshold, answer_threshold=0.0)
    refused, generator = _ask(tmp_path / "r", BAD, answerability="classifier",
                              answerability_threshold=threshold)
    assert not kept.answer.abstained
    a = refused.answer
    assert a.abstained and a.text == NOT_IN_DOCUMENTS and a.sources
    assert generator.calls == []  # refused before the model was called
    assert "answerability_threshold" in a.abstain_reason
    assert a.answerability == {"score": p_bad, "threshold": threshold, "abstain": True,
                               "features": bad.answer.answerability["features"]}
    assert a.answerability["features"]["negation"] == 1.0
    text = explain(a)
    assert "answerability: P(answerable)" in text and "-> abstain" in text and "negation 1.0" in text
    # off: no score, no span, the model answers
    off, generator = _ask(tmp_path / "o", BAD)
    assert off.answer.answerability is None and not off.answer.abstained and generator.calls


def test_the_trace_records_the_answerability_span_and_the_decision(tmp_path):
    done, _ = _ask(tmp_path, BAD, answerability="classifier", answerability_threshold=0.99)
    span = find_span(done.trace, "answerability")
    assert span is not None and span["attributes"]["abstain"] is True
    assert span["attributes"]["score"] == done.answer.answerability["score"] < 0.99
    assert decision_of({"trace": done.trace}) == "abstained-before"
    kept, _ = _ask(tmp_path / "k", GOOD, answerability="classifier", answerability_threshold=0.0)
    assert find_span(kept.trace, "answerability")["attributes"]["abstain"] is False
    assert find_span(kept.trace, "generate") is not None


def test_a_bad_answerability_setting_is_refused(tmp_path):
    with pytest.raises(FiableError, match="answerability"):
        fake_workspace(tmp_path / "ws", answerability="maybe")


def test_calibration_searches_the_answerability_threshold_when_scored():
    items = [  # relevance and support do not separate them; the classifier's score does
        {"answerable": True, "abstained": False, "relevance": 0.6, "support": 0.8, "f1": 0.6,
         "answerability": 0.7},
        {"answerable": True, "abstained": False, "relevance": 0.6, "support": 0.8, "f1": 0.4,
         "answerability": 0.55},
        {"answerable": False, "abstained": False, "relevance": 0.6, "support": 0.8, "f1": None,
         "answerability": 0.35},
        {"answerable": False, "abstained": False, "relevance": 0.6, "support": 0.8, "f1": None,
         "answerability": 0.4},
    ]
    cal = calibrate_abstention(items)
    assert cal.baseline["abstention.f1"] == 0.0
    assert cal.chosen["abstention.f1"] == 1.0 and cal.chosen["f1"] == cal.baseline["f1"]
    assert 0.4 < cal.answerability_threshold <= 0.55
    assert cal.min_relevance == 0.0 and cal.support_threshold == 0.0
    unscored = [{k: v for k, v in it.items() if k != "answerability"} for it in items]
    assert calibrate_abstention(unscored).answerability_threshold == 0.0
    assert outcome(items, 0.0, 0.0, 0.6)["f1"] == pytest.approx(0.3)  # one answer refused


def test_auto_runs_the_classifier_only_for_the_embedders_its_weights_were_fitted_on(tmp_path):
    from fiable.trust.answerability import calibrated_for

    assert calibrated_for("all-MiniLM-L6-v2/onnx-int8") and calibrated_for("all-MiniLM-L6-v2/torch-fp32")
    assert not calibrated_for("hashing-64") and not calibrated_for("multilingual-e5-small")
    done, _ = _ask(tmp_path, GOOD)  # hashing embedder, answerability left at auto: not run
    assert done.answer.answerability is None
