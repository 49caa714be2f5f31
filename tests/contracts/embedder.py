"""Reusable contract tests for every ``Embedder`` (see ``fiable.embedders.base``).

Subclass ``EmbedderContract`` in a test module and override the ``embedder`` fixture::

    @pytest.fixture(scope="module")
    def my_embedder():
        return MyEmbedder()           # built once: models are slow to load

    class TestMyEmbedder(EmbedderContract):
        @pytest.fixture
        def embedder(self, my_embedder):
            return my_embedder

Class attributes tune the suite: ``symmetric`` (queries and documents share one encoder,
so ``embed_query(t) == embed_documents([t])[0]``), ``batch_tolerance`` (the contract's
1e-4).
"""

from __future__ import annotations

import numpy as np
import pytest

from fiable.embedders.base import Embedder

NORM_TOLERANCE = 1e-3

SHORT = "The cat sat on the mat."
MEDIUM = (
    "Aspirin irreversibly inhibits cyclooxygenase, which lowers the production of "
    "thromboxane A2 in platelets and so reduces clotting for the life of the platelet."
)
LONG = " ".join(
    [
        "The committee reviewed the annual budget, the staffing plan and the maintenance",
        "schedule of the northern water treatment plant; after a long discussion about",
        "pipe replacement costs, chlorine supply contracts and overtime rules, it asked",
        "the engineers to come back next month with two costed options and a timeline.",
    ]
)
UNICODE = "Naïve café in Zürich — 東京 🙂 ½ ﬁ"

# (anchor, related, unrelated): the related text shares topic *and* words, so even a
# bag-of-words fake must rank it first.
TRIPLETS = [
    (
        "How do I reset my account password?",
        "To reset your password, open account settings and choose reset password.",
        "The volcano erupted in 1883 and darkened skies across the world.",
    ),
    (
        "Aspirin reduces the risk of blood clots.",
        "Low-dose aspirin lowers the risk of clots forming in blood vessels.",
        "The football match was postponed because of heavy snow.",
    ),
    (
        "The cat sat on the mat.",
        "A cat was sitting on the mat.",
        "Quarterly revenue grew by five percent.",
    ),
]


def _words(n: int) -> str:
    vocabulary = ["alpha", "river", "stone", "quickly", "seven", "bright", "window", "paper"]
    return " ".join(vocabulary[i % len(vocabulary)] for i in range(n))


def _assert_valid_rows(vectors: np.ndarray, dimension: int) -> None:
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32
    assert vectors.ndim == 2 and vectors.shape[1] == dimension
    assert np.all(np.isfinite(vectors))
    norms = np.linalg.norm(vectors, axis=1)
    for norm in norms:
        assert norm == 0.0 or abs(norm - 1.0) <= NORM_TOLERANCE, norms


