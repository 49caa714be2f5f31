"""Prompt templates are files (``src/fiable/prompts/*.txt``), filled with ``string.Template``.

A folder given by the ``prompt_dir`` setting overrides the built-in files by name. Each
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


def load_prompt(name: str, prompt_dir: str | Path | None = None) -> PromptTemplate:
    """The template ``name`` (without .txt) from ``prompt_dir`` if it has one, else built-in."""
    if prompt_dir:
        candidate = Path(prompt_dir) / f"{name}.txt"
        if candidate.is_file():
            return PromptTemplate(name, candidate.read_text(encoding="utf-8"), str(candidate))
    try:
        text = resources.files("fiable.prompts").joinpath(f"{name}.txt").read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no prompt template named {name!r}",
                          hint="check the template name or the prompt_dir setting") from None
    return PromptTemplate(name, text, f"built-in {name}.txt")
