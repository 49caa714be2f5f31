"""A deterministic generator without a model, for tests and demos.

Two modes:

- ``FakeGenerator(responses=[...])`` ("fake-scripted") answers each call with the next
  scripted response; a call after the last one raises :class:`GeneratorError`.
- ``FakeGenerator.extractive()`` ("fake-extractive") answers from the passages of the last
  user message, written as the RAG prompt builder writes them::

      Passage 1 (Leave policy, Annual leave, page 2):
      Employees receive 25 days of paid leave per year. Leave requests go through ...

      Passage 2 (...):
      ...

      Question: How many days of leave?

  (``[n] text`` and ``[n] Title: ...`` headers are read too.)

  The answer is the first sentence of each of the first two passages, each followed by
  `` [n]``; without passages it is ``"I don't know."``.

Answers are streamed word by word (a word plus the whitespace after it); ``max_tokens``
counts words, ``stop`` strings cut the answer before them. ``calls`` records the messages of
every call (and ``options_calls`` the options) so that tests can assert the exact prompt.
"""

from __future__ import annotations

import re
import threading
from typing import Iterable, Iterator, Sequence

from ..errors import GeneratorError
from .base import ChatMessage, GenerationOptions, Usage

__all__ = ["FakeGenerator", "parse_passages"]

_HEADER = re.compile(r"^\[(\d{1,4})\]\s?(.*)$")
_QUESTION = re.compile(r"^\s*Question\s*:", re.IGNORECASE)
_WORDS = re.compile(r"\S+\s*")
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?=\s|$)", re.DOTALL)
_META_LINE = re.compile(r"^\s*Title\s*:", re.IGNORECASE)
_NAMED_HEADER = re.compile(r"^Passage\s+(\d{1,4})\b.*:\s*$")


def parse_passages(text: str) -> list[tuple[int, str]]:
    """The ``(number, text)`` passages of a RAG prompt, in order of appearance.

    A passage starts at a line ``[n] ...`` that opens the text or follows a blank line (or a
    ``Passages:`` line); when the rest of that line is metadata (``Title: ...``) the passage
    text starts on the next line. It runs until a blank line followed by the next ``[m]``
    line or by ``Question:``, or until the end of the text.
    """
    lines = text.splitlines()
    starts: list[int] = []
    question_at: int | None = None
    for i, line in enumerate(lines):
        previous = lines[i - 1].strip() if i > 0 else ""
        opens_block = i == 0 or previous == "" or previous.rstrip(":").lower() == "passages"
        if not opens_block:
            continue
        if _HEADER.match(line) or _NAMED_HEADER.match(line):
            starts.append(i)
        elif _QUESTION.match(line) and starts:
            question_at = i
            break
    passages: list[tuple[int, str]] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else (
            question_at if question_at is not None else len(lines)
        )
        match = _HEADER.match(lines[start])
        if match is not None:
            number, rest = int(match.group(1)), match.group(2)
        else:
            named = _NAMED_HEADER.match(lines[start])
            assert named is not None
            number, rest = int(named.group(1)), ""
        body = lines[start + 1 : end]
        if rest.strip() and not _META_LINE.match(rest):
            body = [rest, *body]
        passage = " ".join(" ".join(body).split())
        passages.append((number, passage))
    return passages


def _first_sentence(text: str) -> str:
    match = _FIRST_SENTENCE.match(text)
    return (match.group(1) if match else text).strip()


def _words(text: str) -> list[str]:
    pieces = _WORDS.findall(text)
    if pieces and text[: len(text) - len(text.lstrip())]:
        pieces[0] = text[: len(text) - len(text.lstrip())] + pieces[0]
    return pieces


class FakeGenerator:
    """Deterministic :class:`~fiable.generators.base.Generator` (see module docstring)."""

    def __init__(
        self,
        responses: Iterable[str] | None = None,
        *,
        model_id: str | None = None,
        context_size: int = 4096,
    ) -> None:
        self._extractive = responses is None
        self._responses = list(responses) if responses is not None else []
        self._next = 0
        self._lock = threading.Lock()
        self._model_id = model_id or ("fake-extractive" if self._extractive else "fake-scripted")
        self._context_size = context_size
        self._last_usage: Usage | None = None
        self.first_logprobs: dict[str, float] | None = None  # see the Generator contract
        self.calls: list[list[ChatMessage]] = []
        self.options_calls: list[GenerationOptions] = []

    @classmethod
    def extractive(cls, *, model_id: str | None = None, context_size: int = 4096) -> "FakeGenerator":
        """A generator that answers from the passages of the prompt."""
        return cls(None, model_id=model_id, context_size=context_size)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def context_size(self) -> int:
        return self._context_size

    @property
    def last_usage(self) -> Usage | None:
        return self._last_usage

    @property
    def remaining(self) -> int:
        """Scripted responses not used yet (0 in extractive mode)."""
        return len(self._responses) - self._next

    def answer_for(self, messages: Sequence[ChatMessage]) -> str:
        """The full answer (before ``stop`` and ``max_tokens``) the extractive mode gives."""
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        passages = parse_passages(question)
        if not passages:
            return "I don't know."
        return " ".join(f"{_first_sentence(text)} [{n}]" for n, text in passages[:2] if text)

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        self._last_usage = None
        self.first_logprobs = None
        with self._lock:
            self.calls.append(list(messages))
            self.options_calls.append(options)
            if not self._extractive:
                if self._next >= len(self._responses):
                    raise GeneratorError(
                        f"FakeGenerator: all {len(self._responses)} scripted responses are used up",
                        hint="give the FakeGenerator one response per expected call",
                    )
                text = self._responses[self._next]
                self._next += 1
        if self._extractive:
            text = self.answer_for(messages)
        return self._pieces(messages, options, text)

    def _pieces(
        self, messages: Sequence[ChatMessage], options: GenerationOptions, text: str
    ) -> Iterator[str]:
        cut = min((i for i in (text.find(s) for s in options.stop if s) if i >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
        pieces = [p for p in _words(text)[: max(options.max_tokens, 0)] if p]
        if pieces and options.top_logprobs > 0:
            self.first_logprobs = {pieces[0]: 0.0}  # the fake is sure of what it says
        for piece in pieces:
            yield piece
        prompt_words = sum(len(m.content.split()) for m in messages)
        self._last_usage = Usage(prompt_tokens=prompt_words, completion_tokens=len(pieces))
