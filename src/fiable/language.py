"""Language of a text: ISO 639-1 codes (``"en"``, ``"fr"``...) for documents, chunks and
questions, offline (py3langid's bundled model, restricted to the languages fiable serves).

    >>> detect_language("Combien de jours de congés ai-je ?")
    'fr'

Short or ambiguous texts (below ``min_confidence``) get ``default``: a two-word question is
not evidence enough to switch the answer's language.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["LANGUAGES", "UNDETERMINED", "detect_language", "language_scores"]

# The European enterprise languages fiable serves (stemmers, prompts, messages exist or fall
# back to English for the others).
LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es", "it", "nl", "pt")
UNDETERMINED = "und"


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def language_scores(text: str) -> list[tuple[str, float]]:
    """Every served language with its probability for ``text``, most likely first."""
    ranked = _identifier().rank(text)
    return [(str(code), float(p)) for code, p in ranked]


def detect_language(text: str, *, default: str = "en", min_confidence: float = 0.8) -> str:
    """The language of ``text`` (ISO 639-1), or ``default`` when the text is empty, too short
    (under 3 letters) or the best guess is below ``min_confidence``."""
    letters = sum(ch.isalpha() for ch in text)
    if letters < 3:
        return default
    code, probability = _identifier().classify(text)
    return str(code) if probability >= min_confidence else default
