"""A question in one language over documents in another ("Combien de jours de congés ?"
over an English handbook) reaches neither BM25 (no shared word) nor an English-only
embedder. :func:`translate_question` has the local model translate it into the documents'
language (one short call, a fixed one-example prompt, ``prompts/translate_*``); retrieval,
the answerability gates and the model read the translation (with the templates of the
question's language) where the best passage is in the documents' language, and
:mod:`fiable.crosslingual.answer` puts the answer back into the question's language. A
translation is kept only when it is a question in the documents' language, of sensible
length, with the question's digits; otherwise the question is searched as asked (``kept``
False, the raw output recorded for the trace).
"""

from __future__ import annotations

from typing import Sequence

from ..generators.base import Generator
from ..language import UNDETERMINED, detect_language
from ..retrieval import Hit, fuse
from .translate import Translation, translate

__all__ = ["Translation", "documents_language", "merge_hits", "translate_question"]


def documents_language(question: str, languages: Sequence[str]) -> tuple[str, str] | None:
    """(the question's language, the documents' main language) when they differ and both
    are known; None when the question is in the documents' main language or its language
    is unsure (a short or mixed question is searched as asked). ``languages``: the
    collections' chunk languages, most chunks first (``Store.languages``)."""
    if not languages:
        return None
    source, target = detect_language(question, default=UNDETERMINED), languages[0]
    if UNDETERMINED in (source, target) or source == target:
        return None
    return source, target


def merge_hits(translated: Sequence[Hit], asked: Sequence[Hit], k: int, rrf_k: int = 60
               ) -> list[Hit]:
    """The ``k`` best of two searches, by reciprocal rank (for collections that also hold
    documents in the question's language): a chunk both found keeps the translation's hit
    (its scores are the ones the gates read)."""
    fused = fuse([(h.chunk.id, h.score) for h in translated],
                 [(h.chunk.id, h.score) for h in asked], method="rrf", rrf_k=rrf_k)
    best = {h.chunk.id: h for h in asked} | {h.chunk.id: h for h in translated}
    return [best[cid] for cid, _ in fused[:k]]


def translate_question(question: str, source: str, target: str, generator: Generator, *,
                       prompt_dir: str | None = None) -> Translation:
    """``question`` translated from ``source`` into ``target`` by ``generator``."""
    return translate(question, source, target, generator, prompt="translate",
                     prompt_dir=prompt_dir)
