"""Prompt templates are files (``src/fiable/prompts/*.txt``), filled with ``string.Template``.

A folder given by the ``prompt_dir`` setting overrides the built-in files by name. A
template in another language than English is the same name with the language's ISO 639-1
code before the extension (``answer_system.fr.txt``); a language without its own file uses
the English one. Each
template's version is the first 12 hex digits of the sha256 of its text, recorded with
every answer so the exact prompt of a past request can be rebuilt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from .errors import ConfigError

__all__ = ["PromptTemplate", "load_prompt"]


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    name: str
    text: str
    origin: str

    @property
    def version(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]

    def render(self, **values: str) -> str:
        try:
            return Template(self.text).substitute(values)
        except (KeyError, ValueError) as exc:
            raise ConfigError(
                f"prompt template {self.name!r} ({self.origin}) has a bad placeholder: {exc}",
                hint=f"placeholders available: {', '.join('$' + k for k in values)}; "
                "write a literal $ as $$",
            ) from None


def _find(name: str, prompt_dir: str | Path | None) -> PromptTemplate | None:
    if prompt_dir:
        candidate = Path(prompt_dir) / f"{name}.txt"
        if candidate.is_file():
            return PromptTemplate(name, candidate.read_text(encoding="utf-8"), str(candidate))
    try:
        text = resources.files("fiable.prompts").joinpath(f"{name}.txt").read_text("utf-8")
    except FileNotFoundError:
        return None
    return PromptTemplate(name, text, f"built-in {name}.txt")


def load_prompt(name: str, prompt_dir: str | Path | None = None, *,
                language: str = "en") -> PromptTemplate:
    """The template ``name`` (without .txt) in ``language`` from ``prompt_dir`` if it has
    one, else built-in; the English template when ``language`` has none."""
    if language != "en":
        localised = _find(f"{name}.{language}", prompt_dir)
        if localised is not None:
            return localised
    template = _find(name, prompt_dir)
    if template is None:
        raise ConfigError(f"no prompt template named {name!r}",
                          hint="check the template name or the prompt_dir setting")
    return template
