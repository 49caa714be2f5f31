"""One short call of the local model that translates a text (a question, an answer
sentence) from one language into another, with the checks that decide whether the
translation is kept: in the target language (or too short to tell), of sensible length,
not the text itself, every number of the text kept."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ..errors import ConfigError
from ..generators.base import ChatMessage, GenerationOptions, Generator
from ..language import UNDETERMINED, detect_language
from ..templates import load_prompt

__all__ = ["LANGUAGE_NAMES", "Translation", "translate"]

LANGUAGE_NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish",
                  "it": "Italian", "nl": "Dutch", "pt": "Portuguese"}
_MAX_CHARS = 400
_DIGITS = re.compile(r"\d")
_LABEL = re.compile(r"^\s*(translation|traduction|question|answer|réponse|english|anglais|"
                    r"french|français)\s*:\s*", re.I)


@dataclass(frozen=True, slots=True)
class Translation:
    """``original`` (in ``source``) in ``target``: ``text`` when ``kept``."""

    original: str  # the question or answer sentence translated
    source: str
    target: str
    text: str
    kept: bool
    seconds: float
    raw: str = ""

    @property
    def query(self) -> str:
        """What retrieval searches: the translation when kept, else the original."""
        return self.text if self.kept else self.original

    def to_dict(self) -> dict[str, object]:
        return {"original": self.original, "source": self.source, "target": self.target,
                "text": self.text, "kept": self.kept, "seconds": round(self.seconds, 4),
                "raw": self.raw}


def translate(text: str, source: str, target: str, generator: Generator, *, prompt: str,
              prompt_dir: str | None = None) -> Translation:
    """``text`` translated from ``source`` into ``target`` by ``generator`` with the
    templates ``{prompt}_system`` and ``{prompt}_example`` (a French --- English pair, used
    the other way round into French)."""
    started = time.perf_counter()
    names = {"target": LANGUAGE_NAMES.get(target, target)}
    system = load_prompt(f"{prompt}_system", prompt_dir).render(**names).strip()
    example = load_prompt(f"{prompt}_example", prompt_dir)
    parts = [part.strip() for part in example.text.split("---")]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"prompt template {example.name!r} ({example.origin}) must hold a "
                          "French text, a line ---, then its English translation",
                          hint="fix the template, or remove it from prompt_dir to use the "
                          "built-in one")
    french, english = parts
    asked, translated = (english, french) if target == "fr" else (french, english)
    messages = [ChatMessage("system", system), ChatMessage("user", asked),
                ChatMessage("assistant", translated),
                ChatMessage("user", " ".join(text.split())[:_MAX_CHARS])]
    options = GenerationOptions(max_tokens=64, temperature=0.0, stop=("\n",))
    raw = "".join(generator.stream(messages, options)).strip()
    out = _LABEL.sub("", raw.splitlines()[0] if raw else "").strip().strip('"“”«»').strip()
    kept = _keeps(out, text, target)
    return Translation(text, source, target, out if kept else "", kept,
                       time.perf_counter() - started, raw)


def _keeps(text: str, original: str, target: str) -> bool:
    """A translation worth using: of sensible length, in ``target`` (or too short to tell),
    not the original itself, a question for a question, with the original's digits in the
    same order ("5 000 livres" -> "5,000 pounds", "0.42" -> "0,42")."""
    if not text or len(text) > min(_MAX_CHARS, 2 * len(original) + 40) or len(text) < 2:
        return False
    if text.casefold() == original.strip().casefold():
        return False
    if original.rstrip().endswith("?") and not text.rstrip().endswith("?"):
        return False  # a question translated into a remark ("I don't know.") is no question
    language = detect_language(text, default=UNDETERMINED, min_confidence=0.5)
    if language not in (target, UNDETERMINED):
        return False
    return _DIGITS.findall(text) == _DIGITS.findall(original)
