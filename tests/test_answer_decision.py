"""The answer decision after generation: the answer's anchor, the model's refusal
probability, the fitted weights, and the pipeline that withholds an answer they reject."""

from __future__ import annotations

import math

import pytest

from fiable.answer import Done
from fiable.errors import FiableError
from fiable.explain import explain
from fiable.generators.base import ChatMessage, GenerationOptions, chat_request, first_token_logprobs
from fiable.generators.fake import FakeGenerator
from fiable.observability.tracing import find_span
from fiable.trust.binding import BINDING_FEATURES, bind
from fiable.trust.decision import WEIGHTS, WEIGHTS_WITHOUT_REFUSAL, decide, refusal_probability

from .helpers import fake_workspace

TRAVEL = [
    "Hotel rates per night: the company pays up to the rate of the city.\n"
    "City | Maximum rate per night\nParis | €220\nLyon | €150\nBerlin | €180",
    "Mileage: private cars used for a business trip are reimbursed at €0.37 per kilometre.",
]
TITLES = ["Travel policy", "Travel policy"]
HOTEL = "What is the maximum hotel rate per night for a business trip to Paris?"


def test_the_anchor_of_a_right_answer_holds_what_the_question_asks_about():
    b = bind(HOTEL, "€220", TRAVEL, TITLES)
    assert b.anchor == "Paris | €220" and b.number == 1
    f = b.features
    assert set(f) == set(BINDING_FEATURES)
    assert f["anchored"] == 1.0 and f["window_names_missing"] == 0.0  # the header row counts
    assert f["window_coverage"] >= 0.5


def test_a_value_attached_to_the_wrong_thing_is_anchored_elsewhere():
    right = bind(HOTEL, "€220", TRAVEL, TITLES).features
    wrong = bind(HOTEL, "The maximum hotel rate per night for a business trip to Paris is "
                 "€0.37 per kilometre.", TRAVEL, TITLES)
    assert wrong.number == 2 and "0.37" in wrong.anchor
    assert wrong.features["window_names_missing"] == 1.0  # no Paris near the mileage rate
    assert wrong.features["window_coverage"] < right["window_coverage"]
    # a city the table does not list, answered from a neighbouring row
    madrid = bind("What is the maximum hotel rate per night in Madrid?", "€180", TRAVEL, TITLES)
    assert madrid.anchor == "Berlin | €180" and madrid.features["window_names_missing"] == 1.0


def test_an_answer_found_nowhere_is_not_anchored():
    b = bind(HOTEL, "€95 with breakfast", TRAVEL, TITLES)
    assert b.features["anchored"] < 0.5
    assert bind(HOTEL, "", TRAVEL, TITLES).features["anchored"] == 0.0
    assert bind(HOTEL, "€220", [], []).anchor == ""


def test_refusal_probability_sums_the_first_tokens_that_open_the_refusal():
    lp = {"Not": math.log(0.3), " Not": math.log(0.1), "The": math.log(0.5), "N": math.log(0.05)}
    assert refusal_probability(lp, "Not in the documents.") == pytest.approx(0.4)
    assert refusal_probability({"Cette": math.log(0.6)},
                               "Cette information ne figure pas dans les documents.") == \
        pytest.approx(0.6)
    assert refusal_probability(None, "Not in the documents.") is None
    assert refusal_probability({}, "Not in the documents.") is None


def test_the_fitted_weights_cover_every_feature_and_read_as_expected():
    for weights in (WEIGHTS, WEIGHTS_WITHOUT_REFUSAL):
        assert set(BINDING_FEATURES) | {"bias", "answerability"} <= set(weights)
        assert weights["answerability"] > 0  # the classifier's evidence still counts
        assert weights["window_names_missing"] < 0  # the question's subject missing near it
    assert "refusal" not in WEIGHTS_WITHOUT_REFUSAL and WEIGHTS["refusal"] < 0


