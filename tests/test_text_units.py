"""Sentence splitting, chunking and citation mapping."""

import numpy as np
import pytest

from fiable.chunking import chunk_document, embedding_text
from fiable.citations import cite_sentences, strip_markers
from fiable.documents import Block, LoadedDocument
from fiable.sentences import content_words, sentence_spans, split_sentences


def words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("text, expected", [
    ("One. Two! Three?", ["One.", "Two!", "Three?"]),
    ("Dr. Smith met Mr. Jones. Then they left.", ["Dr. Smith met Mr. Jones.", "Then they left."]),
    ("Costs rose 3.5 percent. See e.g. the table.", ["Costs rose 3.5 percent.", "See e.g. the table."]),
    ("The answer is 27 days [1]. Requests go via HR [2].", ["The answer is 27 days [1].", "Requests go via HR [2]."]),
    ("- item one\n- item two", ["- item one", "- item two"]),
    ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
    ("lower case. after period stays", ["lower case. after period stays"]),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_sentence_spans_are_exact_offsets():
    text = "  First one.  Second one.\n\nThird."
    assert [text[a:b] for a, b in sentence_spans(text)] == ["First one.", "Second one.", "Third."]


def test_content_words_fold_accents_and_drop_stop_words():
    assert content_words("The Café in Lyon is open") == ["cafe", "lyon", "open"]


def _doc(*blocks: Block) -> LoadedDocument:
    return LoadedDocument(source="x.md", title="Handbook", format="markdown", blocks=tuple(blocks))


def test_chunks_are_exact_slices_and_bounded():
    sentences = " ".join(f"Sentence number {i} has a few words in it." for i in range(60))
    doc = _doc(Block("Leave", "heading", ("Leave",), level=1),
               Block(sentences, "paragraph", ("Leave",)))
    chunks = chunk_document(doc, count_tokens=words, max_tokens=40, overlap=10)
    text = doc.text()
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.char_start:c.char_end] == c.text
        assert c.token_count <= 40
        assert c.heading_path == ("Leave",)
    assert chunks[0].text.startswith("Leave")
    # overlap: the next chunk repeats the tail of the previous one
    assert chunks[2].char_start < chunks[1].char_end


def test_headings_start_chunks_without_overlap_across_sections():
    doc = _doc(Block("A", "heading", ("A",), level=1), Block("Alpha text here.", "paragraph", ("A",)),
               Block("B", "heading", ("B",), level=1), Block("Beta text here.", "paragraph", ("B",)))
    chunks = chunk_document(doc, count_tokens=words, max_tokens=50, overlap=10)
    assert [c.text for c in chunks] == ["A\n\nAlpha text here.", "B\n\nBeta text here."]
    assert [c.heading_path for c in chunks] == [("A",), ("B",)]


def test_pages_split_chunks_and_are_kept():
    doc = LoadedDocument(source="x.pdf", title="T", format="pdf", blocks=(
        Block("Page one text.", page=1), Block("More page one.", page=1), Block("Page two text.", page=2)))
    chunks = chunk_document(doc, count_tokens=words, max_tokens=50, overlap=10)
    assert [(c.page_start, c.page_end) for c in chunks] == [(1, 1), (2, 2)]
    assert chunks[1].text == "Page two text."


def test_a_huge_sentence_is_cut_at_word_boundaries():
    doc = _doc(Block("word " * 500 + "end."))
    chunks = chunk_document(doc, count_tokens=words, max_tokens=64, overlap=0)
    assert all(c.token_count <= 64 for c in chunks)
    assert sum(c.token_count for c in chunks) == 501


def test_embedding_text_prefixes_title_and_headings():
    assert embedding_text("Handbook", ("Leave", "Annual"), "27 days.") == "Handbook > Leave > Annual\n27 days."
    assert embedding_text("", (), "x") == "x"


PASSAGES = ["Employees receive 27 working days of paid annual leave each year.",
            "Expense claims need a receipt and must be filed within 30 days."]


def test_markers_map_sentences_to_passages():
    cited = cite_sentences("You get 27 days [1]. Claims need receipts [2][1].", PASSAGES)
    assert [(c.text, c.citations, c.method) for c in cited] == [
        ("You get 27 days.", (1,), "marker"), ("Claims need receipts.", (2, 1), "marker")]


def test_marker_after_period_belongs_to_previous_sentence():
    cited = cite_sentences("You get 27 days. [1] Claims need receipts. [2]", PASSAGES)
    assert [c.citations for c in cited] == [(1,), (2,)]


def test_invalid_marker_falls_back_to_overlap_then_none():
    cited = cite_sentences("Employees receive 27 working days of paid leave [9]. "
                           "The moon is made of cheese.", PASSAGES)
    assert cited[0].citations == (1,) and cited[0].method == "overlap"
    assert cited[1].citations == () and cited[1].method == "none"


def test_embedding_fallback():
    def embed(texts):
        return np.array([[1.0, 0.0] for _ in texts], dtype=np.float32)

    cited = cite_sentences("Totally different wording here.", PASSAGES, embed=embed,
                           passage_vectors=lambda: np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32))
    assert cited[0].citations == (2,) and cited[0].method == "embedding"


def test_strip_markers():
    assert strip_markers("Twenty-seven days [1, 2] .") == "Twenty-seven days."
