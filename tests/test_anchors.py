"""Where a sentence's values stand in its evidence (issue 23): the value gaps the verifier reads."""

from __future__ import annotations

import numpy as np

from fiable.trust.anchors import (evidence_lines, excluded_names, holders, lexical_gap, rate_mismatch,
                                  similarity_gap, values_of)

HOTELS = ("Hotel rates per night: the company pays up to the rate of the city.\n"
          "City | Maximum rate per night\nParis | €220\nLyon | €150\nBerlin | €180")
MILEAGE = "Mileage: private cars used for a business trip are reimbursed at €0.37 per kilometre."
DESK = ("Service desk response times\nPriority | First response | Target resolution\n"
        "P1 | 15 minutes | 4 hours\nP2 | 1 hour | 1 working day")
HOTEL = "What is the maximum hotel rate per night for a business trip to Paris?"


def gap(sentence: str, question: str, *evidence: str) -> float:
    lines = evidence_lines(evidence)
    values = values_of(sentence, question)
    return lexical_gap(values.rest, lines, holders(values, lines), "en", values)


def test_a_table_row_is_read_with_its_caption_and_header():
    lines = evidence_lines([HOTELS, MILEAGE])
    assert lines.texts[2] == "Paris | €220" and lines.windows[2] == (0, 1, 2)
    assert lines.headers[2] == 1 and lines.headers[0] == -1 and lines.windows[5] == (5,)
    # a sentence repeated in two passages is kept once
    assert len(evidence_lines([MILEAGE, MILEAGE]).texts) == 1


def test_the_values_are_what_the_sentence_states_beyond_the_question():
    v = values_of("The maximum hotel rate per night for a business trip to Paris is €220.", HOTEL)
    assert v.numbers == {"220"} and not v.names and "220" not in v.rest and "Paris" in v.rest
    named = values_of("The trip was approved by Claire Dubois.", "Who approved the trip to Paris?")
    assert named.names == {"claire", "dubois"} and "Dubois" not in named.rest
    bare = values_of("23 years", "By how many years does the regatta predate the game?")
    assert bare.rest.startswith("By how many years")  # a bare value is about the question
    assert not values_of("The policy applies to everyone.", HOTEL)


def test_a_value_from_the_sentence_about_something_else_has_a_gap():
    right = "The maximum hotel rate per night for a business trip to Paris is €220."
    assert gap(right, HOTEL, HOTELS, MILEAGE) == 0.0
    mileage = "The maximum hotel rate per night for a business trip to Paris is €0.37 per kilometre."
    assert gap(mileage, HOTEL, HOTELS, MILEAGE) >= 0.2  # "business trip" is in both
    lyon = "The maximum hotel rate per night for a business trip to Paris is €150."
    assert gap(lyon, HOTEL, HOTELS, MILEAGE) >= 0.2  # another row


def test_a_value_of_another_column_does_not_borrow_its_neighbours_header():
    question = "What is the first response time for P1?"
    assert gap("The first response time for P1 is 15 minutes.", question, DESK) == 0.0
    assert gap("The first response time for P1 is 4 hours.", question, DESK) > 0.0


def test_a_row_whose_label_says_more_than_the_question_is_not_the_best_match():
    limits = ("Expense limits\nExpense | Limit\nHotel, per night, in France outside Paris | €120\n"
              "Hotel, per night, in Paris | €180\nLunch while travelling | €25")
    question = "What is the hotel limit per night in Paris?"
    assert gap("€180", question, limits) == 0.0
    assert gap("€120", question, limits) >= 0.15  # the row of France outside Paris


def test_no_value_or_no_holder_means_no_gap():
    assert gap("The policy applies to everyone.", HOTEL, HOTELS) == 0.0
    assert gap("The rate in Paris is €95.", HOTEL, HOTELS) == 0.0  # missing: the number check's job
    lines = evidence_lines([HOTELS])
    assert similarity_gap(np.ones(3), np.zeros((0, 3)), lines, [2]) == 0.0
    assert similarity_gap(np.ones(3), np.ones((5, 3)), lines, []) == 0.0


def test_the_similarity_gap_compares_the_best_sentence_with_the_best_holder_window():
    lines = evidence_lines([HOTELS, MILEAGE])
    rest = np.array([1.0, 0.0])
    vectors = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.2, 0.8], [0.2, 0.8], [0.1, 0.9]])
    assert similarity_gap(rest, vectors, lines, [2]) == 0.0  # the caption is in the row's window
    assert abs(similarity_gap(rest, vectors, lines, [5]) - 0.8) < 1e-9  # the mileage line: 0.9 - 0.1


def rates(sentence: str, question: str, *evidence: str) -> tuple[str, ...]:
    lines = evidence_lines(evidence)
    values = values_of(sentence, question)
    return rate_mismatch(sentence, lines, holders(values, lines), values)


def test_a_value_whose_rate_disagrees_with_what_the_sentence_measures():
    said = "The maximum hotel rate per night for a business trip to Paris is {}."
    assert rates(said.format("€0.37 per kilometre"), HOTEL, HOTELS, MILEAGE) == ("night",)
    assert rates(said.format("€220"), HOTEL, HOTELS, MILEAGE) == ()  # the header says per night
    # a holder that states no rate, or every rate of the sentence, is no mismatch
    assert rates("Lunch costs €25 per day.", "", "Lunch | €25") == ()
    assert rates("Team events cost €35 per person, twice per year.", "",
                 "Team celebration | €35 per person | Twice per year per team") == ()
    assert rates("Le plafond par nuit est de 0,37 € par kilomètre.", "",
                 "Les frais kilométriques sont remboursés 0,37 € par kilomètre.") == ("nuit",)


def test_a_name_the_value_sentence_excludes_is_found():
    limits = ("Expense | Limit\nHotel, per night, in France outside Paris | €120\n"
              "Hotel, per night, in Paris | €180")
    question = "What is the maximum hotel rate per night in Paris?"
    lines = evidence_lines([limits])
    for answer, expected in (("€120", ("paris",)), ("€180", ()),
                             ("The hotel rate in Paris is €120.", ("paris",))):
        values = values_of(answer, question)
        assert excluded_names(answer, lines, holders(values, lines), values) == expected
    french = evidence_lines(["Tous les sites sauf Lyon ferment à 18 h."])
    values = values_of("18 h", "À quelle heure ferme le site de Lyon ?")
    assert excluded_names("18 h", french, holders(values, french), values) == ("lyon",)
