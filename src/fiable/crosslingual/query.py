"""A question in one language over documents in another ("Combien de jours de congés ?"
over an English handbook) reaches neither BM25 (no shared word) nor an English-only
embedder. :func:`translate_question` has the local model translate it into the documents'
language (one short call, a fixed one-example prompt, ``prompts/translate_*``); retrieval
and the answerability gates read the translation, the model still reads the question as
asked and answers in its language. A translation is kept only when it is in the documents'
language, of sensible length, and keeps the question's numbers; otherwise the question is
searched as asked (``kept`` False, the raw output recorded for the trace).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Sequence

from ..generators.base import ChatMessage, GenerationOptions, Generator
from ..language import UNDETERMINED, detect_language
from ..retrieval import Hit
from ..templates import load_prompt

__all__ = ["Translation", "documents_language", "merge_hits", "translate_question"]

LANGUAGE_NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish",
                  "it": "Italian", "nl": "Dutch", "pt": "Portuguese"}
_MAX_CHARS = 400
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_LABEL = re.compile(r"^\s*(translation|traduction|question|english|anglais)\s*:\s*", re.I)


@dataclass(frozen=True, slots=True)
class Translation:
    """``question`` (in ``source``) as searched in ``target``: ``text`` when ``kept``."""

    question: str
    source: str
    target: str
    text: str
    kept: bool
    seconds: float
    raw: str = ""

    @property
    def query(self) -> str:
        """What retrieval and the gates read."""
        return self.text if self.kept else self.question

    def to_dict(self) -> dict[str, object]:
        return {"question": self.question, "source": self.source, "target": self.target,
                "text": self.text, "kept": self.kept, "seconds": round(self.seconds, 4),
                "raw": self.raw}


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
    scores: dict[int, float] = {}
    best: dict[int, Hit] = {}
    for hits in (translated, asked):
        for rank, hit in enumerate(hits, start=1):
            scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + 1.0 / (rrf_k + rank)
            best.setdefault(hit.chunk.id, hit)
    return [best[i] for i in sorted(scores, key=lambda i: -scores[i])[:k]]


def translate_question(question: str, source: str, target: str, generator: Generator, *,
                       prompt_dir: str | None = None) -> Translation:
    """``question`` translated from ``source`` into ``target`` by ``generator``."""
    started = time.perf_counter()
    names = {"target": LANGUAGE_NAMES.get(target, target)}
    system = load_prompt("translate_system", prompt_dir).render(**names).strip()
    example = load_prompt("translate_example", prompt_dir).text
    french, english = (part.strip() for part in example.split("---"))
    asked, translated = (english, french) if target == "fr" else (french, english)
    messages = [ChatMessage("system", system), ChatMessage("user", asked),
                ChatMessage("assistant", translated),
                ChatMessage("user", " ".join(question.split())[:_MAX_CHARS])]
    options = GenerationOptions(max_tokens=64, temperature=0.0, stop=("\n",))
    raw = "".join(generator.stream(messages, options)).strip()
    text = _LABEL.sub("", raw.splitlines()[0] if raw else "").strip().strip('"“”«»').strip()
    kept = _keeps(text, question, target)
    return Translation(question, source, target, text if kept else "", kept,
                       time.perf_counter() - started, raw)


def _keeps(text: str, question: str, target: str) -> bool:
    """A translation worth searching: of sensible length, in ``target`` (or too short to
    tell), not the question itself, keeping every number of the question."""
    if not text or len(text) > min(_MAX_CHARS, 2 * len(question) + 40) or len(text) < 4:
        return False
    if text.casefold() == question.strip().casefold():
        return False
    language = detect_language(text, default=UNDETERMINED, min_confidence=0.5)
    if language not in (target, UNDETERMINED):
        return False
    numbers = {n.replace(",", ".") for n in _NUMBER.findall(question.replace("\u202f", "").replace(" ", ""))}
    found = {n.replace(",", ".") for n in _NUMBER.findall(text.replace(",", "").replace(" ", ""))}
    return numbers <= found or not numbers
