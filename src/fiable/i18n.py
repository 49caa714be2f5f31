"""Fixed texts per language, and which language an answer or an interface speaks.

- :func:`text` gives a fixed message (the abstention and why, the AI notice, the CLI's headings)
  in one of :data:`TEXT_LANGUAGES`, English for any other language;
- :func:`answer_language` picks the language an answer is written in: the
  ``answer_language`` setting, or with ``auto`` the question's language (the passages'
  when the question is too short to tell), among :data:`ANSWER_LANGUAGES` (the languages
  with prompt templates), English otherwise;
- :func:`interface_language` picks the CLI's language: the ``lang`` setting
  (``FIABLE_LANG``), or with ``auto`` the POSIX locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``);
- :func:`format_number` writes a number the way the language does (``0.85`` / ``0,85``).

    >>> text("not_in_documents", "fr")
    'Cette information ne figure pas dans les documents.'
    >>> answer_language("Combien de jours de congés ai-je par an ?", "auto")
    'fr'
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from .answer import AI_NOTICE, NOT_IN_DOCUMENTS

__all__ = ["ANSWER_LANGUAGES", "TEXT_LANGUAGES", "answer_language", "format_number",
           "interface_language", "text"]

ANSWER_LANGUAGES: tuple[str, ...] = ("en", "fr")
TEXT_LANGUAGES: tuple[str, ...] = ("en", "fr")

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "not_in_documents": NOT_IN_DOCUMENTS,
        "ai_notice": AI_NOTICE,
        "closest_passages": "Closest passages:",
        # the model gave no answer; a passage sentence answering the question is quoted
        "quote_intro": "The documents say: \u201c{quote}\u201d",
        "uncited_sentences": "Sentences without a supporting passage:",
        "unsupported_sentences": "Sentences the cited passages do not support (check them):",
        "support_value": "support {support}",
        "answer_support": "Answer support: {support} (verification: {mode})",
        "sources": "Sources:",
        "injected_passages": "Passages with instructions aimed at the assistant ({action}): ",
        "chat_intro": "Ask a question about your documents (empty line to quit).",
        "understood_as": "(understood as: {question})",
        "chat_resume": "Conversation {id}: continue it later with `fiable chat --resume {id}`.",
        # why an answer abstained, in plain words (Answer.explanation, fiable.refusals)
        "refusal_no_passages": "There was nothing to search: the collections you can read "
                               "hold no documents.",
        "refusal_low_relevance": "Your documents do not seem to cover this question: the "
                                 "closest passages are about something else.",
        "refusal_not_answerable": "The closest passages are on this topic but do not say this.",
        "refusal_model_refused": "The closest passages were read, and they do not contain the "
                                 "answer.",
        "refusal_unsupported": "An answer was drafted, but the passages do not back it, so it "
                               "is not shown.",
        "refusal_question_reveal": "This question asks for the assistant's own instructions, "
                                   "which are not part of your documents.",
        "refusal_unknown": "Your documents do not answer this question, so no answer was "
                           "written.",
    },
    "fr": {
        "not_in_documents": "Cette information ne figure pas dans les documents.",
        "ai_notice": "Réponse générée par une IA : vérifiez les sources citées.",
        "closest_passages": "Passages les plus proches :",
        "quote_intro": "Les documents indiquent : \u00ab\u00a0{quote}\u00a0\u00bb",
        "uncited_sentences": "Phrases sans passage à l'appui :",
        "unsupported_sentences": "Phrases que les passages cités n'étayent pas (à vérifier) :",
        "support_value": "appui {support}",
        "answer_support": "Appui de la réponse : {support} (vérification : {mode})",
        "sources": "Sources :",
        "injected_passages": "Passages contenant des instructions adressées à l'assistant "
                             "({action}) : ",
        "chat_intro": "Posez une question sur vos documents (ligne vide pour quitter).",
        "understood_as": "(compris comme : {question})",
        "chat_resume": "Conversation {id} : reprenez-la avec `fiable chat --resume {id}`.",
        "refusal_no_passages": "Il n'y avait rien à consulter : les collections que vous "
                               "pouvez lire ne contiennent aucun document.",
        "refusal_low_relevance": "Vos documents ne semblent pas traiter cette question : les "
                                 "passages les plus proches portent sur autre chose.",
        "refusal_not_answerable": "Les passages les plus proches portent sur ce sujet, mais ne "
                                  "disent pas cela.",
        "refusal_model_refused": "Les passages les plus proches ont été lus, et ils ne "
                                 "contiennent pas la réponse.",
        "refusal_unsupported": "Une réponse a été rédigée, mais les passages ne l'étayent pas : "
                               "elle n'est donc pas affichée.",
        "refusal_question_reveal": "Cette question demande les instructions de l'assistant, "
                                   "qui ne font pas partie de vos documents.",
        "refusal_unknown": "Vos documents ne répondent pas à cette question : aucune réponse "
                           "n'a donc été rédigée.",
    },
}


def text(key: str, language: str, **values: str) -> str:
    """The fixed message ``key`` in ``language`` (English when it has none), filled with
    ``values``. An unknown key is a programming error: KeyError."""
    table = _TEXTS.get(language, _TEXTS["en"])
    template = table.get(key, _TEXTS["en"][key])
    return template.format(**values) if values else template


def answer_language(question: str, setting: str = "auto", passages: Sequence[str] = ()) -> str:
    """The language to answer ``question`` in (see module docstring). ``setting`` is
    ``auto`` or an ISO 639-1 code; ``passages`` decide when the question alone cannot."""
    if setting != "auto":
        return setting if setting in ANSWER_LANGUAGES else "en"
    from .language import UNDETERMINED, detect_language

    language = detect_language(question, default=UNDETERMINED)
    if language == UNDETERMINED and passages:
        language = detect_language(" ".join(p[:500] for p in passages[:3]), default=UNDETERMINED)
    return language if language in ANSWER_LANGUAGES else "en"


def interface_language(setting: str = "auto", environ: Mapping[str, str] | None = None) -> str:
    """The CLI's language: ``setting`` unless ``auto``, else the first of ``LC_ALL``,
    ``LC_MESSAGES``, ``LANG`` that is set (``fr_FR.UTF-8`` -> ``fr``), among
    :data:`TEXT_LANGUAGES`; English otherwise."""
    if setting != "auto":
        return setting if setting in TEXT_LANGUAGES else "en"
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            code = value.split(".")[0].split("_")[0].split("-")[0].lower()
            return code if code in TEXT_LANGUAGES else "en"
    return "en"


def format_number(value: float, language: str, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, a decimal comma in French."""
    out = f"{value:.{digits}f}"
    return out.replace(".", ",") if language == "fr" else out