def test_the_decision_withholds_the_wrong_subject_and_keeps_the_right_one():
    right = decide(0.8, 0.02, bind(HOTEL, "€220", TRAVEL, TITLES), 0.45)
    wrong = decide(0.8, 0.02, bind(HOTEL, "€0.37 per kilometre", TRAVEL, TITLES), 0.45)
    assert not right.abstain and wrong.score < right.score - 0.15
    # with a classifier in doubt (P 0.55) the misplaced value is withheld, the right one kept
    doubt = decide(0.55, 0.02, bind(HOTEL, "€0.37 per kilometre", TRAVEL, TITLES), 0.45)
    kept = decide(0.55, 0.02, bind(HOTEL, "€220", TRAVEL, TITLES), 0.45)
    assert doubt.abstain and not kept.abstain
    # a model close to refusing lowers the score; without log-probabilities other weights apply
    hesitant = decide(0.8, 0.6, bind(HOTEL, "€220", TRAVEL, TITLES), 0.45)
    assert hesitant.score < right.score
    unknown = decide(0.8, None, bind(HOTEL, "€220", TRAVEL, TITLES), 0.45)
    assert "refusal" not in unknown.features and not unknown.abstain
    with pytest.raises(FiableError, match="answer_threshold"):
        decide(0.8, None, bind(HOTEL, "€220", TRAVEL, TITLES), 1.5)


def test_first_token_logprobs_are_asked_for_and_read_from_a_stream_chunk():
    body = chat_request([ChatMessage("user", "hi")], GenerationOptions(top_logprobs=5))
    assert body["logprobs"] is True and body["top_logprobs"] == 5
    assert "logprobs" not in chat_request([ChatMessage("user", "hi")], GenerationOptions())
    choice = {"delta": {"content": "Not"}, "logprobs": {"content": [{"token": "Not", "logprob": -0.2,
              "top_logprobs": [{"token": "Not", "logprob": -0.2}, {"token": "The", "logprob": -1.9},
                               {"token": 3, "logprob": -5}, {"logprob": -1}]}]}}
    assert first_token_logprobs(choice) == {"Not": -0.2, "The": -1.9}
    for broken in ({}, {"logprobs": None}, {"logprobs": {"content": []}}, "x"):
        assert first_token_logprobs(broken) is None
    fake = FakeGenerator(responses=["Paris rate", "again"])
    list(fake.stream([ChatMessage("user", "q")], GenerationOptions(top_logprobs=3)))
    assert fake.first_logprobs == {"Paris ": 0.0}  # its first piece, as streamed
    list(fake.stream([ChatMessage("user", "q")], GenerationOptions()))
    assert fake.first_logprobs is None


def _travel_workspace(path, answer: str, **settings):
    folder = path / "docs"
    folder.mkdir(parents=True)
    (folder / "travel.md").write_text("# Travel policy\n\n## Hotels\n\n" + TRAVEL[0].replace(
        "\n", "\n\n", 1) + "\n\n## Mileage\n\n" + TRAVEL[1] + "\n", encoding="utf-8")
    ws = fake_workspace(path / "ws", generator=FakeGenerator(responses=[answer]),
                        answerability="classifier", answerability_threshold=0.0, **settings)
    ws.ingest([folder])
    return ws


def test_the_pipeline_withholds_an_answer_the_decision_rejects(tmp_path):
    with _travel_workspace(tmp_path / "a", "€220", answer_threshold=0.0) as ws:
        kept = next(e for e in ws.ask_stream(HOTEL) if isinstance(e, Done))
    after = kept.answer.answerability["after"]
    assert not kept.answer.abstained and after["abstain"] is False
    assert set(after["features"]) == {"answerability", "refusal", *BINDING_FEATURES}
    assert after["features"]["refusal"] == 0.0  # the fake was sure of its first word
    span = find_span(kept.trace, "decide")
    assert span is not None and span["attributes"]["score"] == after["score"]
    assert "answer decision: P(answerable) given the answer" in explain(kept.answer)
    with _travel_workspace(tmp_path / "b", "€220", answer_threshold=1.0) as ws:
        refused = next(e for e in ws.ask_stream(HOTEL) if isinstance(e, Done)).answer
    assert refused.abstained and refused.abstain_code == "not_answerable"
    assert "answer_threshold" in refused.abstain_reason and refused.sources
    assert refused.explanation  # a plain sentence says why
    # the decision runs only with the classifier: off, no log-probabilities are asked for
    with _travel_workspace(tmp_path / "c", "€220", answer_threshold=1.0) as ws:
        plain = next(e for e in ws.ask_stream(HOTEL, overrides={"answerability": "off"})
                     if isinstance(e, Done)).answer
    assert not plain.abstained and plain.answerability is None


def test_an_answer_threshold_out_of_range_is_refused_before_the_model_runs(tmp_path):
    with _travel_workspace(tmp_path, "€220", answer_threshold=1.5) as ws:
        with pytest.raises(FiableError, match="answer_threshold is 1.5") as info:
            list(ws.ask_stream(HOTEL))
        assert ws.generator.calls == []  # no generation wasted
        assert "0.3" in info.value.hint
