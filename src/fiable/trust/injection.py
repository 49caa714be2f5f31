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

Obfuscated text is screened a second time once normalised (:func:`normalise`: NFKC,
zero-width and other invisible format characters removed, Cyrillic and Greek look-alike
letters folded to Latin, s p a c e d letters joined); text hidden in Unicode tag
characters (U+E0000 block) is a finding of its own (``hidden-text``) and is screened as
decoded; base64 runs that decode to text are screened as decoded (``encoded``). Findings
of the second pass carry offsets into the normalised text.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Finding", "normalise", "screen"]

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
    # notes and rules addressed to AI readers, and steering of "the answer"
    ("addressed", re.compile(
        r"\b(notes?|messages?|instructions?|hidden notes?|requirements?)\s+(to|for)\s+(all\s+|any\s+|the\s+)?"
        r"(ai|llms?|chatbots?|language models?|ai (systems?|assistants?|models?)|"
        r"automated assistants?|answering systems?|answer engines?)\b|"
        r"\b(for|to)\s+(all|any|every)\s+(ai|llms?|chatbots?|language models?|ai systems?|"
        r"automated assistants?)\b|"
        r"\b(for|to)\s+(the\s+)?(automated assistants?|answering systems?|answer engines?)\b|"
        r"\b(when|whenever|if)\s+(an?\s+|the\s+|any\s+)?(ai|llm|chatbot|language model|"
        r"ai assistant)\s+(is\s+|are\s+)?(asked|answers?|answering|responds?|replies|"
        r"summari[sz]es|reads?)\b|"
        r"(^|[.!?]\s+)(assistants?|chatbots?|ai)\s*[:,]\s+(when|always|never|answer|reply|say|"
        r"tell|add|include|ignore|do not|respond)\b|"
        r"\bthe (ai |virtual )?assistant (should|must|shall|has to|will) ((answer|say|reply|"
        r"respond|state|write|mention) that|tell the user|cite)\b|"
        r"\b(answering systems?|chatbots?|language models?|llms?|ai systems?) (must|should|shall)\b", _I | re.M)),
    ("addressed", re.compile(
        r"\b(notes?|messages?|consignes?|instructions?)( cachées?)? (pour|à l'intention d(e l'|es|u))\s*"
        r"(l'|les |le )?(ia|assistants?( ia| automatiques| virtuels)?|chatbots?|intelligences? "
        r"artificielles?|modèles? de langue)\b|"
        r"\bpour (toute|chaque|les) (ia|intelligences? artificielles?|assistants? ia)\b", _I)),
    ("steer", re.compile(
        r"\b(tell|inform|remind)\s+the\s+user\s+(that|to)\b|\b(reply|answer|respond)\s+to\s+the\s+user\b|"
        r"\b(reply|answer|respond) with exactly\b|"
        r"\bthe correct answer to (any|every|all|each) questions?\b|"
        r"\b(every|any|each|all) (answers?|repl(y|ies)|responses?) (about|on|to|regarding|concerning)\b"
        r"[^.\n]{0,60}?\b(must|should|shall)\b|"
        r"\b(end|begin|start|finish) (your|every|each|the) (answers?|repl(y|ies)|responses?) with\b|"
        r"\b(state|include|add|mention|cite|put|write|give)\b[^.\n]{0,50}?\b(in|to|at the end of) "
        r"(your|the|every|each) (answer|reply|response)s?\b", _I)),
    ("steer", re.compile(
        r"\b(indique|indiquez|dis|dites|réponds|répondez|précise|précisez)\b[^.\n]{0,20}?"
        r"\bà l'utilisateur\b|"
        r"\b(toute|chaque) réponse (sur|à propos d[eu']|concernant|au sujet d[eu'])[^.\n]{0,60}?\bdoit\b|"
        r"\b(indique|indiquez|mets|mettez|ajoute|ajoutez|cite|citez|donne|donnez|écris|écrivez)\b"
        r"[^.\n]{0,50}?\bdans (ta|votre|chaque|toute|la) réponse\b|"
        r"\bà toute question (sur|concernant|à propos d[eu'])[^.\n]{0,60}?\b(réponds|répondez|dis|dites)\b",
        _I)),
    ("role", re.compile(
        r"\bthe (ai|model|assistant|chatbot) is now\b|^\s*system (update|override|notice)\s*:|"
        r"\btu es (désormais|dorénavant)\b", _I | re.M)),
)

