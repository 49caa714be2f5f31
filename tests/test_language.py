"""Language detection (fiable.language): offline, restricted to the served languages."""

from __future__ import annotations

import pytest

from fiable.language import LANGUAGES, detect_language, language_scores


@pytest.mark.parametrize("text, expected", [
    ("Combien de jours de congés payés ai-je par an ?", "fr"),
    ("How many days of paid leave do employees get?", "en"),
    ("Wie viele Urlaubstage haben die Mitarbeiter?", "de"),
    ("¿Cuántos días de vacaciones tienen los empleados?", "es"),
])
def test_detects_the_language_of_a_question(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "ok", "42", "   ", "?!"])
def test_too_short_or_empty_text_gets_the_default(text: str) -> None:
    assert detect_language(text, default="fr") == "fr"


def test_ambiguous_text_keeps_the_default_below_the_confidence() -> None:
    mixed = "What is la tour Eiffel?"
    assert detect_language(mixed, default="en", min_confidence=0.99) == "en"
    assert detect_language(mixed, default="xx", min_confidence=0.99) == "xx"


def test_scores_cover_only_served_languages_and_sum_to_one() -> None:
    scores = language_scores("Le contrat de travail précise la durée de la période d'essai.")
    assert {code for code, _ in scores} == set(LANGUAGES)
    assert scores[0][0] == "fr"
    assert abs(sum(p for _, p in scores) - 1.0) < 1e-6
