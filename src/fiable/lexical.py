"""Lexical analysis per language: what BM25 indexes and what a query searches for.

Both stores index the *analysed* text of a chunk (SQLite's FTS5 with a tokenizer that only
splits on spaces and case, PostgreSQL's postings through the ``simple`` configuration), so
tokenisation, stemming and accent folding happen here, once, identically for documents and
queries and in both stores:

1. NFKC normalisation and lower case;
2. tokens: runs of letters and digits (``"covid-19"`` -> ``covid``, ``19``; ``"l'employé"``
   -> ``l``, ``employé``), as FTS5's unicode61 splits them;
3. the Snowball stemmer of the text's language (PyStemmer; English keeps the original
   Porter stemmer fiable has always used, measured as good as Snowball's English on SciFact:
   see docs/multilingual.md); a language without a stemmer is only folded;
4. accents folded *after* stemming (the French stemmer needs them: ``congés`` -> ``cong``).

Stop words are not removed from documents (BM25's IDF already weighs them down, and a
phrase keeps all its words); a query drops the stop words of each language it is analysed
in. A query is analysed in every language of the collections it searches (their documents
may not be in the asker's language) and the stems are searched together; a stop word of any
of those languages is dropped from all of them (``how`` must not become a rare French word).

    >>> analyse("Les congés payés des salariés", "fr")
    ['le', 'cong', 'pai', 'de', 'salari']
    >>> query_terms("Combien de jours de congés ?", ["fr"])
    ['combien', 'jour', 'cong']
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from typing import Any, Iterable, Sequence

__all__ = ["DEFAULT_LANGUAGE", "DEFAULT_QUERY_TERMS", "STEMMERS", "analyse", "chunk_languages",
           "document_language", "index_text", "query_terms", "rarest_terms"]

DEFAULT_LANGUAGE = "en"

# ISO 639-1 code -> PyStemmer algorithm.
STEMMERS: dict[str, str] = {
    "en": "porter",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
}

_TOKEN = re.compile(r"[^\W_]+")

_STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("""
        a an and are as at be been being but by can could did do does doing for from had has
        have having he her here hers him his how i if in into is it its itself just me more
        most my no nor not of off on once only or other our ours out over own same she should
        so some such than that the their theirs them then there these they this those through
        to too under until up very was we were what when where which while who whom why will
        with would you your yours also any each may must per via about after again against all
        am before below between both during few further above because down
        """.split()),
    "fr": frozenset("""
        a à au aux avec ce ces cet cette c ça d dans de des du elle elles en et eux il ils je
        j l la le les leur leurs lui m ma mais me même mes moi mon n ne nos notre nous on ou
        où par pas pour qu que qui s sa se ses son sont sur t ta te tes toi ton tu un une vos
        votre vous y été être est sont était ai as avons avez ont avait avaient aura auront
        sera seront fait faire peut peuvent plus moins très comme si aussi donc or ni car
        quel quelle quels quelles quoi dont lors entre sans sous chez vers
        """.split()),
}


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=None)
def _stemmer(language: str) -> tuple[Any, threading.Lock] | None:
    """The stemmer of ``language`` and the lock that guards it (PyStemmer's objects are not
    thread-safe), or None for a language without one."""
    algorithm = STEMMERS.get(language)
    if algorithm is None:
        return None
    import Stemmer

    return Stemmer.Stemmer(algorithm), threading.Lock()


def _words(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def _stem(words: list[str], language: str) -> list[str]:
    found = _stemmer(language)
    if found is None or not words:
        return words
    stemmer, lock = found
    with lock:
        return list(stemmer.stemWords(words))


def analyse(text: str, language: str) -> list[str]:
    """The index tokens of ``text`` in ``language`` (ISO 639-1): lower-cased, stemmed, then
    accent-folded; order and repeats kept."""
    return [_fold(t) for t in _stem(_words(text), language)]


def index_text(text: str, language: str) -> str:
    """``analyse`` joined by spaces: the text a store indexes for ``text``."""
    return " ".join(analyse(text, language))


def query_terms(query: str, languages: Iterable[str], *, limit: int = 64,
                stop_words: bool = True) -> list[str]:
    """The distinct index tokens to search for ``query`` over documents in ``languages``
    (the query analysed in each; ``DEFAULT_LANGUAGE`` when none), stop words of each
    language dropped unless ``stop_words`` is False; at most ``limit``."""
    words = _words(query)
    chosen = _languages(languages)
    stop: frozenset[str] = frozenset()
    if stop_words:
        stop = frozenset().union(*(_STOP_WORDS.get(lang, frozenset()) for lang in chosen))
    kept = [w for w in words if w not in stop and _fold(w) not in stop]
    terms: dict[str, None] = {}
    for language in chosen:
        for term in (_fold(t) for t in _stem(kept, language)):
            terms.setdefault(term, None)
    return list(terms)[:limit]


# A long query (a pasted page) searches BM25 for its rarest terms only, which bounds its
# cost (every term of an OR query is scored in every chunk holding it). 128 keeps what
# every term finds on the long-query dev sets of benchmarks/retrieval_sets.py (fewer terms
# lost nDCG@10: 64 -0.8 points, 16 -3.3 on scifact-long) and cuts its BM25 time.
DEFAULT_QUERY_TERMS = 128


def rarest_terms(terms: Sequence[str], document_frequency: dict[str, int],
                 limit: int) -> list[str]:
    """The ``limit`` terms of ``terms`` found in the fewest chunks, in query order; a term in
    no chunk (``document_frequency`` lacks it or says 0) is dropped: it can match nothing.
    ``limit`` 0 (or below) keeps every term found."""
    found = list(dict.fromkeys(t for t in terms if document_frequency.get(t, 0) > 0))
    if limit <= 0:
        return found
    order = {t: i for i, t in enumerate(found)}
    keep = set(sorted(found, key=lambda t: (document_frequency[t], order[t]))[:limit])
    return [t for t in found if t in keep]


def _languages(languages: Iterable[str]) -> Sequence[str]:
    found = list(dict.fromkeys(languages))
    return found or [DEFAULT_LANGUAGE]


_SAMPLE_CHARS = 2000  # a document's language is read from its first characters
_CHUNK_MIN_LETTERS = 120  # shorter chunks take their document's language
_CHUNK_CONFIDENCE = 0.95  # a chunk switches language only on strong evidence
_CHUNK_SAMPLE_CHARS = 600


def document_language(texts: Iterable[str], *, default: str = DEFAULT_LANGUAGE) -> str:
    """The language (ISO 639-1) of a document made of ``texts`` (its chunks or blocks, in
    order), read from its first few thousand characters; ``default`` when unclear."""
    from .language import detect_language

    sample: list[str] = []
    size = 0
    for text in texts:
        sample.append(text)
        size += len(text)
        if size >= _SAMPLE_CHARS:
            break
    return detect_language(" ".join(sample)[:_SAMPLE_CHARS], default=default, min_confidence=0.5)


def chunk_languages(texts: Sequence[str], document: str) -> list[str]:
    """The language of each chunk: its document's, unless the chunk is long enough and
    clearly in another language (a quoted English section in a French report)."""
    from .language import detect_language

    if len(texts) == 1:  # the document's language was read from this very text
        return [document]
    out = []
    for text in texts:
        if sum(ch.isalpha() for ch in text) < _CHUNK_MIN_LETTERS:
            out.append(document)
        else:
            out.append(detect_language(text[:_CHUNK_SAMPLE_CHARS], default=document,
                                       min_confidence=_CHUNK_CONFIDENCE))
    return out
