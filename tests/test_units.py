"""A bare number answer gets its passage's unit or currency back (fiable.trust.units)."""

from __future__ import annotations

import pytest

from fiable.trust.units import complete_number

TABLE = "City | Maximum per night\nLeeds | £110\nFrankfurt | €175\nParis | 180 €"
RATE = "London: £220 per night, breakfast included."
POLICY = ("Passwords must have at least 12 characters. Accounts lock after 8 failed sign-in "
          "attempts. Employees receive 27 working days of paid leave. Mailboxes hold 50 GB. "
          "Hotel limits may be exceeded by 50% during a trade fair. "
          "Le télétravail est possible 2 jours par semaine.")


@pytest.mark.parametrize(("answer", "expected"), [
    ("110", "£110"), ("175.", "€175."), ("180", "180 €"), ("12", "12 characters"),
    ("27", "27 working days"), ("50", "50 GB"), ("2", "2 jours"),
])
def test_a_bare_number_takes_the_unit_its_passage_gives_it(answer, expected):
    assert complete_number(answer, [TABLE, POLICY]) == expected


@pytest.mark.parametrize("answer", [
    "8",                    # "8 failed ...": no unit follows, the number stays bare
    "99",                   # not in the passages: left for the verifier
    "12 characters.",       # already more than a number
    "The limit is 110.",
    "",
])
def test_anything_else_is_left_as_written(answer):
    assert complete_number(answer, [TABLE, POLICY]) == answer


def test_a_unit_the_passage_qualifies_is_written_as_the_passage_writes_it():
    assert complete_number("27 days", [TABLE, POLICY]) == "27 working days"
    assert complete_number("27 days.", [POLICY]) == "27 working days."
    assert complete_number("27 weeks", [POLICY]) == "27 weeks"  # another unit: the verifier's
    assert complete_number("12 days", [POLICY]) == "12 days"  # not the passage's number
    assert complete_number("They get 27 days.", [POLICY]) == "They get 27 days."


def test_a_currency_is_kept_and_per_is_not_a_unit():
    assert complete_number("220", [RATE]) == "£220"


def test_a_longer_number_is_not_matched_inside_another():
    assert complete_number("10", ["Up to £1,100 a year, or 100 days."]) == "10"
    assert complete_number("1,100", ["Up to £1,100 a year."]) == "£1,100"
