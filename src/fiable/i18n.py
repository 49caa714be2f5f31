"""Fixed texts per language, and which language an answer or an interface speaks.

- :func:`text` gives a fixed message (the abstention, the AI notice, the CLI's headings)
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
        "uncited_sentences": "Sentences without a supporting passage:",
        "unsupported_sentences": "Sentences the cited passages do not support (check them):",
        "support_value": "support {support}",
        "answer_support": "Answer support: {support} (verification: {mode})",
        "sources": "Sources:",
        "cited_answer": "Cited answer: ",
        "injected_passages": "Passages with instructions aimed at the assistant ({action}): ",
        "models": "Model: {model}; embedder: {embedder}.",
        "no_generation": "none (no generation)",
        "chat_intro": "Ask a question about your documents (empty line to quit).",
    },
    "fr": {
        "not_in_documents": "Cette information ne figure pas dans les documents.",
        "ai_notice": "Réponse générée par une IA : vérifiez les sources citées.",
        "closest_passages": "Passages les plus proches :",
        "uncited_sentences": "Phrases sans passage à l'appui :",
        "unsupported_sentences": "Phrases que les passages cités n'étayent pas (à vérifier) :",
        "support_value": "appui {support}",
        "answer_support": "Appui de la réponse : {support} (vérification : {mode})",
        "sources": "Sources :",
        "cited_answer": "Réponse citée : ",
        "injected_passages": "Passages contenant des instructions adressées à l'assistant "
                             "({action}) : ",
        "models": "Modèle : {model} ; embeddings : {embedder}.",
        "no_generation": "aucun (pas de génération)",
        "chat_intro": "Posez une question sur vos documents (ligne vide pour quitter).",
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
