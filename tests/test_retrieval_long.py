"""Long queries (windows pooled into one vector, BM25 over the rarest terms) and the ranking
of documents from their chunks (max, sum of the top two, RRF across chunks)."""

from __future__ import annotations

import numpy as np
import pytest

from fiable.embedders.fake import HashingEmbedder
from fiable.lexical import rarest_terms
from fiable.retrieval import query_vector, query_windows, rank_documents

SENTENCES = [f"Sentence number {i} talks about topic{i} in some detail here." for i in range(12)]


def test_a_query_that_fits_is_one_window_and_embedded_as_is():
    e = HashingEmbedder(max_tokens=256)
    text = " ".join(SENTENCES[:3])
    assert query_windows(e, text) == [text]
    np.testing.assert_array_equal(query_vector(e, text), e.embed_query(text))


def test_a_long_query_is_cut_into_whole_sentence_windows_that_fit():
    e = HashingEmbedder(max_tokens=40)  # 32 tokens per window; a sentence is 11
    text = " ".join(SENTENCES)
    windows = query_windows(e, text)
    assert len(windows) == 6  # two sentences a window
    assert all(e.count_tokens(w) <= 32 for w in windows)
    assert " ".join(windows) == text  # nothing lost, nothing repeated, in order
    assert all(w.endswith(".") for w in windows)


def test_a_sentence_longer_than_a_window_is_cut_at_words():
    e = HashingEmbedder(max_tokens=24)  # 16 tokens per window
    text = " ".join(f"word{i}" for i in range(50))
    windows = query_windows(e, text)
    assert len(windows) == 4 and all(e.count_tokens(w) <= 16 for w in windows)
    assert " ".join(windows).split() == text.split()


def test_the_mean_vector_hears_the_end_of_the_query_and_first_does_not():
    e = HashingEmbedder(256, max_tokens=40)
    end = "Zeppelins hover above Lisbon harbour tonight."
    text = " ".join([*SENTENCES[:5], end])
    tail = e.embed_query(end)
    mean, first = query_vector(e, text, pool="mean"), query_vector(e, text, pool="first")
    assert np.isclose(np.linalg.norm(mean), 1.0, atol=1e-5)
    assert float(mean @ tail) > 0.15 > 0.05 > float(first @ tail)  # first never read it
    with pytest.raises(ValueError, match="query pool"):
        query_vector(e, text, pool="median")  # type: ignore[arg-type]


def test_rarest_terms_keep_query_order_and_drop_unknown_terms():
    df = {"leave": 900, "annual": 40, "carry": 3, "over": 700}
    assert rarest_terms(["annual", "leave", "carry", "over", "zzz"], df, 2) == ["annual", "carry"]
    assert rarest_terms(["leave", "leave", "over"], df, 5) == ["leave", "over"]
    assert rarest_terms(["zzz"], df, 3) == []
    assert rarest_terms(["over", "zzz", "carry"], df, 0) == ["over", "carry"]  # 0: every term
    assert rarest_terms(["over", "carry"], df, -1) == ["over", "carry"]


KEY = {1: "a", 2: "b", 3: "a", 4: "c", 5: "b"}
RANKED = [(4, 0.9), (1, 0.8), (3, 0.7), (2, 0.3), (5, 0.2)]


def test_max_pooling_ranks_a_document_by_its_best_chunk():
    assert rank_documents(RANKED, KEY) == ["c", "a", "b"]
    assert rank_documents(RANKED + [(9, 1.0)], KEY) == ["c", "a", "b"]  # unknown chunk skipped


def test_sum_of_two_and_rrf_reward_documents_that_match_twice():
    assert rank_documents(RANKED, KEY, pool="sum2") == ["a", "c", "b"]  # 1.5 > 0.9 > 0.5
    assert rank_documents(RANKED, KEY, pool="rrf") == ["a", "b", "c"]  # two chunks beat one
    with pytest.raises(ValueError, match="document pool"):
        rank_documents(RANKED, KEY, pool="mean")  # type: ignore[arg-type]
