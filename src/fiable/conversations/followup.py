"""A follow-up message becomes a standalone question before the ask pipeline runs.

"Who approves expense claims over 500 euros?" then "And below that amount?": the second
message means nothing to retrieval on its own. :func:`standalone_question` turns it into
a question that does, from the conversation before it (earlier questions and answers):

- ``first``: no conversation yet, the message is the question;
- ``standalone``: the fast path. A message with no word that points back (it, they, that,
  there, il, cela, ...), no opening "and ..." / "what about ..." and enough words of its
  own is taken as it is: no model call;
- ``model``: the local model rewrites it (one short call, a fixed one-example prompt,
  ``prompts/followup_*``); the rewrite is kept only when it holds the message's own words
  and adds some of the conversation's, else
- ``merge``: the message with the question it follows ("And below that amount? (follow-up
  to: Who approves expense claims over 500 euros?)"), which retrieval and the model both
  read; also the method when ``followup_rewrite = "merge"`` (no model call at all).

Earlier turns are data, never evidence: only their question and answer text are shown to
the rewrite, bounded to the last few turns, and the answer to the standalone question is
retrieved, generated and verified from the documents exactly as a first question is.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..generators.base import ChatMessage, GenerationOptions, Generator
from ..sentences import content_words, split_sentences, word_tokens
from ..templates import load_prompt

__all__ = ["Exchange", "Standalone", "needs_context", "standalone_question"]

MAX_TURNS = 3  # earlier turns shown to the rewrite; older ones are dropped
_ANSWER_CHARS = 300  # of each earlier answer
_QUESTION_CHARS = 400  # of each earlier question (an OpenAI client may send anything)
_MAX_REWRITE_CHARS = 400
_REFERS_BACK = {
    "en": frozenset("""it its it's itself they them their theirs this that these those he him
                       his she her hers there one ones such same former latter above""".split()),
    "fr": frozenset("""il ils elle elles lui leur leurs son sa ses ce cet cette ces cela ca
                       celui celle ceux celles y en meme memes dernier derniere
                       precedent precedente""".split()),
}
_OPENERS = {
    "en": ("and ", "what about", "how about", "also ", "but ", "then ", "so ", "same ",
           "or ", "why not", "why?", "how?", "when?", "where?", "who?"),
    "fr": ("et ", "et si", "aussi", "mais ", "alors ", "pareil", "ou ", "pourquoi ?",
           "comment ?", "quand ?", "ou ?", "qui ?"),
}
# nouns that stand for something said before ("that amount", "ce montant"): a rewrite may
# replace them by what they stand for
_PLACEHOLDERS = frozenset("""amount figure sum number thing things case place time person
                             montant somme chiffre chose choses cas endroit personne""".split())
_QUESTION_WORDS = frozenset("""who whom whose what when where which why how is are was were does do
    did can could should may will has have qui que quoi quand ou comment pourquoi combien quel
    quelle quels quelles est peut doit faut y a-t-il""".split())
_MIN_OWN_WORDS = 3  # a message with fewer content words leans on the conversation
_ELIDED = re.compile(r"['\u2019]")
_INVERTED = frozenset({"il", "ils", "elle", "elles", "t"})  # "a-t-il", "ont-ils"
_DETERMINERS = frozenset("le la les l un une des du nos vos leurs ses ce cette ces".split())
_MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_LABEL = re.compile(r"^\s*(standalone question|question autonome|question)\s*:\s*", re.I)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One earlier turn as the rewrite sees it: its standalone question and answer text."""

    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Standalone:
    """What the pipeline answers for ``message``, and how it was obtained."""

    message: str
    question: str
    method: str  # first | standalone | model | merge
    seconds: float = 0.0
    rewrite: str | None = None  # the model's raw rewrite, also when it was not kept

    def to_dict(self) -> dict[str, object]:
        return {"message": self.message, "question": self.question, "method": self.method,
                "seconds": round(self.seconds, 4), "rewrite": self.rewrite}


def needs_context(message: str, language: str = "en") -> bool:
    """Whether ``message`` leans on the conversation before it: a word that points back,
    an opening "and ..." / "what about ...", or too few words of its own."""
    # "celui-ci", "d'il", "l'approuve-t-il": the parts of elided and hyphenated words count,
    # but not the pronoun a French question inverts after its verb when a subject it names
    # comes just before ("les salariés ont-ils", "la prime est-elle"; "Quand a-t-il" and
    # "Quelle prime reçoit-il" still point back)
    tokens = word_tokens(message)
    words: set[str] = set()
    for i, token in enumerate(tokens):
        named = bool(set(tokens[max(0, i - 4):max(0, i - 1)]) & _DETERMINERS)
        for elided in _ELIDED.split(token):
            words.update(part for j, part in enumerate(elided.split("-"))
                         if part and not (named and j and part in _INVERTED))
    refers = _REFERS_BACK.get(language, _REFERS_BACK["en"]) | _REFERS_BACK["en"]
    openers = _OPENERS.get(language, ()) + _OPENERS["en"]
    folded = message.strip().lower()
    return (bool(words & refers) or folded.startswith(openers)
            or len(content_words(message)) < _MIN_OWN_WORDS)


