"""Map every sentence of a generated answer to the passages that back it.

1. Markers: ``[n]`` / ``[n, m]`` written by the model, when ``n`` names a passage shown to
   it. A marker at the start of a sentence (``"... leave. [1] Requests ..."``) belongs to
   the sentence before it.
2. Evidence overlap, for sentences without a valid marker: the passage sharing the largest
   share of the sentence's content words (at least ``min_overlap``); failing that, the
   passage whose embedding is closest to the sentence's (at least ``min_similarity``).
3. Otherwise the sentence has no citation (``method == "none"``): the trust layer and
   the interfaces mark it as unsupported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np

from .sentences import content_words, sentence_spans

__all__ = ["CitedSentence", "cite_sentences", "strip_markers", "ABSTAIN_PATTERN"]

_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
# "According to Passage 2, ..." / "(passages 1 and 3)": small models name passages in words.
_NAMED = re.compile(
    r"(?:(?:according to|based on|as stated in|as per|from|in|see)\s+)?(?:the\s+)?\(?"
    r"passages?\s+(\d{1,3}(?:\s*(?:,|and|&)\s*\d{1,3})*)\)?\s*,?\s*",
    re.IGNORECASE,
)
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+")
# The model's refusals, English and French ("Cette information ne figure pas dans les
# documents.", "Je ne sais pas.", "Les passages ne mentionnent pas ...").
ABSTAIN_PATTERN = re.compile(
    r"^\W*(not in the documents|i don'?t know|the (passages|documents) do not"
    r"|(cette|l'|l’)\s*information ne (figure|se trouve) pas"
    r"|(ce n'est|ce n’est|ceci n'est|ceci n’est|la réponse n'est|la réponse n’est) pas dans les"
    r" (passages|documents)|pas dans les documents|je ne sais pas"
    r"|les (passages|documents) ne (mentionnent|contiennent|disent|précisent|indiquent|donnent"
    r"|fournissent|parlent)"
    r"|aucun(e)? (information|passage|mention|réponse))", re.IGNORECASE
)

Method = Literal["marker", "overlap", "embedding", "none"]


@dataclass(frozen=True, slots=True)
class CitedSentence:
    text: str  # without markers
    citations: tuple[int, ...]  # passage numbers, 1-based
    method: Method
    evidence: float  # overlap share or cosine behind the citation (1.0 for markers)


def _numbers(fragment: str) -> list[int]:
    found = [n for m in _MARKER.finditer(fragment) for n in re.split(r"[,;]", m.group(1))]
    found += [n for m in _NAMED.finditer(fragment) for n in re.findall(r"\d{1,3}", m.group(1))]
    return [int(n) for n in found]


def strip_markers(text: str) -> str:
    """``text`` without ``[n]`` markers or "according to passage n," and the spaces left."""
    cleaned = _MARKER.sub("", text)
    cleaned = _NAMED.sub("", cleaned)
    if cleaned[:1].islower() and text[:1].isupper():
        cleaned = cleaned[0].upper() + cleaned[1:]
    cleaned = re.sub(r"\s+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


def _overlap(sentence_words: set[str], passage_words: set[str]) -> float:
    return len(sentence_words & passage_words) / len(sentence_words) if sentence_words else 0.0


def cite_sentences(
    answer: str,
    passages: Sequence[str],
    *,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    passage_vectors: Callable[[], np.ndarray] | None = None,
    min_overlap: float = 0.5,
    min_similarity: float = 0.6,
) -> list[CitedSentence]:
    """Split ``answer`` into sentences and cite each (see module docstring).

    ``passages[i]`` is passage number ``i + 1``. ``embed`` (texts -> unit vectors) and
    ``passage_vectors`` (called only when needed, returns one unit vector per passage)
    enable the embedding fallback.
    """
    raw: list[tuple[str, list[int]]] = []
    for start, end in sentence_spans(answer):
        fragment = answer[start:end]
        lead = _LEADING_MARKERS.match(fragment)
        if lead and raw:
            raw[-1][1].extend(_numbers(lead.group(0)))
            fragment = fragment[lead.end():]
        text = strip_markers(fragment)
        if not re.search(r"\w", text):
            if raw:
                raw[-1][1].extend(_numbers(fragment))
            continue
        raw.append((text, _numbers(fragment)))

    passage_words = [set(content_words(p)) for p in passages]
    valid = range(1, len(passages) + 1)
    results: list[CitedSentence | None] = []
    pending: list[int] = []
    for i, (text, numbers) in enumerate(raw):
        cited = tuple(dict.fromkeys(n for n in numbers if n in valid))
        if cited:
            results.append(CitedSentence(text, cited, "marker", 1.0))
            continue
        words = set(content_words(text))
        scores = [_overlap(words, pw) for pw in passage_words]
        best = max(range(len(scores)), key=scores.__getitem__) if scores else -1
        if best >= 0 and scores[best] >= min_overlap and len(words) >= 2:
            results.append(CitedSentence(text, (best + 1,), "overlap", round(scores[best], 3)))
        else:
            results.append(None)
            pending.append(i)

    if pending and embed is not None and passage_vectors is not None and len(passages):
        vectors = embed([raw[i][0] for i in pending])
        sims = vectors @ passage_vectors().T
        for row, i in enumerate(pending):
            best = int(np.argmax(sims[row]))
            if float(sims[row, best]) >= min_similarity and not ABSTAIN_PATTERN.match(raw[i][0]):
                results[i] = CitedSentence(
                    raw[i][0], (best + 1,), "embedding", round(float(sims[row, best]), 3)
                )
    return [
        r if r is not None else CitedSentence(raw[i][0], (), "none", 0.0)
        for i, r in enumerate(results)
    ]
