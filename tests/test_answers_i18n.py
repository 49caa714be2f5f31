"""Answers in the asker's language: templates, fixed messages, abstention, CLI messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from fiable import Workspace
from fiable.answer import Done
from fiable.citations import ABSTAIN_PATTERN
from fiable.errors import ConfigError
from fiable.generators.fake import FakeGenerator
from fiable.i18n import answer_language, format_number, interface_language, text
from fiable.settings import write_collection_settings
from fiable.templates import load_prompt
from tests.helpers import fake_workspace, run_cli

FRENCH = ("Congés annuels\n\nChaque salarié dispose de 27 jours ouvrés de congés payés par an. "
          "Les demandes de congés sont validées par le responsable dans le portail RH Corvane. "
          "Jusqu'à 5 jours non pris peuvent être reportés jusqu'au 31 mars de l'année suivante.\n")
ENGLISH = ("Annual leave\n\nEmployees get 27 working days of paid annual leave per year. "
           "Requests are approved by the line manager in the Corvane HR portal.\n")
QUESTION_FR = "Combien de jours de congés payés un salarié a-t-il par an ?"
QUESTION_EN = "How many days of paid annual leave do employees get per year?"
REFUSAL_FR = "Cette information ne figure pas dans les documents."


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "conges.txt").write_text(FRENCH, encoding="utf-8")
    (folder / "leave.txt").write_text(ENGLISH, encoding="utf-8")
    return folder


def _system(ws: Workspace, answer) -> str:
    return ws.history(trace_id=answer.trace_id)[0]["messages"][0]["content"]


def test_a_french_question_gets_the_french_prompt_and_notice(tmp_path, docs):
    with fake_workspace(tmp_path / "ws") as ws:
        ws.ingest([docs])
        fr = ws.ask(QUESTION_FR)
        en = ws.ask(QUESTION_EN)
        system_fr, system_en = _system(ws, fr), _system(ws, en)
        done = [e for e in ws.ask_stream(QUESTION_FR) if isinstance(e, Done)][0]
    assert fr.language == "fr" and en.language == "en"
    assert system_fr == load_prompt("answer_system", language="fr").text.strip()
    assert system_fr.startswith("Réponds en français")
    assert system_en == load_prompt("answer_system").text.strip()
    assert fr.prompt_version != en.prompt_version
    assert fr.notice.startswith("Réponse générée") and en.notice.startswith("AI-generated")
    assert not fr.abstained and fr.sources and fr.cited_sources  # citations unchanged
    user = done.messages[1]["content"]  # the exact prompt (history masks personal data)
    assert user.endswith(f"Question : {QUESTION_FR}") and "Passage 1 (" in user


def test_answer_language_setting_forces_one_language(tmp_path, docs):
    with fake_workspace(tmp_path / "ws", answer_language="en") as ws:
        ws.ingest([docs])
        answer = ws.ask(QUESTION_FR)
        assert answer.language == "en"
        assert _system(ws, answer) == load_prompt("answer_system").text.strip()


def test_answer_language_per_collection(tmp_path, docs):
    with fake_workspace(tmp_path / "ws") as ws:
        ws.ingest([docs], collection="rh")
    write_collection_settings(tmp_path / "ws", "rh", {"answer_language": "fr"})
    with Workspace.open(tmp_path / "ws", embedder="hashing", generator="fake",
                        min_relevance=0.05) as ws:
        assert ws.ask(QUESTION_EN, collections=["rh"]).language == "fr"


def test_bad_answer_language_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        fake_workspace(tmp_path / "ws", answer_language="klingon")
    assert "answer_language" in str(info.value) and "fr" in info.value.hint
    with pytest.raises(ConfigError) as info:
        write_collection_settings(tmp_path / "ws", "rh", {"answer_language": "xx"})
    assert "answer_language" in str(info.value)


def test_the_models_french_refusal_is_an_abstention_in_french(tmp_path, docs):
    ws = Workspace.open(tmp_path / "ws", create=True, embedder="hashing", min_relevance=0.0,
                        quote_min_coverage=1.5,  # the refusal itself, not the quote fallback
                        cross_lingual="off",  # one scripted response per question
                        generator=FakeGenerator(responses=["Je ne sais pas.", REFUSAL_FR]))
    with ws:
        ws.ingest([docs])
        for _ in range(2):
            answer = ws.ask(QUESTION_FR)
            assert answer.abstained and answer.text == REFUSAL_FR
            assert answer.generator_model  # the model was asked, then refused


def test_abstaining_before_generation_answers_in_the_questions_language(tmp_path, docs):
    gen = FakeGenerator(responses=[])
    with Workspace.open(tmp_path / "ws", create=True, embedder="hashing", generator=gen,
                        min_relevance=0.99, cross_lingual="off") as ws:  # no model call at all
        ws.ingest([docs])
        fr = ws.ask("Quelle est la politique de télétravail de l'entreprise ?")
        en = ws.ask("What is the remote work policy of the company?")
    assert fr.abstained and fr.text == REFUSAL_FR and fr.language == "fr"
    assert en.abstained and en.text == "Not in the documents."
    assert gen.calls == []


@pytest.mark.parametrize("reply", [
    REFUSAL_FR, "Je ne sais pas.", "Les passages ne mentionnent pas cette date.",
    "L'information ne figure pas dans les passages.", "Aucune information sur ce point.",
    "Not in the documents.", "I don't know.",
])
def test_refusals_in_both_languages_are_recognised(reply):
    assert ABSTAIN_PATTERN.match(reply)


@pytest.mark.parametrize("reply", [
    "Chaque salarié dispose de 27 jours de congés.", "Les passages indiquent 27 jours.",
    "La réponse est 27 jours.", "Employees get 27 days.",
])
def test_answers_are_not_mistaken_for_refusals(reply):
    assert not ABSTAIN_PATTERN.match(reply)


def test_language_choice_and_fixed_messages():
    assert answer_language(QUESTION_FR) == "fr" and answer_language(QUESTION_EN) == "en"
    assert answer_language(QUESTION_EN, "fr") == "fr"
    # too short to tell: the passages decide; no template for German: English
    assert answer_language("RH ?", passages=[FRENCH]) == "fr"
    assert answer_language("RH ?") == "en"
    assert answer_language("Wie viele Urlaubstage haben die Mitarbeiter pro Jahr?") == "en"
    assert text("not_in_documents", "fr") == REFUSAL_FR
    assert text("not_in_documents", "de") == "Not in the documents."
    assert text("answer_support", "fr", support="0,50", mode="flag").startswith("Appui")
    assert format_number(0.5, "fr") == "0,50" and format_number(0.5, "en") == "0.50"


def test_interface_language_from_setting_or_locale():
    assert interface_language("fr", {}) == "fr"
    assert interface_language("auto", {"LANG": "fr_FR.UTF-8"}) == "fr"
    assert interface_language("auto", {"LC_ALL": "en_GB.UTF-8", "LANG": "fr_FR.UTF-8"}) == "en"
    assert interface_language("auto", {"LANG": "C.UTF-8"}) == "en"
    assert interface_language("auto", {}) == "en"


def test_templates_fall_back_to_english_and_prompt_dir_overrides_per_language(tmp_path):
    assert load_prompt("answer_system", language="de").text == load_prompt("answer_system").text
    assert load_prompt("answer_user", language="fr").text.startswith("$passages")
    (tmp_path / "answer_system.fr.txt").write_text("Réponds comme un pirate.", encoding="utf-8")
    custom = load_prompt("answer_system", tmp_path, language="fr")
    assert custom.text == "Réponds comme un pirate." and str(tmp_path) in custom.origin
    assert load_prompt("answer_system", tmp_path).text == load_prompt("answer_system").text
    with pytest.raises(ConfigError):
        load_prompt("no_such_template", language="fr")


def test_cli_speaks_french_when_asked(tmp_path, docs, capsys, monkeypatch):
    monkeypatch.setenv("FIABLE_EMBEDDER", "hashing")
    monkeypatch.setenv("FIABLE_GENERATOR", "fake")
    monkeypatch.setenv("FIABLE_MIN_RELEVANCE", "0.05")
    ws = str(tmp_path / "ws")
    assert run_cli(capsys, "-w", ws, "init")[0] == 0
    assert run_cli(capsys, "-w", ws, "ingest", str(docs))[0] == 0
    monkeypatch.setenv("FIABLE_LANG", "fr")
    code, out, _ = run_cli(capsys, "-w", ws, "ask", QUESTION_FR)
    assert code == 0 and "Sources :" in out and "Réponse citée" not in out
    # one disclosure line, in the answer's language
    assert [line for line in out.splitlines() if "IA" in line] == [
        "Généré par IA avec fake-extractive à partir de vos documents ; recherche par "
        "hashing-64."]
    monkeypatch.setenv("FIABLE_LANG", "en")
    code, out, _ = run_cli(capsys, "-w", ws, "ask", QUESTION_FR)
    assert code == 0 and "Sources:" in out and "Model: " not in out
    monkeypatch.setenv("FIABLE_LANG", "auto")
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    code, out, _ = run_cli(capsys, "-w", ws, "ask", QUESTION_EN)
    assert code == 0 and "Sources :" in out


# -- the verifier's French rules and the French answer metric -------------------------------
EVIDENCE_FR = ("Le contrat a été signé le 12 mars 2024 par l'entreprise Airbus. Le prix est de "
               "3,5 millions d'euros et 1 000 salariés sont concernés. Douze sites ferment.")


def test_french_numbers_and_dates_are_compared_in_any_spelling():
    from fiable.trust.signals import missing_numbers

    for same in ("Il a été signé le 12/03/2024.", "Signé en mars 2024.", "Signed March 12, 2024.",
                 "Le prix est de 3.5 millions.", "Mille salariés, 12 sites.", "douze sites"):
        assert missing_numbers(same, EVIDENCE_FR) == [], same
    assert missing_numbers("Signé le 15 avril 2023.", EVIDENCE_FR) == ["2023-04-15"]
    assert missing_numbers("Signé en avril 2024.", EVIDENCE_FR) == ["2024-04-?"]
    assert missing_numbers("Le prix est de 4 millions.", EVIDENCE_FR) == ["4"]
    # the verb "may" is no month
    assert missing_numbers("Up to 5 may be carried over.", "Up to 5 days.") == []


def test_french_names_elisions_and_stemming():
    from fiable.trust.signals import evidence_language, lexical_support, missing_entities

    assert evidence_language(EVIDENCE_FR) == "fr"
    assert missing_entities("Le contrat a été signé par Boeing.", EVIDENCE_FR) == ["boeing"]
    assert missing_entities("Signé avec l'accord d'Airbus.", EVIDENCE_FR) == []
    assert lexical_support("Les salariés concernés sont mille.", EVIDENCE_FR) == 1.0
    assert lexical_support("Le salarié concerné signe.", EVIDENCE_FR) == 1.0  # stems
    assert lexical_support("Les bananes poussent vite.", EVIDENCE_FR) == 0.0
    # French stop words do not count as shared content
    assert lexical_support("Les usines de la région sont dans le nord.", EVIDENCE_FR) < 0.3


def test_french_answer_normalisation():
    from fiable.evaluation.metrics import exact_match, normalize_answer, token_f1

    assert normalize_answer("L'Église de la Madeleine, à Paris.", "fr") == "eglise de madeleine a paris"
    assert exact_match("l'église Saint-Sulpice", ["Église Saint-Sulpice"], "fr") == 1.0
    assert exact_match("l'église Saint-Sulpice", ["Église Saint-Sulpice"]) == 0.0  # English rules
    assert token_f1("C'est la Chine.", ["Chine"], "fr") == pytest.approx(0.5)  # c est chine
    assert token_f1("The Danube", ["Danube"]) == 1.0  # English unchanged


# -- docs/multilingual.md ---------------------------------------------------------------------
def test_multilingual_doc_answers_example_runs(tmp_path):
    import os
    import re
    import subprocess
    import sys

    doc = (Path(__file__).resolve().parents[1] / "docs" / "multilingual.md").read_text("utf-8")
    section = doc.split("\n## Answers\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    env = {**os.environ, "FIABLE_EMBEDDER": "hashing", "FIABLE_GENERATOR": "fake"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "fr Réponse générée par une IA : vérifiez les sources citées.",
        "en AI-generated answer: check the cited sources."]


def test_a_french_answer_discloses_its_models_in_french(tmp_path, docs):
    with fake_workspace(tmp_path / "ws") as ws:
        ws.ingest([docs])
        fr, en = ws.ask(QUESTION_FR), ws.ask(QUESTION_EN)
    assert fr.disclosure.startswith("Généré par IA avec") and "fake-extractive" in fr.disclosure
    assert en.disclosure.startswith("AI-generated by")
