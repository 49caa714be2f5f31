import sqlite3

import numpy as np
import pytest

from fiable.store.migrations import MIGRATIONS
from fiable.store.sqlite import SQLiteStore
from tests.contracts.store import StoreContract, _vec, doc


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        s = SQLiteStore(tmp_path / "fiable.db")
        yield s
        s.close()


class TestSQLiteStoreScoredByFTS5(StoreContract):
    """The same contract when the store is too large for the in-memory BM25 index."""

    @pytest.fixture
    def store(self, tmp_path, monkeypatch):
        monkeypatch.setattr("fiable.store.sqlite._MEMORY_BM25_MAX_CHUNKS", 0)
        s = SQLiteStore(tmp_path / "fiable.db")
        yield s
        assert s._bm25_cache is None or s._bm25_cache[1] is None  # FTS5 scored every query
        s.close()


def _random_corpus(seed: int) -> list[tuple[str, str, list[str]]]:
    """(collection, language, chunk texts) per document: words drawn from a small
    vocabulary (so terms are shared, frequent and rare), English and French."""
    import random

    rng = random.Random(seed)
    words = {"en": "leave annual days policy manager approves travel train hotel night "
                   "expense claims receipt laptop password security badge office parking".split(),
             "fr": "congé annuel jours politique responsable approuve voyage train hôtel nuit "
                   "frais justificatif ordinateur mot passe sécurité badge bureau parking".split()}
    docs = []
    for i in range(40):
        lang = "fr" if i % 3 == 0 else "en"
        chunks = [" ".join(rng.choice(words[lang]) for _ in range(rng.randint(3, 60)))
                  for _ in range(rng.randint(1, 4))]
        docs.append((f"c{i % 3}", lang, chunks))
    return docs


def test_in_memory_bm25_ranks_and_scores_exactly_as_fts5(tmp_path):
    from fiable.store.base import DocumentWrite
    from tests.contracts.store import _chunk

    store = SQLiteStore(tmp_path / "fiable.db")
    for i, (collection, lang, chunks) in enumerate(_random_corpus(7)):
        store.ensure_collection(collection)
        store.replace_documents(collection, [DocumentWrite(
            source=f"d{i}.md", title=f"Note {i} parking" if i % 5 == 0 else "Note",
            format="text", content_hash="x", pipeline="p", size_bytes=1, pages=None,
            chunks=[_chunk(j, t) for j, t in enumerate(chunks)],
            vectors=np.stack([_vec(1)] * len(chunks)), metadata={"language": lang})],
            embedding_model="m")
    queries = ["annual leave days", "parking", "hotel night receipt expense", "congés annuels",
               "badge sécurité bureau parking manager", "zeppelin", "note parking policy travel"]
    compared = 0
    for query in queries:
        for collections in (None, ["c0"], ["c1", "c2"]):
            from fiable.lexical import query_terms

            terms = query_terms(query, store.languages(collections), limit=1024)
            fts = store._fts_search(terms, 20, collections)
            memory = store.lexical_search(query, 20, collections, max_terms=0)
            assert [i for i, _ in memory] == [i for i, _ in fts], (query, collections)
            np.testing.assert_allclose([x for _, x in memory], [x for _, x in fts], rtol=1e-9)
            compared += len(fts)
    assert compared > 100 and store._bm25_cache is not None and store._bm25_cache[1] is not None
    # a write is seen at once: FTS5 answers while the index is rebuilt in the background
    before = store._bm25_cache
    store.replace_documents("c0", [doc("z.md", ["zeppelin parking"], [_vec(1)])], embedding_model="m")
    [(hit, score)] = store.lexical_search("zeppelin", 5)
    assert store.chunks([hit])[0].source == "z.md"
    store.wait_for_index(10)
    assert store._bm25_cache is not before and store._bm25_cache[1] is not None
    assert store._bm25_index() is store._bm25_cache[1]  # the new index, no other rebuild
    assert store.lexical_search("zeppelin", 5) == [(hit, pytest.approx(score))]
    store.close()


def test_wal_foreign_keys_and_migrations_recorded(tmp_path):
    store = SQLiteStore(tmp_path / "fiable.db")
    store.close()
    conn = sqlite3.connect(tmp_path / "fiable.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]


def test_opening_an_old_workspace_applies_new_migrations(tmp_path):
    path = tmp_path / "fiable.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE asks")
    conn.execute("DELETE FROM migrations WHERE name = '002_ask_log'")
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    store.log_ask({"trace_id": "t1", "question": "q"})
    assert store.asks()[0]["trace_id"] == "t1"


def test_vector_cache_sees_writes_from_another_connection(tmp_path):
    a, b = SQLiteStore(tmp_path / "fiable.db"), SQLiteStore(tmp_path / "fiable.db")
    a.ensure_collection("hr")
    a.replace_documents("hr", [doc("a.md", ["one"], [_vec(1)])], embedding_model="m")
    assert len(b.vector_search(_vec(1), 5)) == 1
    a.replace_documents("hr", [doc("b.md", ["two"], [_vec(0, 1)])], embedding_model="m")
    assert len(b.vector_search(_vec(1), 5)) == 2


def test_not_a_database_is_a_clear_error(tmp_path):
    from fiable.errors import StoreError

    path = tmp_path / "fiable.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as info:
        SQLiteStore(path)
    assert str(path) in str(info.value)


def test_bm25_index_scores_by_the_fts5_formula_by_hand():
    import math

    from fiable.store.bm25_index import BM25Index

    rows = [(10, 1, "leav annual leav", "polici"), (11, 1, "train travel", "leav"),
            (12, 2, "hotel night", "travel polici")]
    index = BM25Index(rows)
    n, avgdl = 3, (4 + 3 + 4) / 3

    def term(f: float, dl: int, df: int) -> float:
        idf = max(math.log((n - df + 0.5) / (df + 0.5)), 1e-6)
        return idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * dl / avgdl))

    found = dict(index.search(["leav"], 5))
    assert found[10] == pytest.approx(term(2, 4, 2)) and found[11] == pytest.approx(term(0.5, 3, 2))
    assert [i for i, _ in index.search(["leav", "travel"], 5, [2])] == [12]  # collection 2 only
    assert index.search(["zeppelin"], 5) == [] and index.document_frequency(["leav", "x"]) == {"leav": 2}
    # titles and headings weighted as much as the text: chunk 11 now holds "leav" fully
    heavier = dict(BM25Index(rows, context_weight=1.0).search(["leav"], 5))
    assert heavier[11] == pytest.approx(term(1.0, 3, 2)) and heavier[11] > found[11]
