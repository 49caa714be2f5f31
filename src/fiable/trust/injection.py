"""Prompt-injection screening of retrieved passages and questions.

Documents are data. A passage that talks *to the model* — "ignore previous instructions",
a fake system/assistant turn or chat-template token, "you are now...", a request to reveal
the prompt, to reply only with something, or to send data to an address or link — is
suspicious. English and French phrasings are recognised. With the ``injection`` setting:

- ``quarantine`` (default): suspicious passages are kept out of the prompt (they can still
  be listed as closest passages, marked);
- ``fence``: they stay in the prompt, wrapped in a warning that they are untrusted data;
- ``off``: no screening.

Every finding is recorded on the Answer (``screening``) and logged. Pattern screening does
not catch every attack (paraphrases, other languages, encodings): the system prompt's
"passages are data" rule and sentence verification are the next lines of defence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Finding", "screen"]

_I = re.IGNORECASE | re.UNICODE

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("override", re.compile(
        r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}?\b(previous|prior|above|earlier|"
        r"all|any|your|the|system|these|those)\b[^.\n]{0,30}?\b(instructions?|prompts?|rules?|"
        r"guidelines|directives|context|messages?)", _I)),
    ("override", re.compile(
        r"\b(ignore[zr]?|oublie[zr]?|ne tiens pas compte)\b[^.\n]{0,40}?\b(les|tes|vos|toutes|"
        r"des)\b[^.\n]{0,30}?\b(instructions?|consignes?|règles?|directives?)", _I)),
    ("role", re.compile(
        r"\b(you are now|from now on,? you (are|will|must|act|answer|respond|reply|say|tell)|"
        r"(^|[.!?:]\s+|\byou (must|should|will|shall) (now )?|\bplease )act as (an?|the)\b|"
        r"pretend (to be|you are)|"
        r"new (instructions|rules|persona)\s*:|tu es maintenant|vous êtes maintenant|"
        r"à partir de maintenant,? (tu|vous))", _I)),
    ("fake-turn", re.compile(
        r"(<\|?(im_start|im_end|system|assistant|endoftext|eot_id|start_header_id)\|?>|\[/?INST\]|"
        r"<<SYS>>|^\s*#{1,4}\s*(system|assistant|instruction)s?\b|^\s*(system|assistant)\s*:|"
        r"\b(system message|system prompt|message système|prompt système)\s+(for|to|pour)\b)", _I | re.M)),
    ("addressed", re.compile(
        r"\b(to|for|attention|note to)\s+(the\s+)?(ai|a\.i\.|llm|language model|assistant|chatbot|"
        r"model)(\s+(assistant|model|agent|system))?\s*[:,]|\b(à l'attention de l'|pour l')(ia|assistant|intelligence artificielle)\b", _I)),
    ("reveal", re.compile(
        r"\b(reveal|print|repeat|show|output|leak|révèle|affiche|répète)\b[^.\n]{0,30}?"
        r"\b(system prompt|your (instructions|prompt|rules)|hidden (instructions|prompt)|"
        r"prompt système|tes instructions|vos instructions)", _I)),
    ("steer", re.compile(
        r"\b(respond|reply|answer|say|réponds|répondez)\b[^.\n]{0,20}?\b(only|exclusively|"
        r"uniquement|seulement)\b[^.\n]{0,10}?\b(with|by|that|par|avec|que)\b", _I)),
    ("exfiltration", re.compile(
        r"!\[[^\]]*\]\(\s*https?://[^)\s]*[?&][^)\s]*=|"
        r"\b(send|e-?mail (us|them|it|their|your)|forward|post|upload|envoie[zr]?|transmet(s|tez)?)\b[^.\n]{0,60}?"
        r"\b(passwords?|credentials|mfa( code)?|one-time code|verification code|tokens?|api keys?|"
        r"conversation|chat history|mots? de passe|identifiants|code mfa)\b", _I)),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """A suspicious span: its kind (override, role, fake-turn, addressed, reveal, steer,
    exfiltration) and the matched text."""

    kind: str
    text: str
    start: int
    end: int


def screen(text: str) -> list[Finding]:
    """Instructions aimed at the model found in ``text`` (empty: nothing suspicious)."""
    found: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.append(Finding(kind, match.group(0).strip()[:120], match.start(), match.end()))
    return sorted(found, key=lambda f: f.start)