def standalone_question(
    message: str,
    history: Sequence[Exchange],
    *,
    generator_factory: Callable[[], Generator] | None,
    mode: str = "model",
    language: str = "en",
    prompt_dir: str | None = None,
) -> Standalone:
    """The standalone question for ``message`` after ``history`` (oldest first). ``mode``
    ``model`` asks ``generator_factory()`` for a rewrite (merge when it gives none worth
    keeping), ``merge`` never calls a model."""
    started = time.perf_counter()
    message = message.strip()
    history = [h for h in history if h.question.strip()][-MAX_TURNS:]
    if not history:
        return Standalone(message, message, "first")
    if not needs_context(message, language):
        return Standalone(message, message, "standalone", time.perf_counter() - started)
    rewrite = None
    if mode == "model" and generator_factory is not None:
        rewrite = _rewrite(message, history, generator_factory(), language, prompt_dir)
        if _keeps(rewrite, message, history):
            return Standalone(message, rewrite, "model", time.perf_counter() - started, rewrite)
    merged = _merge(message, history[-1].question, language)
    return Standalone(message, merged, "merge", time.perf_counter() - started, rewrite)


def _merge(message: str, previous: str, language: str) -> str:
    """``message`` followed by what it follows: the previous message and, when that was a
    follow-up too, the question its chain started from (so a long run of follow-ups stays
    two questions of context, not a growing nest)."""
    said, context = _merged_parts(previous)
    root = split_sentences(context)[-1] if context else ""
    follows = _clip(f"{said} {root}" if root and root != said else said, _QUESTION_CHARS)
    if language == "fr":
        return f"{message} (suite de : {follows})"
    return f"{message} (follow-up to: {follows})"


_MERGED = re.compile(r"^(?P<said>.*?) \((?:follow-up to: |suite de : )(?P<context>.*)\)$", re.S)


def _merged_parts(question: str) -> tuple[str, str]:
    """(the message, its context) of a merged question; (question, "") otherwise."""
    found = _MERGED.match(question)
    return (found["said"], found["context"]) if found else (question, "")


def _transcript(history: Sequence[Exchange], language: str) -> str:
    user, assistant = ("Utilisateur :", "Assistant :") if language == "fr" else ("User:", "Assistant:")
    lines = []
    for turn in history:
        answer = _clip(_MARKERS.sub("", turn.answer).strip(), _ANSWER_CHARS)
        lines += [f"{user} {_clip(_one_line(turn.question), _QUESTION_CHARS)}",
                  f"{assistant} {_one_line(answer)}"]
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _rewrite(message: str, history: Sequence[Exchange], generator: Generator, language: str,
             prompt_dir: str | None) -> str:
    system = load_prompt("followup_system", prompt_dir, language=language)
    user = load_prompt("followup_user", prompt_dir, language=language)
    example = load_prompt("followup_example", prompt_dir, language=language).text
    shown, asked, rewritten = (part.strip() for part in example.split("---"))
    messages = [
        ChatMessage("system", system.text.strip()),
        ChatMessage("user", user.render(conversation=shown, message=asked).strip()),
        ChatMessage("assistant", rewritten),
        ChatMessage("user", user.render(conversation=_transcript(history, language),
                                        message=_one_line(message)).strip()),
    ]
    options = GenerationOptions(max_tokens=64, temperature=0.0, stop=("\n",))
    text = "".join(generator.stream(messages, options)).strip()
    text = _LABEL.sub("", text.splitlines()[0] if text else "").strip().strip('"“”«»').strip()
    return text


def _keeps(rewrite: str | None, message: str, history: Sequence[Exchange]) -> bool:
    """A rewrite worth asking: a question (a "?" or a question word) of sensible length that keeps some of the
    message's own words (placeholders such as "amount" aside) and brings in some of the
    conversation's."""
    if not rewrite or len(rewrite) > _MAX_REWRITE_CHARS or len(rewrite) < 8:
        return False
    first = word_tokens(rewrite)[:1]
    if not rewrite.rstrip().endswith("?") and not (first and first[0] in _QUESTION_WORDS):
        return False  # an answer or a remark, not a question
    said = set(content_words(rewrite))
    own = set(content_words(message)) - _PLACEHOLDERS
    earlier = set(content_words(" ".join(f"{h.question} {h.answer}" for h in history))) - own
    keeps_own = not own or bool(said & own)
    return keeps_own and bool(said & earlier)
