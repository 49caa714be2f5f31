"""Reusable contract tests for every ``Verifier`` (see ``fiable.trust.verifier``).

Subclass ``VerifierContract`` and override the ``verifier`` fixture.
"""

from __future__ import annotations

import pytest

from fiable.trust.verifier import Claim

PASSAGE = ("Employees get 27 working days of paid annual leave per year. Up to 5 unused days "
           "may be carried over into the next year and must be taken by 31 March. Requests "
           "are approved by the line manager in the Corvane HR portal.")

PASSAGE_FR = ("Chaque salarié dispose de 27 jours ouvrés de congés payés par an. Jusqu'à cinq jours "
              "non pris peuvent être reportés et doivent être posés avant le 31 mars 2025. La prime "
              "annuelle s'élève à 1 250,50 euros, soit 3,5 % du salaire. Les demandes sont validées "
              "par le responsable dans le portail RH de Corvane.")


class VerifierContract:
    @pytest.fixture
    def verifier(self):  # pragma: no cover - overridden
        pytest.fail("subclasses of VerifierContract provide the verifier fixture")

    def check(self, verifier, sentences, evidence=(PASSAGE,)):
        supports = verifier.verify([Claim(s, tuple(evidence)) for s in sentences])
        assert len(supports) == len(sentences)
        for s in supports:
            assert 0.0 <= s.score <= 1.0
            assert s.label in ("supported", "partly", "unsupported")
        return supports

    def test_copied_sentences_are_supported(self, verifier):
        for s in self.check(verifier, [
            "Employees get 27 working days of paid annual leave per year.",
            "Requests are approved by the line manager in the Corvane HR portal.",
        ]):
            assert s.label == "supported", s

    def test_wrong_numbers_and_names_are_not_supported(self, verifier):
        right, wrong_number, wrong_name = self.check(verifier, [
            "Up to 5 unused days may be carried over into the next year.",
            "Up to 12 unused days may be carried over into the next year.",
            "Requests are approved by the line manager in the Workday portal of Acme.",
        ])
        assert wrong_number.label != "supported" and wrong_number.score < right.score
        assert wrong_name.label != "supported" and wrong_name.score < right.score

    def test_unrelated_sentence_is_unsupported(self, verifier):
        (s,) = self.check(verifier, ["The Eiffel Tower was completed in Paris in 1889."])
        assert s.label == "unsupported"

    def test_odd_input_does_not_raise(self, verifier):
        empty_evidence, no_words, _ = self.check(verifier, ["Some claim.", "…", "x"], evidence=("",))
        assert empty_evidence.label == "unsupported" and no_words.label == "unsupported"
        assert verifier.verify([]) == []

    def test_order_is_kept(self, verifier):
        sentences = ["The Eiffel Tower is in Paris.",
                     "Employees get 27 working days of paid annual leave per year."]
        first, second = self.check(verifier, sentences)
        (alone,) = self.check(verifier, sentences[1:])
        assert second.score == pytest.approx(alone.score, abs=1e-6)
        assert first.score < second.score

    # French: numbers ("3,5", "1 250,50", "cinq"), dates ("31 mars 2025"), names, stemming
    def test_french_copied_and_reworded_sentences_are_supported(self, verifier):
        for s in self.check(verifier, [
            "Chaque salarié dispose de 27 jours ouvrés de congés payés par an.",
            "Les demandes sont validées par le responsable dans le portail RH de Corvane.",
            "La prime annuelle s'élève à 1250,50 euros.",
            "Les 5 jours reportés doivent être posés avant le 31/03/2025.",
        ], evidence=(PASSAGE_FR,)):
            assert s.label == "supported", s

    def test_french_wrong_numbers_dates_and_names_are_not_supported(self, verifier):
        right, *wrong = self.check(verifier, [
            "Jusqu'à cinq jours non pris peuvent être reportés.",
            "Jusqu'à douze jours non pris peuvent être reportés.",
            "Les jours reportés doivent être posés avant le 30 avril 2025.",
            "La prime annuelle s'élève à 3,8 % du salaire.",
            "Les demandes sont validées par le responsable dans le portail RH d'Acme.",
        ], evidence=(PASSAGE_FR,))
        for s in wrong:
            assert s.label != "supported" and s.score < right.score, s

    def test_a_value_attached_to_the_wrong_thing_is_not_supported(self, verifier):
        hotels = ("Travel policy > Hotels\nHotel rates per night: the company pays up to the rate "
                  "of the city.\nCity | Maximum rate per night\nParis | €220\nLyon | €150\n"
                  "Berlin | €180")
        mileage = ("Travel policy > Mileage\nMileage: private cars used for a business trip are "
                   "reimbursed at €0.37 per kilometre.")
        question = "What is the maximum hotel rate per night for a business trip to Paris?"
        said = "The maximum hotel rate per night for a business trip to Paris is {}."
        right, kilometre, madrid = verifier.verify([
            Claim(said.format("€220"), (hotels, mileage), question),
            Claim(said.format("€0.37 per kilometre"), (hotels, mileage), question),
            Claim(said.format("€180").replace("Paris", "Madrid"), (hotels, mileage),
                  question.replace("Paris", "Madrid")),
        ])
        assert right.label == "supported", right
        assert kilometre.label == "unsupported" and madrid.label == "unsupported"

    def test_a_number_with_another_unit_is_not_supported(self, verifier):
        right, days = self.check(verifier, [
            "Employees get 27 working days of paid annual leave per year.",
            "Employees get 27 days of paid annual leave per year.",
        ])
        assert days.label != "supported" and days.score < right.score
        assert days.details["unit_mismatch"] == ["27"]
