"""The AI judge (RLAIF): which of two answers to the same question is better?

:class:`PreferenceJudge` labels a pair of answers written from the same passages. It is a
cascade, like the sentence verifier (:mod:`fiable.trust.verifier`):

1. **Abstentions** first. Both abstain (or the texts are identical): a tie. One abstains:
   the other answer wins when the verifier finds it supported (mean support >=
   ``supported``), the abstention wins when it is unsupported (< ``unsupported``); in
   between the model is asked (without a model: the answer, at low confidence).
2. **Cheap signals** of each answer (no model): the verifier's support of its sentences
   against the passages they cite (mean and min), its citation coverage (share of
   sentences cited *and* supported), phrase support (share of its word bigrams found in
   the passages: swapped names and numbers break them) and relevance (share of the
   question's content words it contains). The difference of the two answers' signals goes
   through a logistic score ``p(A better) = sigmoid(WEIGHTS . (f_A - f_B))`` (no bias, so
   swapping A and B gives ``1 - p``); the weights were fitted on the SQuAD 2.0 dev split
   only (``python benchmarks/rlaif_judge.py --fit``).
3. **The model**, only when the cheap score is close (``|p - 0.5| < margin``): the
   generator compares the pair under a fixed rubric (prompt templates
   ``judge_pairwise_system`` / ``judge_pairwise_user``, versioned by their hash), its reply
   constrained by a GBNF grammar to ``A`` or ``B``. It is asked in both orders to cancel
   position bias: a consistent preference adds ``MODEL_WEIGHT`` to the logit of its
   choice; two inconsistent replies add nothing (the verdict keeps the cheap score's low
   confidence).

The verdict's ``confidence`` is the probability of its choice, in [0.5, 1]; a score within
``tie_band`` of 0.5 is a ``tie``. ``judge`` names the judge: its version, the rubric's
version and the model (``"fiable-pairwise/1 rubric=<hash> model=<id>"``), so every AI label
says who gave it.

:func:`judge_unlabelled` turns the ask log into AI preference labels: for each past
question without a human label it generates a second answer with other settings, judges the
pair and stores a ``pairwise`` feedback record with ``source = "ai"``. Human labels always
win: a question with any human feedback is skipped, and AI records are told apart by their
``source``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np

from ..answer import NOT_IN_DOCUMENTS
from ..citations import ABSTAIN_PATTERN, cite_sentences, strip_markers
from ..errors import GeneratorError
from ..generators.base import ChatMessage, GenerationOptions, Generator
from ..sentences import content_words, word_tokens
from ..templates import load_prompt
from ..trust.verifier import CascadeVerifier, Claim, Thresholds

__all__ = ["AB_GRAMMAR", "FEATURES", "JUDGE_VERSION", "MODEL_WEIGHT", "WEIGHTS",
           "PreferenceJudge", "Verdict", "answer_features", "judge_unlabelled", "parse_choice"]

logger = logging.getLogger(__name__)

JUDGE_VERSION = "fiable-pairwise/1"
AB_GRAMMAR = 'root ::= "A" | "B"'
FEATURES = ("support_mean", "support_min", "coverage", "phrase", "relevance")
# Logistic weights over the differences of FEATURES (A minus B), fitted on the SQuAD 2.0 dev
# split by `python benchmarks/rlaif_judge.py --fit`.
WEIGHTS: tuple[float, ...] = (2.85, 2.85, 0.0, 9.28, 3.62)
# Logit added for a model preference that holds in both orders: a fixed rule (not fitted);
# it turns an undecided cheap score (p = 0.5) into p = 0.88 for the model's choice.
MODEL_WEIGHT = 2.0
_MAX_PASSAGE_CHARS = 2500
_CHOICE = re.compile(r"^\W*([AB])\b")

Preferred = Literal["a", "b", "tie"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Which answer is better: ``preferred`` ("a", "b" or "tie"), the ``confidence`` of that
    choice in [0.5, 1], the ``signals`` behind it and the ``judge`` that gave it."""

    preferred: Preferred
    confidence: float
    signals: dict[str, Any] = field(default_factory=dict)
    judge: str = JUDGE_VERSION


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def _bigrams(text: str) -> set[tuple[str, str]]:
    words = word_tokens(text)
    return set(pairwise(words))


