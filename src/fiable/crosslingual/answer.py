"""The answer in the question's language. A small model reading English passages for a
French question often answers in the passages' words ("27 working days"); each such
sentence is translated into the question's language after it was cited and verified
against the passages (one short call a sentence). The sentence keeps its citations, its
support and its label; the verified original stays in ``checks["original"]``. A
translation that is not kept (wrong language, a number changed, runaway length) leaves
the sentence as the model wrote it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

from ..answer import AnswerSentence
from ..generators.base import Generator
from ..language import UNDETERMINED, detect_language
from .translate import Translation, translate

__all__ = ["answer_in_language"]

_WORD = re.compile(r"[^\W\d_]{3,}")  # a word to translate: "7110" or "€0.42" need none


def answer_in_language(sentences: Sequence[AnswerSentence], language: str, written_in: str,
                       generator: Generator, *, prompt_dir: str | None = None
                       ) -> tuple[list[AnswerSentence], list[Translation]]:
    """``sentences`` with those not in ``language`` translated from ``written_in`` (the
    passages' language); also every translation made, kept or not."""
    out: list[AnswerSentence] = []
    made: list[Translation] = []
    for sentence in sentences:
        if (sentence.method == "quote" or not _WORD.search(sentence.text)
                or detect_language(sentence.text, default=UNDETERMINED,
                                   min_confidence=0.5) == language):
            out.append(sentence)  # a quote is shown verbatim; a number needs no translation
            continue
        translation = translate(sentence.text, written_in, language, generator,
                                prompt="translate_answer", prompt_dir=prompt_dir)
        made.append(translation)
        out.append(dataclasses.replace(
            sentence, text=translation.text,
            checks={**sentence.checks, "original": sentence.text}) if translation.kept else sentence)
    return out, made
