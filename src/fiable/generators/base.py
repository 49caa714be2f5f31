"""The Generator contract.

A generator turns chat messages into a stream of text pieces.

Contract (checked by ``tests/contracts/generator.py`` for every implementation):
- ``stream(messages, options)`` yields non-empty ``str`` pieces whose concatenation is the
  answer; it stops at ``options.max_tokens`` tokens or at any ``options.stop`` string (the
  stop string itself is not yielded).
- With ``temperature == 0`` (or a fixed ``seed``), the same input gives the same output.
- Closing the iterator early (``.close()``, or breaking out of a for-loop) cancels the
  generation promptly and leaves the generator usable for the next call.
- ``model_id`` names the model (file name or served model name); ``context_size`` is the
  context window in tokens. Backend failures raise :class:`fiable.errors.GeneratorError`
  naming the backend and the fix.
- ``last_usage`` after a finished stream holds prompt/completion token counts when the
  backend reports them (None otherwise).
- With ``options.top_logprobs`` = N > 0, ``first_logprobs`` after the stream holds the N
  most likely first tokens of the reply with their natural-log probabilities, when the
  backend returns them (llama.cpp does; an OpenAI-compatible server may not: None). The
  answer decision reads how likely the model was to refuse from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Protocol, Sequence, runtime_checkable

__all__ = ["ChatMessage", "GenerationOptions", "Generator", "Usage", "chat_request",
           "first_token_logprobs"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    max_tokens: int = 384
    temperature: float = 0.0
    seed: int | None = 0
    stop: tuple[str, ...] = field(default_factory=tuple)
    # A GBNF grammar constraining the output (llama.cpp and its server honour it; other
    # OpenAI-compatible servers may ignore it, so callers still parse what comes back).
    grammar: str | None = None
    # how many alternatives of the reply's first token to report (0: none asked)
    top_logprobs: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@runtime_checkable
class Generator(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def context_size(self) -> int: ...

    @property
    def last_usage(self) -> Usage | None: ...

    def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> Iterator[str]: ...


def chat_request(messages: Sequence[ChatMessage], options: GenerationOptions) -> dict[str, Any]:
    """The OpenAI chat-completions body (streamed) for ``messages`` and ``options``."""
    body: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "stream": True,
        "max_tokens": options.max_tokens,
        "temperature": options.temperature,
    }
    if options.seed is not None:
        body["seed"] = options.seed
    stops = [s for s in options.stop if s]
    if stops:
        body["stop"] = stops
    if options.grammar:
        body["grammar"] = options.grammar
    if options.top_logprobs > 0:
        body["logprobs"] = True
        body["top_logprobs"] = options.top_logprobs
    return body


def first_token_logprobs(choice: Any) -> dict[str, float] | None:
    """The top alternatives of the first token of a streamed ``choice`` (an OpenAI
    chat-completion chunk's choice), ``{token: logprob}``; None when it carries none."""
    logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    out: dict[str, float] = {}
    for alternative in content[0].get("top_logprobs") or ():
        try:
            token, value = alternative["token"], float(alternative["logprob"])
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(token, str):
            out[token] = max(value, out.get(token, float("-inf")))
    return out or None
