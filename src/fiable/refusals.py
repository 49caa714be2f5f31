"""Why an answer abstained, in plain words for the person who asked.

An abstaining :class:`~fiable.answer.Answer` carries a stable ``abstain_code`` (see
:data:`~fiable.answer.ABSTAIN_CODES`); :func:`explanation` turns it into a sentence in the
answer's language (``fiable.i18n``'s ``refusal_<code>`` texts). The technical
``abstain_reason`` ("best passage similarity 0.22 < min_relevance 0.30") stays for
``fiable ask --explain`` and the logs.

An answer recorded before the codes existed has none: :func:`abstain_code` then reads the
code off its ``abstain_reason``, and a reason it does not know gets a general sentence.

    >>> explanation_for("low_relevance", "en")
    'Your documents do not seem to cover this question: the closest passages are about something else.'
    >>> abstain_code_of("best passage similarity 0.05 < min_relevance 0.30")
    'low_relevance'
"""

from __future__ import annotations

from typing import Any

from .answer import ABSTAIN_CODES
from .i18n import text

__all__ = ["abstain_code", "abstain_code_of", "explanation", "explanation_for"]

# the start of the pipeline's abstain_reason for each code (answers recorded without a code)
_REASONS: tuple[tuple[str, str], ...] = (
    ("no passage found", "no_passages"),
    ("best passage similarity", "low_relevance"),
    ("p(answerable)", "not_answerable"),
    ("the model found no answer", "model_refused"),
    ("answer support", "unsupported"),
    ("the question asks for the assistant's instructions", "question_reveal"),
)


def abstain_code_of(reason: str | None) -> str | None:
    """The code of a technical ``abstain_reason`` written by the pipeline, or None.
    Merged answers (``ask --experts``: ``part 1: ...; part 2: ...``) give the first part's."""
    if not reason:
        return None
    for part in reason.split("; "):
        head, sep, rest = part.partition(": ")
        said = rest if sep and head.startswith("part ") else part
        for start, code in _REASONS:
            if said.lower().startswith(start):
                return code
    return None


def abstain_code(answer: Any) -> str | None:
    """The answer's ``abstain_code``, else the one its ``abstain_reason`` shows; None when
    it answered (``answer`` is an :class:`~fiable.answer.Answer` or its ``to_dict()``)."""
    get = answer.get if isinstance(answer, dict) else lambda k: getattr(answer, k, None)
    if not get("abstained"):
        return None
    code = get("abstain_code")
    return code if code in ABSTAIN_CODES else abstain_code_of(get("abstain_reason"))


def explanation_for(code: str | None, language: str = "en") -> str:
    """The plain-language sentence for ``code`` in ``language`` (English when it has no
    translation); a general one for None or an unknown code."""
    key = f"refusal_{code}" if code in ABSTAIN_CODES else "refusal_unknown"
    return text(key, language)


def explanation(answer: Any) -> str | None:
    """Why ``answer`` abstained, in plain words in its language; None when it answered."""
    get = answer.get if isinstance(answer, dict) else lambda k: getattr(answer, k, None)
    if not get("abstained"):
        return None
    return explanation_for(abstain_code(answer), get("language") or "en")
