"""The generator as a yes/no judge of support, its output constrained by a grammar."""

from __future__ import annotations

import logging
import re

from ..errors import GeneratorError
from ..generators.base import ChatMessage, GenerationOptions, Generator

__all__ = ["GeneratorJudge", "YES_NO_GRAMMAR"]

logger = logging.getLogger(__name__)

YES_NO_GRAMMAR = 'root ::= "yes" | "no"'
_SYSTEM = ("You check whether a statement is supported by a passage. Answer with one word: "
           "yes or no.")
_USER = ("Passage:\n{evidence}\n\nStatement: {sentence}\n\n"
         "Does the passage state this? Answer yes or no.")
_ANSWER = re.compile(r"^\W*(yes|no|oui|non)\b", re.IGNORECASE)
_MAX_EVIDENCE_CHARS = 3000


class GeneratorJudge:
    """Ask ``generator`` whether the evidence supports the sentence (None when it fails)."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.options = GenerationOptions(max_tokens=3, temperature=0.0, seed=0,
                                         grammar=YES_NO_GRAMMAR)

    def __call__(self, sentence: str, evidence: str) -> bool | None:
        messages = [
            ChatMessage("system", _SYSTEM),
            ChatMessage("user", _USER.format(evidence=evidence[:_MAX_EVIDENCE_CHARS],
                                             sentence=sentence)),
        ]
        try:
            reply = "".join(self.generator.stream(messages, self.options))
        except GeneratorError as exc:
            logger.warning("judge unavailable", extra={"error": exc.message})
            return None
        match = _ANSWER.match(reply)
        if not match:
            logger.info("judge gave no yes/no", extra={"reply": reply[:40]})
            return None
        return match.group(1).lower() in ("yes", "oui")
