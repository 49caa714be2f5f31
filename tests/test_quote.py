"""The passage sentence offered as a marked quote (fiable.trust.quote)."""

from __future__ import annotations

import pytest

from fiable.observability.tracing import decision_of
from fiable.trust.quote import best_quote, novelty

PASSAGES = [
    "The IT help desk is open from 8:00 to 18:00. Report a lost or stolen laptop at once: "
    "call the help desk on extension 4400, day or night.",
    "Laptops are replaced every four years. Staff may not install unapproved software.",
]


def test_the_sentence_holding_the_question_words_and_more_is_chosen() -> None:
    quote = best_quote("What extension do I call for a lost laptop?", PASSAGES)
    assert quote is not None
    assert "extension 4400" in quote.text and quote.number == 1
    assert quote.coverage >= 0.5


def test_a_sentence_that_only_restates_the_question_is_not_a_quote() -> None:
    assert best_quote("Laptops are replaced every four years?",
                      ["Laptops are replaced every four years."]) is None


def test_no_passage_no_quote() -> None:
    assert best_quote("Who approves expense claims?", []) is None
    assert best_quote("Who approves expense claims?", ["Expenses."]) is None


@pytest.mark.parametrize("question", ["", "   ", "what is it?", "Et pour cela ?"])
def test_a_question_without_a_content_word_gets_no_quote(question) -> None:
    passages = ["The parking is behind building B and is free for all staff members."]
    assert best_quote(question, passages, "fr" if "pour" in question else "en") is None


def test_the_expected_answer_type_breaks_a_tie() -> None:
    passages = ["The office moved to a new building after the merger with Acme.",
                "The office moved to the new building in 2019 after the merger."]
    quote = best_quote("When did the office move to the new building?", passages)
    assert quote is not None and "2019" in quote.text and quote.number == 2
    assert quote.type_match == 1.0


def test_novelty_is_the_share_of_words_beyond_the_question() -> None:
    assert novelty("Colloblasts.", "What are colloblasts?") == 0.0
    assert novelty("Specialised cells of the epidermis.", "What are colloblasts?") == 1.0
    assert novelty("", "What?") == 0.0


# -- in the ask pipeline ---------------------------------------------------------------

FAQ = """Office FAQ

What extension do I call for a lost laptop?
Report a lost or stolen laptop at once: call the IT service desk on extension 4400, day or night.

Where is staff parking?
Staff parking is in the underground car park, level -2, entrance on Rue Garibaldi.
"""


def _ask(tmp_path, reply: str, question: str, **settings):
    from fiable.generators.fake import FakeGenerator

    from .helpers import fake_workspace

    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "faq.txt").write_text(FAQ, encoding="utf-8")
    with fake_workspace(tmp_path / f"ws-{len(list(tmp_path.iterdir()))}",
                        generator=FakeGenerator([reply]), **settings) as ws:
        ws.ingest([docs])
        answer = ws.ask(question)
        [record] = ws.store.asks(limit=1)
        return answer, decision_of(record)


def test_a_model_refusal_becomes_a_marked_quote_of_the_passage_that_answers(tmp_path) -> None:
    answer, decision = _ask(tmp_path, "Not in the documents.",
                            "What extension do I call for a lost laptop?")
    assert not answer.abstained and answer.abstain_code is None
    [sentence] = answer.sentences
    assert sentence.method == "quote" and sentence.label == "supported"
    assert answer.text.startswith("The documents say: \u201c") and "extension 4400" in answer.text
    n = sentence.citations[0]
    assert "4400" in answer.sources[n - 1].snippet and answer.text.endswith(f"[{n}]")
    assert decision == "quoted"


def test_an_answer_that_only_repeats_the_question_is_replaced_by_the_quote(tmp_path) -> None:
    answer, _ = _ask(tmp_path, "Staff parking.", "Where is staff parking?")
    assert answer.sentences[0].method == "quote" and "level -2" in answer.text


def test_no_quote_when_no_sentence_holds_the_question_and_the_refusal_stays(tmp_path) -> None:
    answer, decision = _ask(tmp_path, "Not in the documents.",
                            "Who designed the company logo in 1998?")
    assert answer.abstained and answer.abstain_code == "model_refused"
    assert answer.explanation and "do not contain" in answer.explanation
    assert decision == "abstained-after"


def test_quoting_can_be_switched_off(tmp_path) -> None:
    answer, _ = _ask(tmp_path, "Not in the documents.",
                     "What extension do I call for a lost laptop?", quote_min_coverage=1.5)
    assert answer.abstained and answer.abstain_code == "model_refused"


def test_a_french_question_gets_a_french_quote_marker(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "faq.txt").write_text(
        "Télétravail\n\nChaque salarié peut télétravailler deux jours par semaine, après accord "
        "de son responsable.\n", encoding="utf-8")
    from fiable.generators.fake import FakeGenerator

    from .helpers import fake_workspace

    with fake_workspace(tmp_path / "ws", generator=FakeGenerator(
            ["Cette information ne figure pas dans les documents."])) as ws:
        ws.ingest([docs])
        answer = ws.ask("Combien de jours par semaine peut-on télétravailler ?")
    assert answer.language == "fr" and answer.text.startswith("Les documents indiquent : \u00ab")
