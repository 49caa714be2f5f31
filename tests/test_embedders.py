"""Embedder implementations: the contract for each, plus what is specific to each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fiable.embedders.fake import HashingEmbedder
from fiable.embedders.onnx import OnnxEmbedder
from fiable.errors import ModelError, ModelNotFoundError
from tests.conftest import _model_file
from tests.contracts.embedder import EmbedderContract

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "Aspirin irreversibly inhibits cyclooxygenase in platelets.",
    "How do I reset my password?",
    "Le chat dort sur le canapé.",
]


# -- HashingEmbedder (unit) -----------------------------------------------------------


class TestHashingEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> HashingEmbedder:
        return HashingEmbedder()


class TestHashingEmbedderSmallMaxTokens(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> HashingEmbedder:
        return HashingEmbedder(dimension=32, max_tokens=16)


def test_hashing_identity() -> None:
    assert HashingEmbedder().model_id == "hashing-64"
    assert HashingEmbedder(128).model_id == "hashing-128"
    assert HashingEmbedder(128).dimension == 128


def test_hashing_counts_words_and_punctuation() -> None:
    embedder = HashingEmbedder()
    assert embedder.count_tokens("Hello, world!") == 4
    assert embedder.count_tokens("  ") == 0
    assert embedder.count_tokens("don't") == 3


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_hashing_rejects_bad_dimension(bad: object) -> None:
    with pytest.raises(ValueError):
        HashingEmbedder(bad)  # type: ignore[arg-type]


def test_hashing_is_the_same_in_another_process() -> None:
    """blake2b, not hash(): vectors survive a restart (PYTHONHASHSEED differs)."""
    code = (
        "from fiable.embedders.fake import HashingEmbedder;"
        "print(HashingEmbedder().embed_query('stable vectors, please').tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == HashingEmbedder().embed_query("stable vectors, please").tobytes().hex()


def test_hashing_is_case_insensitive() -> None:
    embedder = HashingEmbedder()
    np.testing.assert_array_equal(embedder.embed_query("Cat Mat"), embedder.embed_query("cat mat"))


# -- OnnxEmbedder -------------------------------------------------------------------


def test_onnx_missing_model_file(tmp_path: Path) -> None:
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    with pytest.raises(ModelNotFoundError) as info:
        OnnxEmbedder(tmp_path / "nope.onnx", tokenizer)
    assert info.value.hint is not None and "fiable models pull minilm-l6-v2" in info.value.hint
    assert "nope.onnx" in info.value.message


def test_onnx_missing_tokenizer_file(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x00")
    with pytest.raises(ModelNotFoundError) as info:
        OnnxEmbedder(model, tmp_path / "tokenizer.json")
    assert info.value.hint is not None and "fiable models pull minilm-l6-v2" in info.value.hint


def test_onnx_corrupt_files_raise_model_error(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not an onnx graph")
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("not json")
    with pytest.raises(ModelError):
        OnnxEmbedder(model, tokenizer)


@pytest.mark.parametrize("field", ["max_tokens", "batch_size", "threads"])
def test_onnx_rejects_bad_settings(tmp_path: Path, field: str) -> None:
    with pytest.raises(ValueError):
        OnnxEmbedder(tmp_path / "m.onnx", tmp_path / "t.json", **{field: 0})


def test_onnx_batches_respect_count_and_token_budget() -> None:
    embedder = object.__new__(OnnxEmbedder)  # only the batching arithmetic, no model
    embedder._batch_size, embedder._max_batch_tokens = 4, 100
    lengths = [10] * 6 + [30, 30, 30, 30] + [200]
    batches = embedder._batches(list(range(len(lengths))), lengths)
    assert [len(b) for b in batches] == [4, 3, 3, 1]
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 100


def test_importing_embedders_stays_light() -> None:
    code = (
        "import sys, fiable.embedders.onnx, fiable.embedders.torch, fiable.embedders.fake;"
        "heavy = {'onnxruntime', 'tokenizers', 'torch', 'sentence_transformers', 'transformers'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def onnx_embedder(minilm_onnx: Path, minilm_tokenizer: Path) -> OnnxEmbedder:
    # A small batch size so that the contract's lists cross batch boundaries.
    return OnnxEmbedder(minilm_onnx, minilm_tokenizer, batch_size=4)


@pytest.mark.integration
class TestOnnxEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, onnx_embedder: OnnxEmbedder) -> OnnxEmbedder:
        return onnx_embedder

    def test_minilm_identity(self, embedder: OnnxEmbedder) -> None:
        assert embedder.dimension == 384
        assert embedder.model_id == "all-MiniLM-L6-v2/onnx-int8"
        assert embedder.max_tokens == 256
        assert embedder.count_tokens("Hello world") == 2

    def test_known_similarities(self, embedder: OnnxEmbedder) -> None:
        # Reference (sentence-transformers fp32): 0.75 and -0.11; mean pooling + L2 norm
        # must be right for these to hold.
        a, b, c = embedder.embed_documents(SENTENCES[:3])
        assert 0.65 < float(a @ b) < 0.85
        assert float(a @ c) < 0.1

    def test_ignores_the_tokenizer_files_fixed_padding(self, embedder: OnnxEmbedder) -> None:
        # MiniLM's tokenizer.json pads and truncates to 128: neither may apply here.
        long_text = "word " * 200
        plus = long_text + "different ending " * 10
        v = embedder.embed_documents([long_text, plus])
        assert not np.allclose(v[0], v[1], atol=1e-3)  # tokens 128..255 are read

    def test_batch_size_does_not_change_vectors(
        self, embedder: OnnxEmbedder, minilm_onnx: Path, minilm_tokenizer: Path
    ) -> None:
        big = OnnxEmbedder(minilm_onnx, minilm_tokenizer, batch_size=64, threads=1)
        np.testing.assert_allclose(
            big.embed_documents(SENTENCES), embedder.embed_documents(SENTENCES), atol=1e-4
        )

    def test_token_budget_does_not_change_vectors(
        self, embedder: OnnxEmbedder, minilm_onnx: Path, minilm_tokenizer: Path
    ) -> None:
        texts = [*SENTENCES, "word " * 300, "a b c " * 40]
        tiny = OnnxEmbedder(minilm_onnx, minilm_tokenizer, max_batch_tokens=1)  # one text per run
        np.testing.assert_allclose(tiny.embed_documents(texts), embedder.embed_documents(texts), atol=1e-4)

    def test_model_id_and_max_tokens_settings(self, minilm_onnx: Path, minilm_tokenizer: Path) -> None:
        short = OnnxEmbedder(minilm_onnx, minilm_tokenizer, model_id="custom", max_tokens=8)
        assert short.model_id == "custom" and short.max_tokens == 8
        v = short.embed_documents(["one two three four five six", "one two three four five six seven eight"])
        np.testing.assert_allclose(v[0], v[1], atol=1e-4)  # 6 tokens + [CLS] + [SEP] = 8


# -- SentenceTransformerEmbedder (torch route: `pytest --torch`, run by scripts/test.sh in .venv-torch)


def test_torch_route_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fiable.embedders.torch import SentenceTransformerEmbedder, TorchBackendMissingError

    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import now fails
    with pytest.raises(ImportError) as info:
        SentenceTransformerEmbedder(tmp_path)
    assert isinstance(info.value, TorchBackendMissingError)
    assert isinstance(info.value, ModelError)
    assert "fiable[torch]" in str(info.value)
    assert "torch==2.13.0" in str(info.value)


def test_torch_route_missing_model_dir(tmp_path: Path) -> None:
    from fiable.embedders.torch import SentenceTransformerEmbedder

    with pytest.raises(ModelNotFoundError):
        SentenceTransformerEmbedder(tmp_path / "absent")


@pytest.fixture(scope="session")
def minilm_st_dir() -> Path:
    """The sentence-transformers directory of all-MiniLM-L6-v2 (`minilm-l6-v2-torch`)."""
    return _model_file("FIABLE_TEST_MINILM_ST_DIR", "minilm-l6-v2-torch", "sentence-transformers")


@pytest.fixture(scope="session")
def torch_embedder(minilm_st_dir: Path):
    from fiable.embedders.torch import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(minilm_st_dir, batch_size=4)


@pytest.mark.torch
class TestSentenceTransformerEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, torch_embedder):
        return torch_embedder

    def test_minilm_identity(self, embedder) -> None:
        assert embedder.dimension == 384
        assert embedder.model_id == "all-MiniLM-L6-v2/torch-fp32"
        assert embedder.count_tokens("Hello world") == 2


@pytest.mark.torch
def test_onnx_int8_agrees_with_torch_fp32(
    torch_embedder, minilm_onnx: Path, minilm_tokenizer: Path
) -> None:
    onnx = OnnxEmbedder(minilm_onnx, minilm_tokenizer)
    texts = [*SENTENCES, "word " * 400]
    a = onnx.embed_documents(texts)
    b = torch_embedder.embed_documents(texts)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.98, cosines
    for text in texts:
        assert onnx.count_tokens(text) == torch_embedder.count_tokens(text)