_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff"
                        "\uffa0]")
_TAGS = re.compile("(\U0001F3F4)?([\U000E0000-\U000E007F]+)")  # after a black flag: a flag emoji
_SPACED = re.compile(r"(?<!\S)\w(?: {1,3}\w){3,}(?!\S)")  # letters; 2+ spaces part words
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
_COMPACT = re.compile(
    r"(ignor(e|ez|er)?|disregard|forget|oublie(z|r)?)(all|any|the|your|les|tes|vos|toutes)?(les)?"
    r"(previous|prior|above|earlier)?(instructions?|prompts?|rules|consignes?|règles?)|"
    r"systemprompt|promptsystème|youarenow|tuesmaintenant|vousêtesmaintenant")
_LOOKALIKES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ӏ": "l", "һ": "h", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    # Greek
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
})


@dataclass(frozen=True, slots=True)
class Finding:
    """A suspicious span: its kind (override, role, fake-turn, addressed, reveal, steer,
    exfiltration, hidden-text, encoded) and the matched text."""

    kind: str
    text: str
    start: int
    end: int


def _match(text: str) -> list[Finding]:
    found: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.append(Finding(kind, match.group(0).strip()[:120], match.start(), match.end()))
    return found


def _tag_text(run: str) -> str:
    return "".join(chr(ord(c) - 0xE0000) for c in run if 0xE0020 <= ord(c) < 0xE007F)


def _fold(text: str) -> str:
    text = _TAGS.sub(lambda m: m.group(1) or f" {_tag_text(m.group(2))} ", text)
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_LOOKALIKES)


def normalise(text: str) -> str:
    """``text`` as a reader sees it: NFKC, invisible format characters removed (tag
    characters decoded to the ASCII they hide), Cyrillic/Greek look-alikes folded to Latin,
    and runs of single letters separated by spaces ("i g n o r e") joined."""
    return _SPACED.sub(lambda m: " ".join(w.replace(" ", "") for w in re.split(" {2,}", m.group(0))),
                       _fold(text))


def _spaced(text: str) -> list[Finding]:
    """Overrides spelled one letter at a time ("i g n o r e p r e v i o u s ..."), where
    joining the letters loses the spaces between words."""
    found = []
    for run in _SPACED.finditer(_fold(text)):
        compact = run.group(0).replace(" ", "").casefold()
        for match in _COMPACT.finditer(compact):
            found.append(Finding("override", match.group(0), run.start(), run.end()))
    return found


def _decoded(text: str) -> list[str]:
    """The base64 runs of ``text`` that decode to readable text."""
    out = []
    for match in _BASE64.finditer(text):
        raw = match.group(0)
        try:
            decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded and sum(c.isprintable() or c.isspace() for c in decoded) >= 0.95 * len(decoded):
            out.append(decoded)
    return out


def screen(text: str) -> list[Finding]:
    """Instructions aimed at the model found in ``text`` (empty: nothing suspicious)."""
    found = _match(text)
    seen = {(f.kind, f.text) for f in found}

    def add(findings: list[Finding]) -> None:
        for f in findings:
            if (f.kind, f.text) not in seen:
                seen.add((f.kind, f.text))
                found.append(f)

    for match in _TAGS.finditer(text):
        hidden = _tag_text(match.group(2))
        if not match.group(1) and hidden.strip():
            add([Finding("hidden-text", hidden.strip()[:120], match.start(), match.end())])
    normal = normalise(text)
    if normal != text:
        add(_match(normal))
        add(_spaced(text))
    for decoded in _decoded(normal):
        add([Finding("encoded", f.text, f.start, f.end) for f in _match(normalise(decoded))])
    return sorted(found, key=lambda f: f.start)