class EmbedderContract:
    """Every point of the Embedder contract; subclasses provide ``embedder``."""

    symmetric: bool = True
    batch_tolerance: float = 1e-4

    @pytest.fixture
    def embedder(self) -> Embedder:  # pragma: no cover - overridden
        raise NotImplementedError("override the `embedder` fixture")

    # -- identity ------------------------------------------------------------------

    def test_is_an_embedder(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)

    def test_model_id_dimension_and_max_tokens(self, embedder: Embedder) -> None:
        assert isinstance(embedder.model_id, str) and embedder.model_id.strip()
        assert embedder.model_id == embedder.model_id  # stable property
        assert isinstance(embedder.dimension, int) and embedder.dimension > 0
        assert isinstance(embedder.max_tokens, int) and embedder.max_tokens > 0

    # -- shapes, dtype, norms --------------------------------------------------------

    def test_documents_are_unit_float32_rows(self, embedder: Embedder) -> None:
        texts = [SHORT, MEDIUM, LONG, UNICODE]
        vectors = embedder.embed_documents(texts)
        assert vectors.shape == (len(texts), embedder.dimension)
        _assert_valid_rows(vectors, embedder.dimension)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=NORM_TOLERANCE)

    def test_query_is_a_unit_float32_vector(self, embedder: Embedder) -> None:
        vector = embedder.embed_query("what lowers the risk of clots?")
        assert isinstance(vector, np.ndarray)
        assert vector.dtype == np.float32
        assert vector.shape == (embedder.dimension,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) <= NORM_TOLERANCE

    def test_accepts_a_tuple(self, embedder: Embedder) -> None:
        vectors = embedder.embed_documents((SHORT, MEDIUM))
        assert vectors.shape == (2, embedder.dimension)

    def test_empty_list_gives_zero_rows(self, embedder: Embedder) -> None:
        vectors = embedder.embed_documents([])
        assert isinstance(vectors, np.ndarray)
        assert vectors.shape == (0, embedder.dimension)
        assert vectors.dtype == np.float32

    def test_empty_text_gives_the_zero_vector(self, embedder: Embedder) -> None:
        vectors = embedder.embed_documents([SHORT, "", MEDIUM])
        _assert_valid_rows(vectors, embedder.dimension)
        assert not vectors[1].any()
        assert abs(float(np.linalg.norm(vectors[0])) - 1.0) <= NORM_TOLERANCE
        assert abs(float(np.linalg.norm(vectors[2])) - 1.0) <= NORM_TOLERANCE
        query = embedder.embed_query("")
        assert query.shape == (embedder.dimension,) and query.dtype == np.float32
        assert not query.any()

    def test_only_empty_texts(self, embedder: Embedder) -> None:
        vectors = embedder.embed_documents(["", ""])
        assert vectors.shape == (2, embedder.dimension)
        assert not vectors.any()

    def test_whitespace_and_unusual_text_give_valid_rows(self, embedder: Embedder) -> None:
        texts = ["   ", "\n\t", UNICODE, "?!", "a", "x" * 5000]
        _assert_valid_rows(embedder.embed_documents(texts), embedder.dimension)

    def test_rejects_a_bare_string(self, embedder: Embedder) -> None:
        # Beyond base.py, but cheap: a str is a Sequence[str] of characters.
        with pytest.raises(TypeError):
            embedder.embed_documents("not a list")  # type: ignore[arg-type]

    # -- determinism and batch independence -------------------------------------------

    def test_deterministic(self, embedder: Embedder) -> None:
        texts = [SHORT, MEDIUM, LONG]
        first = embedder.embed_documents(texts)
        second = embedder.embed_documents(texts)
        np.testing.assert_allclose(first, second, rtol=0, atol=self.batch_tolerance)

    def test_vector_does_not_depend_on_the_batch(self, embedder: Embedder) -> None:
        alone = embedder.embed_documents([SHORT])[0]
        others = [LONG, "", MEDIUM, "Yes.", UNICODE, _words(60)]
        # At the start, the middle and the end of batches of mixed lengths, and in a
        # list longer than any usual batch size (crossing batch boundaries).
        batches = [
            [SHORT, *others],
            [*others[:3], SHORT, *others[3:]],
            [*others, SHORT],
            [_words(n) for n in range(1, 70, 2)] + [SHORT] + [_words(n) for n in range(70, 1, -3)],
        ]
        for batch in batches:
            vectors = embedder.embed_documents(batch)
            np.testing.assert_allclose(
                vectors[batch.index(SHORT)], alone, rtol=0, atol=self.batch_tolerance
            )

    def test_every_row_matches_its_text_embedded_alone(self, embedder: Embedder) -> None:
        texts = [LONG, SHORT, "", MEDIUM, "Yes.", _words(40)]
        together = embedder.embed_documents(texts)
        for row, text in enumerate(texts):
            alone = embedder.embed_documents([text])[0]
            np.testing.assert_allclose(together[row], alone, rtol=0, atol=self.batch_tolerance)

    def test_order_is_preserved(self, embedder: Embedder) -> None:
        texts = [SHORT, LONG, MEDIUM, "Yes."]
        forward = embedder.embed_documents(texts)
        backward = embedder.embed_documents(texts[::-1])
        np.testing.assert_allclose(forward, backward[::-1], rtol=0, atol=self.batch_tolerance)

    def test_query_matches_document_for_symmetric_models(self, embedder: Embedder) -> None:
        if not self.symmetric:
            pytest.skip("asymmetric model: queries and documents are encoded differently")
        for text in (SHORT, MEDIUM, ""):
            np.testing.assert_allclose(
                embedder.embed_query(text),
                embedder.embed_documents([text])[0],
                rtol=0,
                atol=self.batch_tolerance,
            )

    # -- tokens ------------------------------------------------------------------------

    def test_count_tokens_is_sane(self, embedder: Embedder) -> None:
        assert embedder.count_tokens("") == 0
        one = embedder.count_tokens("hello")
        assert isinstance(one, int) and one >= 1
        sentence = embedder.count_tokens(SHORT)
        # Without special tokens: a few per word, never fewer than the words.
        assert len(SHORT.split()) <= sentence <= 4 * len(SHORT)

    def test_count_tokens_is_monotonic(self, embedder: Embedder) -> None:
        previous = 0
        for n in (1, 5, 20, 100, 400):
            count = embedder.count_tokens(_words(n))
            assert count >= previous
            assert count >= n  # each word is at least one token
            previous = count
        assert embedder.count_tokens(SHORT + " " + MEDIUM) >= embedder.count_tokens(SHORT)

    def test_count_tokens_is_not_truncated(self, embedder: Embedder) -> None:
        # The chunker relies on true counts beyond max_tokens.
        text = _words(3 * embedder.max_tokens)
        assert embedder.count_tokens(text) >= 3 * embedder.max_tokens

    def test_long_text_is_truncated_without_error(self, embedder: Embedder) -> None:
        long_text = _words(3 * embedder.max_tokens)
        vectors = embedder.embed_documents([long_text, long_text + " " + MEDIUM * 5, SHORT])
        _assert_valid_rows(vectors, embedder.dimension)
        assert abs(float(np.linalg.norm(vectors[0])) - 1.0) <= NORM_TOLERANCE
        # Whatever follows the limit is not read.
        np.testing.assert_allclose(vectors[0], vectors[1], rtol=0, atol=self.batch_tolerance)

    # -- meaning -----------------------------------------------------------------------

    @pytest.mark.parametrize("anchor, related, unrelated", TRIPLETS)
    def test_related_texts_are_closer(
        self, embedder: Embedder, anchor: str, related: str, unrelated: str
    ) -> None:
        query = embedder.embed_query(anchor)
        docs = embedder.embed_documents([related, unrelated])
        near, far = docs @ query
        assert near > far + 0.05, (near, far)

    def test_same_text_is_most_similar_to_itself(self, embedder: Embedder) -> None:
        docs = embedder.embed_documents([SHORT, MEDIUM, LONG])
        similarity = docs @ docs.T
        assert np.all(np.argmax(similarity, axis=1) == np.arange(3))
