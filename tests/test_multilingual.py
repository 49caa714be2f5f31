"""Issue 10, retrieval: languages detected and stored at ingest, BM25 analysed per language
(fiable.lexical), per-collection embedders whose vectors are never compared, and the
migration of workspaces built before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fiable import Workspace
from fiable.components import EMBEDDERS
from fiable.embedders.fake import HashingEmbedder
from fiable.errors import ConfigError, EmbeddingModelMismatchError
from fiable.ingest import TextRecord
from fiable.lexical import analyse, chunk_languages, document_language, index_text, query_terms
from fiable.store.migrations import MIGRATIONS
from fiable.store.sqlite import SQLiteStore

FRENCH = ("Les salariés ont droit à vingt-cinq jours de congés payés par an. Les congés se "
          "posent dans le portail des ressources humaines, avec l'accord du responsable.")
ENGLISH = ("Employees are entitled to twenty-five days of paid leave a year. Leave is booked "
           "in the human resources portal with the manager's approval.")


# -- analysis ---------------------------------------------------------------------------
def test_french_is_stemmed_before_accents_are_folded() -> None:
    assert analyse("Les congés payés des salariés", "fr") == ["le", "cong", "pai", "de", "salari"]
    assert analyse("conge", "fr") == ["cong"]  # typed without accents, the same stem...
    assert analyse("salarie", "fr") == ["salar"]  # ...not always (a known limit: docs)
    assert analyse("covid-19 l'employé", "fr") == ["covid", "19", "l", "emploi"]


def test_english_keeps_porter_and_unknown_languages_are_only_folded() -> None:
    assert analyse("Running leaves", "en") == ["run", "leav"]
    assert analyse("Zürich Café", "xx") == ["zurich", "cafe"]
    assert index_text("", "fr") == ""


def test_a_query_is_analysed_in_every_language_searched_without_their_stop_words() -> None:
    assert query_terms("Combien de jours de congés ?", ["fr"]) == ["combien", "jour", "cong"]
    terms = query_terms("How many days of leave?", ["en", "fr"])
    assert "how" not in terms and "of" not in terms  # English stop words dropped in French too
    assert {"dai", "leav", "day"} <= set(terms)
    assert query_terms("the", ["en"]) == [] and query_terms("the", ["en"], stop_words=False)
    assert query_terms("leave", []) == ["leav"]  # no languages known: English


def test_document_and_chunk_languages() -> None:
    assert document_language([FRENCH]) == "fr" and document_language([ENGLISH]) == "en"
    assert document_language(["42"], default="fr") == "fr"
    long_english = ENGLISH + " " + ENGLISH
    assert chunk_languages([FRENCH, long_english, "Oui."], "fr") == ["fr", "en", "fr"]
    assert chunk_languages([ENGLISH], "fr") == ["fr"]  # one chunk: the document's language


# -- ingest and documents ---------------------------------------------------------------
def _write_toml(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fiable.toml").write_text(text, encoding="utf-8")


def test_ingest_stores_the_language_of_documents_and_chunks(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True, embedder="hashing", generator="fake")
    ws.ingest_records([TextRecord("fr", "Congés", FRENCH), TextRecord("en", "Leave", ENGLISH),
                       TextRecord("given", "Note", "Texte court.", {"language": "fr"})])
    languages = {d.source: d.language for d in ws.documents("default")}
    assert languages == {"record:fr": "fr", "record:en": "en", "record:given": "fr"}
    assert sorted(ws.store.languages(["default"])) == ["en", "fr"]
    hits = ws.search("congé salarié", k=1)
    assert hits[0].chunk.source == "record:fr"
    ws.close()


# -- per-collection embedders -----------------------------------------------------------
class CountingEmbedder(HashingEmbedder):
    queries = 0

    def embed_query(self, text: str) -> np.ndarray:
        type(self).queries += 1
        return super().embed_query(text)


@pytest.fixture
def two_embedders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EMBEDDERS, "hashing-48", lambda settings: CountingEmbedder(48))
    CountingEmbedder.queries = 0


def test_each_collection_is_embedded_and_searched_with_its_own_model(tmp_path, two_embedders):
    folder = tmp_path / "ws"
    _write_toml(folder, 'embedder = "hashing"\ngenerator = "fake"\nmin_relevance = 0.0\n'
                        '[collections."rh"]\nembedder = "hashing-48"\n')
    ws = Workspace.open(folder, create=True)
    ws.ingest_records([TextRecord("en", "Leave", ENGLISH)], collection="hr")
    ws.ingest_records([TextRecord("fr", "Congés", FRENCH)], collection="rh")
    assert ws.store.embedding_models() == {"hr": "hashing-64", "rh": "hashing-48"}
    hits = ws.search("days of leave, jours de congés", k=5)
    assert {h.chunk.collection for h in hits} == {"hr", "rh"}
    assert all(h.dense_rank is not None for h in hits)  # each found by its own model's vector
    assert CountingEmbedder.queries == 1  # the query embedded once for the 48-d model
    assert ws.ask("How many days of leave?").sources
    # one collection alone is searched with its own model only
    assert ws.search("congés", collections=["rh"])[0].chunk.collection == "rh"
    assert ws.reindex() == 2
    assert ws.store.embedding_models() == {"hr": "hashing-64", "rh": "hashing-48"}
    ws.close()


def test_changing_a_collections_embedder_needs_a_reindex(tmp_path, two_embedders):
    folder = tmp_path / "ws"
    _write_toml(folder, 'embedder = "hashing"\ngenerator = "fake"\n')
    ws = Workspace.open(folder, create=True)
    ws.ingest_records([TextRecord("fr", "Congés", FRENCH)], collection="rh")
    ws.close()
    _write_toml(folder, 'embedder = "hashing"\ngenerator = "fake"\n'
                        '[collections."rh"]\nembedder = "hashing-48"\n')
    ws = Workspace.open(folder)
    with pytest.raises(EmbeddingModelMismatchError) as info:
        ws.ingest_records([TextRecord("fr2", "Congés", FRENCH + " Encore.")], collection="rh")
    assert "reindex" in (info.value.hint or "")
    assert ws.reindex(["rh"]) == 1
    assert ws.store.embedding_model("rh") == "hashing-48"
    assert [d.source for d in ws.documents("rh")] == ["record:fr"]  # nothing lost
    ws.close()


def test_an_unknown_collection_embedder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ws"
    _write_toml(folder, 'embedder = "hashing"\ngenerator = "fake"\n'
                        '[collections."rh"]\nembedder = "no-such-model"\n')
    ws = Workspace.open(folder, create=True)
    with pytest.raises(ConfigError) as info:
        ws.ingest_records([TextRecord("fr", "Congés", FRENCH)], collection="rh")
    assert "multilingual-e5-small" in (info.value.hint or "")
    ws.close()


# -- migration of a workspace built before ----------------------------------------------
def test_a_store_built_before_languages_migrates(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, migrate in MIGRATIONS:
        if name.startswith("006"):
            break
        migrate(conn)
        conn.execute("INSERT INTO migrations VALUES (?, 'then')", (name,))
    conn.execute("INSERT INTO meta VALUES ('embedding_model', 'old-model'), "
                 "('embedding_dimension', '4')")
    conn.execute("INSERT INTO collections(name, created_at) VALUES ('rh', 'then'), "
                 "('empty', 'then')")
    conn.execute("INSERT INTO documents(collection_id, source, title, format, content_hash, "
                 "pipeline, size_bytes, metadata, ingested_at) "
                 "VALUES (1, 'a.md', 'Congés', 'text', 'h', 'p', 1, '{}', 'then')")
    vector = np.array([1, 0, 0, 0], dtype=np.float32).tobytes()
    conn.execute("INSERT INTO chunks(document_id, ordinal, text, char_start, char_end, "
                 "token_count, content_hash, embedding) VALUES (1, 0, ?, 0, 1, 1, 'c', ?)",
                 (FRENCH, vector))
    conn.execute("INSERT INTO chunks_fts(rowid, text, context) VALUES (1, ?, 'Congés')",
                 (FRENCH,))
    conn.close()

    store = SQLiteStore(path)
    [info] = store.documents("rh")
    assert info.language == "fr" and json.loads(store._query(
        "SELECT metadata FROM documents")[0]["metadata"])["language"] == "fr"
    assert store.embedding_models() == {"rh": "old-model"}  # not the empty collection
    [(hit, _)] = store.lexical_search("conge", 5)  # rebuilt: French stems, accents folded
    assert hit == 1
    assert store.vector_search(np.array([1, 0, 0, 0], dtype=np.float32), 1)[0][0] == 1
    store.close()


def test_a_french_collection_on_an_english_embedder_gets_a_hint(tmp_path, caplog, monkeypatch):
    class MiniLMNamed(HashingEmbedder):
        @property
        def model_id(self) -> str:
            return "all-MiniLM-L6-v2/fake"

    ws = Workspace.open(tmp_path / "ws", create=True, embedder=MiniLMNamed(), generator="fake")
    with caplog.at_level("WARNING", logger="fiable.workspace"):
        ws.ingest_records([TextRecord("fr", "Congés", FRENCH)], collection="rh")
    [record] = [r for r in caplog.records if "English-only" in r.getMessage()]
    assert record.language == "fr" and "multilingual-e5-small" in record.hint
    caplog.clear()
    with caplog.at_level("WARNING", logger="fiable.workspace"):
        ws.ingest_records([TextRecord("en", "Leave", ENGLISH)], collection="hr")
    assert not [r for r in caplog.records if "English-only" in r.getMessage()]
    ws.close()