def is_abstention(answer: str) -> bool:
    text = strip_markers(answer).strip()
    return not text or text == NOT_IN_DOCUMENTS or bool(ABSTAIN_PATTERN.match(text))


def answer_features(
    question: str, passages: Sequence[str], answer: str, verifier: CascadeVerifier,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> dict[str, float]:
    """The cheap signals of one answer (see the module docstring), each in [0, 1]."""
    sentences = cite_sentences(answer, passages, embed=embed,
                               passage_vectors=(lambda: embed(list(passages))) if embed else None)
    claims = [Claim(s.text, tuple(passages[n - 1] for n in s.citations if 0 < n <= len(passages))
                    or tuple(passages), question) for s in sentences]
    supports = verifier.verify(claims) if claims else []
    scores = [s.score for s in supports]
    supported = verifier.thresholds.supported
    coverage = (sum(bool(c.citations) and s.score >= supported for c, s in zip(sentences, supports))
                / len(supports) if supports else 0.0)
    grams = _bigrams(strip_markers(answer))
    evidence = set().union(*(_bigrams(p) for p in passages)) if passages else set()
    phrase = len(grams & evidence) / len(grams) if grams else 0.0
    asked = set(content_words(question))
    relevance = len(asked & set(content_words(answer))) / len(asked) if asked else 0.0
    return {"support_mean": round(sum(scores) / len(scores), 4) if scores else 0.0,
            "support_min": round(min(scores), 4) if scores else 0.0,
            "coverage": round(coverage, 4), "phrase": round(phrase, 4),
            "relevance": round(relevance, 4), "sentences": float(len(scores))}


def parse_choice(reply: str) -> Literal["A", "B"] | None:
    """``"A"`` or ``"B"`` from the model's (grammar-constrained) reply, None otherwise."""
    match = _CHOICE.match(reply or "")
    return match.group(1) if match else None  # type: ignore[return-value]


class PreferenceJudge:
    """Cheap signals for every pair, the generator (both orders) only where they are close.

    ``generator`` may be None: the judge then uses the cheap signals alone. ``embed``
    (texts -> unit vectors) lets the verifier and the citation fallback use embeddings.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        *,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        weights: Sequence[float] = WEIGHTS,
        model_weight: float = MODEL_WEIGHT,
        margin: float = 0.3,
        tie_band: float = 0.02,
        thresholds: Thresholds | None = None,
        unsupported: float = 0.3,
        prompt_dir: str | None = None,
    ) -> None:
        self.generator = generator
        self.embed = embed
        self.weights = tuple(weights)
        self.model_weight = model_weight
        self.margin = margin
        self.tie_band = tie_band
        self.unsupported = unsupported
        self.verifier = CascadeVerifier(embed, thresholds=thresholds or Thresholds())
        self.system = load_prompt("judge_pairwise_system", prompt_dir)
        self.user = load_prompt("judge_pairwise_user", prompt_dir)
        self.options = GenerationOptions(max_tokens=2, temperature=0.0, seed=0, grammar=AB_GRAMMAR)
        self.model_calls = 0

    @property
    def rubric_version(self) -> str:
        return f"{self.system.version[:6]}{self.user.version[:6]}"

    @property
    def judge_id(self) -> str:
        model = self.generator.model_id if self.generator is not None else "none"
        return f"{JUDGE_VERSION} rubric={self.rubric_version} model={model}"

    # -- the model --------------------------------------------------------------------
    def ask_model(self, question: str, passages: Sequence[str], first: str, second: str
                  ) -> Literal["A", "B"] | None:
        """The model's choice between ``first`` (A) and ``second`` (B); None on failure."""
        if self.generator is None:
            return None
        shown = "\n\n".join(f"[{i}] {p[:_MAX_PASSAGE_CHARS]}" for i, p in enumerate(passages, 1))
        messages = [
            ChatMessage("system", self.system.render()),
            ChatMessage("user", self.user.render(passages=shown, question=question,
                                                 answer_a=strip_markers(first) or NOT_IN_DOCUMENTS,
                                                 answer_b=strip_markers(second) or NOT_IN_DOCUMENTS)),
        ]
        self.model_calls += 1
        try:
            reply = "".join(self.generator.stream(messages, self.options))
        except GeneratorError as exc:
            logger.warning("pairwise judge unavailable", extra={"error": exc.message})
            return None
        choice = parse_choice(reply)
        if choice is None:
            logger.info("pairwise judge gave no A/B", extra={"reply": reply[:40]})
        return choice

    def model_vote(self, question: str, passages: Sequence[str], answer_a: str, answer_b: str
                   ) -> tuple[int | None, dict[str, Any]]:
        """+1 (A), -1 (B) when both orders agree, 0 when they disagree, None without a model."""
        ab = self.ask_model(question, passages, answer_a, answer_b)
        ba = self.ask_model(question, passages, answer_b, answer_a)
        details = {"model_ab": ab, "model_ba": ba}
        if ab is None or ba is None:
            return None, details
        first = 1 if ab == "A" else -1
        second = 1 if ba == "B" else -1
        vote = first if first == second else 0
        details["model_vote"] = vote
        return vote, details

    # -- the verdict ------------------------------------------------------------------
    def cheap_logit(self, fa: Mapping[str, float], fb: Mapping[str, float]) -> float:
        return sum(w * (fa[k] - fb[k]) for w, k in zip(self.weights, FEATURES))

    def _verdict(self, p_a: float, signals: dict[str, Any]) -> Verdict:
        if abs(p_a - 0.5) <= self.tie_band:
            return Verdict("tie", 0.5, signals, self.judge_id)
        preferred: Preferred = "a" if p_a > 0.5 else "b"
        return Verdict(preferred, round(max(p_a, 1 - p_a), 4), signals, self.judge_id)

    def judge(self, question: str, passages: Sequence[str], answer_a: str, answer_b: str
              ) -> Verdict:
        """Compare two answers to ``question`` written from ``passages`` (see module doc)."""
        passages = [p for p in passages if p and p.strip()]
        abstain_a, abstain_b = is_abstention(answer_a), is_abstention(answer_b)
        if (abstain_a and abstain_b) or strip_markers(answer_a) == strip_markers(answer_b):
            return Verdict("tie", 1.0, {"rule": "equivalent"}, self.judge_id)
        if abstain_a or abstain_b:
            return self._abstention(question, passages, answer_a, answer_b, abstain_a)
        fa = answer_features(question, passages, answer_a, self.verifier, self.embed)
        fb = answer_features(question, passages, answer_b, self.verifier, self.embed)
        logit = self.cheap_logit(fa, fb)
        p_cheap = _sigmoid(logit)
        signals: dict[str, Any] = {"a": fa, "b": fb, "p_cheap": round(p_cheap, 4),
                                   "method": "signals"}
        if abs(p_cheap - 0.5) < self.margin and self.generator is not None:
            vote, details = self.model_vote(question, passages, answer_a, answer_b)
            signals.update(details)
            if vote is not None:
                signals["method"] = "model"
                logit += self.model_weight * vote
        return self._verdict(_sigmoid(logit), signals)

    def _abstention(self, question: str, passages: Sequence[str], answer_a: str, answer_b: str,
                    abstain_a: bool) -> Verdict:
        answer = answer_b if abstain_a else answer_a
        f = answer_features(question, passages, answer, self.verifier, self.embed)
        support = f["support_mean"]
        signals: dict[str, Any] = {"rule": "abstention", "answer": f,
                                   "abstained": "a" if abstain_a else "b", "method": "signals"}
        answer_side: Preferred = "b" if abstain_a else "a"
        abstain_side: Preferred = "a" if abstain_a else "b"
        supported = self.verifier.thresholds.supported
        if support >= supported:  # confidence grows from 0.6 at the threshold to 1 at 1.0
            conf = 0.6 + 0.4 * (support - supported) / max(1e-9, 1 - supported)
            return Verdict(answer_side, round(min(1.0, conf), 4), signals, self.judge_id)
        if support < self.unsupported:
            conf = 0.6 + 0.4 * (self.unsupported - support) / max(1e-9, self.unsupported)
            return Verdict(abstain_side, round(min(1.0, conf), 4), signals, self.judge_id)
        vote, details = self.model_vote(question, passages, answer_a, answer_b)
        signals.update(details)
        if vote:
            signals["method"] = "model"
            return Verdict("a" if vote > 0 else "b", round(_sigmoid(self.model_weight), 4),
                           signals, self.judge_id)
        return Verdict(answer_side, 0.55, signals, self.judge_id)


# -- labelling the ask log ------------------------------------------------------------
DEFAULT_OVERRIDES: dict[str, Any] = {"temperature": 0.7, "seed": 1}


def _passages(record: Mapping[str, Any]) -> list[str]:
    """The passages shown to the model, from the logged prompt (else the sources' snippets)."""
    from ..generators.fake import parse_passages

    users = [m.get("content", "") for m in record.get("messages") or [] if m.get("role") == "user"]
    if users:
        found = [text for _, text in parse_passages(users[-1])]
        if found:
            return found
    return [s.get("snippet", "") for s in (record.get("answer") or {}).get("sources", [])]


def _as_logged(ws: Any, answer: Any) -> dict[str, Any]:
    """The second answer as the log holds it (personal data masked alike in both answers)."""
    logged = ws.store.asks(trace_id=answer.trace_id)
    if logged:
        return logged[0].get("answer") or {}
    data = answer.to_dict()
    if getattr(ws.settings, "pii_logs", None) == "mask":
        from ..workspace import _masked

        data = _masked(data, ws.pii_detector)
    return data


def _answer_text(answer: Mapping[str, Any]) -> str:
    return NOT_IN_DOCUMENTS if answer.get("abstained") else str(answer.get("text", ""))


def judge_unlabelled(
    ws: Any,
    limit: int = 20,
    overrides: Mapping[str, Any] | None = None,
    *,
    dry_run: bool = False,
    judge: PreferenceJudge | None = None,
    scan: int = 1000,
    use_model: bool = False,
) -> list[dict[str, Any]]:
    """AI preference labels for up to ``limit`` logged questions without human feedback.

    For each of the newest ``scan`` asks whose question has no human label (a feedback
    record whose ``source`` is missing or not ``"ai"``) and no AI label yet, ask the
    question again with ``overrides`` (default: temperature 0.7, seed 1), judge the two
    answers and store a ``pairwise`` record with ``source = "ai"`` (unless ``dry_run``:
    then nothing is written, the second ask is not logged either). Ties are not stored.
    Returns the records (stored or, with ``dry_run``, that would be).

    ``use_model`` adds the generator's A/B preference where the cheap signals are close.
    Off by default: with Qwen2.5-Coder-0.5B it lowered accuracy (0.920 -> 0.873) at 25x
    the cost, its choices following the position (benchmarks/rlaif_judge.py).
    """
    overrides = dict(overrides or DEFAULT_OVERRIDES)
    if dry_run:
        overrides["log_asks"] = False
    feedback = ws.store.feedback(limit=1_000_000)
    asks = ws.store.asks(limit=scan)
    question_of = {a.get("trace_id"): a.get("question") for a in asks}
    touched: set[str] = set()  # traces in any label: second answers the judge asked for too
    human_questions: set[str] = set()
    ai_questions: set[str] = set()
    for r in feedback:
        traces = {r.get("trace_id"), r.get("chosen_trace_id"), r.get("rejected_trace_id")} - {None}
        touched |= traces
        questions = {question_of[t] for t in traces if t in question_of} | {r.get("question")}
        questions.discard(None)
        (ai_questions if r.get("source") == "ai" else human_questions).update(questions)
    if judge is None:
        judge = PreferenceJudge(ws.generator if use_model else None,
                                embed=ws.embedder.embed_documents)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for record in asks:
        if len(out) >= limit:
            break
        question, trace = record.get("question"), record.get("trace_id")
        if (not question or not trace or trace in touched or question in seen
                or question in human_questions or question in ai_questions):
            continue
        seen.add(question)
        passages = _passages(record)
        if not passages:
            continue
        other = ws.ask(question, overrides=overrides)
        verdict = judge.judge(question, passages, _answer_text(record.get("answer") or {}),
                              _answer_text(_as_logged(ws, other)))
        if verdict.preferred == "tie":
            logger.info("judge: tie, not stored", extra={"trace_id": trace})
            continue
        chosen, rejected = ((trace, other.trace_id) if verdict.preferred == "a"
                            else (other.trace_id, trace))
        label = {"trace_id": chosen, "kind": "pairwise", "chosen_trace_id": chosen,
                 "rejected_trace_id": rejected, "question": question, "source": "ai",
                 "judge": verdict.judge, "principal": verdict.judge,
                 "confidence": verdict.confidence,
                 "signals": verdict.signals, "overrides": {k: v for k, v in overrides.items()
                                                            if k != "log_asks"}}
        if not dry_run:
            label["id"] = ws.store.save_feedback(label)
        out.append(label)
    return out
