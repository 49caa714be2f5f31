"""What ``ask`` returns: the answer, its sentences with their citations, and its sources."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Answer", "AnswerSentence", "Source", "Token", "Retrieved", "Done", "AskEvent",
           "NOT_IN_DOCUMENTS", "AI_NOTICE", "ABSTAIN_CODES"]

NOT_IN_DOCUMENTS = "Not in the documents."
AI_NOTICE = "AI-generated answer: check the cited sources."
#: Why an answer abstained (``Answer.abstain_code``); interfaces turn each into plain words.
ABSTAIN_CODES: tuple[str, ...] = (
    "no_passages",       # nothing was retrieved (empty or inaccessible collections)
    "low_relevance",     # the passages found are not about the question
    "not_answerable",    # the passages are about the topic but do not answer the question
    "model_refused",     # the model found no answer in the passages
    "unsupported",       # the answer written was not backed by the passages
    "question_reveal",   # the question asks for the assistant's instructions
)


@dataclass(frozen=True, slots=True)
class Source:
    """A passage shown to the model, numbered as in the prompt and in ``[n]`` markers."""

    number: int
    chunk_id: int
    document_id: int
    collection: str
    source: str
    title: str
    heading_path: tuple[str, ...]
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int
    content_hash: str
    snippet: str
    score: float
    lexical_rank: int | None
    dense_rank: int | None
    dense_score: float | None

    @property
    def location(self) -> str:
        """Human location: ``title, section > sub, p. 2``."""
        parts = [self.title or self.source]
        if self.heading_path:
            parts.append(" > ".join(h for h in self.heading_path if h != self.title))
        if self.page_start is not None:
            pages = (f"p. {self.page_start}" if self.page_end in (None, self.page_start)
                     else f"pp. {self.page_start}-{self.page_end}")
            parts.append(pages)
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class AnswerSentence:
    """One answer sentence: its citations (how they were found) and how well the cited
    passages support it (``support`` in [0, 1], ``label`` supported / partly / unsupported;
    None when verification is off)."""

    text: str
    citations: tuple[int, ...]
    # "support": re-cited by verification to the shown passage(s) that back it best;
    # "quote": a passage sentence quoted verbatim when the model gave no answer
    method: Literal["marker", "overlap", "embedding", "support", "quote", "none"]
    evidence: float
    support: float | None = None
    label: Literal["supported", "partly", "unsupported"] | None = None
    checks: dict[str, Any] = field(default_factory=dict)  # the verifier's signals and judge


@dataclass(frozen=True, slots=True)
class Answer:
    """A cited answer. ``text`` has one ``[n]`` group after each cited sentence."""

    question: str
    text: str
    sentences: tuple[AnswerSentence, ...]
    sources: tuple[Source, ...]
    abstained: bool
    abstain_reason: str | None
    generator_model: str | None
    embedder_model: str
    prompt_version: str | None
    trace_id: str
    created_at: str
    timings: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    notice: str = AI_NOTICE
    relevance: float | None = None  # best dense similarity of any passage to the question
    support: float | None = None  # the answer's support: mean of its sentences' scores
    verification: str | None = None  # the policy applied: "flag", "abstain" or None (off)
    # prompt-injection findings: where (question / passage), kind, text, action taken
    screening: tuple[dict[str, str], ...] = ()
    language: str = "en"  # ISO 639-1 code of the prompt and fixed messages used (answer_language)
    # `ask --experts`: one entry per sub-question (question, expert, gate weights, status,
    # its text and its source numbers in this answer); empty for a plain ask
    parts: tuple[dict[str, Any], ...] = ()
    # `answerability = classifier`: its P(answerable), threshold, verdict and features
    # (fiable.trust.answerability); None when the check is off
    answerability: dict[str, Any] | None = None
    # why it abstained, as a stable code (see ABSTAIN_CODES); None when it answered
    abstain_code: str | None = None
    # in a conversation: the message as typed, the standalone question answered (``question``)
    # and how it was made (fiable.conversations.followup.Standalone.to_dict); None otherwise
    followup: dict[str, Any] | None = None
    conversation_id: str | None = None
    # a question in another language than the documents: its translation for retrieval and
    # the gates (fiable.crosslingual.Translation.to_dict); None otherwise
    translation: dict[str, Any] | None = None

    @property
    def cited_sources(self) -> tuple[Source, ...]:
        used = {n for s in self.sentences for n in s.citations}
        return tuple(s for s in self.sources if s.number in used)

    @property
    def uncited_sentences(self) -> tuple[AnswerSentence, ...]:
        return tuple(s for s in self.sentences if not s.citations)

    @property
    def unsupported_sentences(self) -> tuple[AnswerSentence, ...]:
        """Sentences the verifier found unsupported (flagged to the reader)."""
        return tuple(s for s in self.sentences if s.label == "unsupported")

    @property
    def disclosure(self) -> str:
        """That the answer is AI-generated and by which models (ids and names), or that no
        model generated it (see :mod:`fiable.transparency`)."""
        from .transparency import disclosure

        return disclosure(self.generator_model, self.embedder_model, abstained=self.abstained,
                          language=getattr(self, "language", "en"))

    @property
    def explanation(self) -> str | None:
        """Why it abstained, in plain words in the answer's language (from
        ``abstain_code``, see :mod:`fiable.refusals`); None when it answered."""
        from .refusals import explanation

        return explanation(self)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["cited_sources"] = [s.number for s in self.cited_sources]
        data["disclosure"] = self.disclosure
        data["explanation"] = self.explanation
        return data


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of the answer as the model streams it (raw, with its ``[n]`` markers)."""

    text: str


@dataclass(frozen=True, slots=True)
class Retrieved:
    """The passages about to be shown to the model (sent before the first token)."""

    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """The final answer, with the exact chat messages sent to the model (empty when it
    abstained before generation) and the request's trace: its span tree and the passages
    retrieved, ids and scores only (see :mod:`fiable.observability.tracing`; empty when the
    pipeline that made it records none)."""

    answer: Answer
    messages: tuple[dict[str, str], ...] = ()
    trace: dict[str, Any] = field(default_factory=dict)


AskEvent = Token | Retrieved | Done
