"""The Store contract suite (see fiable.store.base). Subclass it and override ``store``."""

from __future__ import annotations

import numpy as np
import pytest

from fiable.chunking import Chunk
from fiable.errors import EmbeddingModelMismatchError, UnknownCollectionError
from fiable.store.base import DocumentWrite


def _chunk(i: int, text: str) -> Chunk:
    return Chunk(ordinal=i, text=text, char_start=i * 100, char_end=i * 100 + len(text),
                 heading_path=("Section",), page_start=None, page_end=None,
                 token_count=len(text.split()), content_hash=f"h{i}")


def _vec(*values: float, dim: int = 4) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def doc(source: str, texts: list[str], vectors: list[np.ndarray], digest: str = "x") -> DocumentWrite:
    return DocumentWrite(source=source, title=source.upper(), format="text", content_hash=digest,
                         pipeline="p1", size_bytes=10, pages=None,
                         chunks=[_chunk(i, t) for i, t in enumerate(texts)],
                         vectors=np.stack(vectors))


class StoreContract:
    @pytest.fixture
    def store(self):  # pragma: no cover - overridden
        raise NotImplementedError("subclasses provide a store")

    def test_collections_start_empty_and_are_created(self, store):
        assert store.collections() == []
        store.ensure_collection("hr")
        store.ensure_collection("hr")
        assert [c.name for c in store.collections()] == ["hr"]

    def test_unknown_collection_is_an_error(self, store):
        with pytest.raises(UnknownCollectionError) as info:
            store.documents("nope")
        assert "nope" in str(info.value) and info.value.hint
        with pytest.raises(UnknownCollectionError):
            store.lexical_search("leave", 5, ["nope"])

    def test_write_then_search_both_ways(self, store):
        store.ensure_collection("hr")
        store.replace_documents("hr", [
            doc("a.md", ["annual leave is 27 days", "expenses need receipts"],
                [_vec(1, 0), _vec(0, 1)]),
        ], embedding_model="m1")
        lex = store.lexical_search("how many leave days", 5)
        assert len(lex) == 1 and lex[0][1] > 0
        [chunk] = store.chunks([lex[0][0]])
        assert chunk.text == "annual leave is 27 days" and chunk.source == "a.md"
        assert chunk.heading_path == ("Section",) and chunk.title == "A.MD"
        dense = store.vector_search(_vec(0.1, 1), 2)
        assert [store.chunks([i])[0].text for i, _ in dense] == [
            "expenses need receipts", "annual leave is 27 days"]
        assert dense[0][1] > dense[1][1]
        assert store.embedding_model() == "m1"

    def test_replace_is_atomic_and_replaces(self, store):
        store.ensure_collection("hr")
        store.replace_documents("hr", [doc("a.md", ["old text about bicycles"], [_vec(1)])],
                                embedding_model="m1")
        store.replace_documents("hr", [doc("a.md", ["new text about trains"], [_vec(1)], "y")],
                                embedding_model="m1")
        assert store.lexical_search("bicycles", 5) == []
        assert len(store.lexical_search("trains", 5)) == 1
        [info] = store.documents("hr")
        assert info.content_hash == "y" and info.chunks == 1

    def test_failure_mid_batch_keeps_previous_state(self, store):
        store.ensure_collection("hr")
        store.replace_documents("hr", [doc("a.md", ["kept text about ferries"], [_vec(1)])],
                                embedding_model="m1")
        good = doc("a.md", ["replacement about canoes"], [_vec(1)], "y")
        broken = doc("b.md", ["one", "two"], [_vec(1)])  # 2 chunks, 1 vector
        with pytest.raises(Exception):
            store.replace_documents("hr", [good, broken], embedding_model="m1")
        assert len(store.lexical_search("ferries", 5)) == 1
        assert store.lexical_search("canoes", 5) == []
        assert [d.source for d in store.documents("hr")] == ["a.md"]

    def test_mixing_embedding_models_is_refused(self, store):
        store.ensure_collection("hr")
        store.replace_documents("hr", [doc("a.md", ["text"], [_vec(1)])], embedding_model="m1")
        with pytest.raises(EmbeddingModelMismatchError) as info:
            store.replace_documents("hr", [doc("b.md", ["text"], [_vec(1)])],
                                    embedding_model="m2")
        assert "m1" in str(info.value) and "reindex" in info.value.hint

    def test_each_collection_keeps_its_own_embedding_model(self, store):
        for name, model in (("hr", "m1"), ("rh", "m2")):
            store.ensure_collection(name)
            store.replace_documents(name, [doc(f"{name}.md", [f"text of {name}"], [_vec(1)])],
                                    embedding_model=model)
        assert store.embedding_models() == {"hr": "m1", "rh": "m2"}
        assert store.embedding_model("rh") == "m2" and store.embedding_model() is None
        [(hit, _)] = store.vector_search(_vec(1), 5, ["rh"])
        assert store.chunks([hit])[0].collection == "rh"
        with pytest.raises(EmbeddingModelMismatchError) as info:  # never compared together
            store.vector_search(_vec(1), 5)
        assert "hr" in str(info.value) and "rh" in str(info.value)
        with pytest.raises(EmbeddingModelMismatchError):
            store.vector_search(_vec(1), 5, ["hr", "rh"])
        assert len(store.lexical_search("text", 5)) == 2  # lexical search spans them all

    def test_reembed_only_the_collections_named(self, store):
        for name in ("hr", "rh"):
            store.ensure_collection(name)
            store.replace_documents(name, [doc(f"{name}.md", ["cats purr"], [_vec(1)])],
                                    embedding_model="m1")
        n = store.reembed(lambda items: np.stack([_vec(0, 1) for _ in items]),
                          embedding_model="m2", collections=["rh"])
        assert n == 1 and store.embedding_models() == {"hr": "m1", "rh": "m2"}
        [exported] = list(store.export_documents("hr"))
        np.testing.assert_allclose(exported.vectors[0], _vec(1), atol=1e-3)

    def test_lexical_search_stems_each_chunk_in_its_language(self, store):
        store.ensure_collection("hr")
        french = DocumentWrite(
            source="fr.md", title="Congés", format="text", content_hash="f", pipeline="p1",
            size_bytes=10, pages=None, metadata={"language": "fr"},
            chunks=[_chunk(0, "Les salariés prennent leurs congés en été."),
                    _chunk(1, "Employees take their annual leave in summer.")],
            vectors=np.stack([_vec(1), _vec(0, 1)]), chunk_languages=("fr", "en"))
        store.replace_documents("hr", [french], embedding_model="m1")
        assert sorted(store.languages(["hr"])) == ["en", "fr"]
        # "salarie" and "conge" reach "salariés"/"congés" through the French stemmer and
        # accent folding; "leaves"/"taking" reach the English chunk through Porter.
        for query, ordinal in (("conge salarie", 0), ("Combien de congés ?", 0),
                               ("leaves taking", 1)):
            found = store.lexical_search(query, 5)
            assert found, query
            assert store.chunks([found[0][0]])[0].ordinal == ordinal, query
        [exported] = list(store.export_documents("hr"))
        assert tuple(exported.chunk_languages) == ("fr", "en")
        assert [c.language for c in store.chunks([i for i, _ in store.lexical_search(
            "congés leave", 5)])] in (["fr", "en"], ["en", "fr"])
        assert store.documents("hr")[0].language == "fr"

    def test_collection_filter(self, store):
        for name in ("hr", "it"):
            store.ensure_collection(name)
            store.replace_documents(name, [doc(f"{name}.md", [f"policy of {name} team"],
                                                [_vec(1)])], embedding_model="m1")
        ids = [i for i, _ in store.lexical_search("policy", 5, ["it"])]
        assert [c.collection for c in store.chunks(ids)] == ["it"]
        ids = [i for i, _ in store.vector_search(_vec(1), 5, ["hr"])]
        assert [c.collection for c in store.chunks(ids)] == ["hr"]
        assert len(store.vector_search(_vec(1), 5)) == 2

    def test_delete_documents(self, store):
        store.ensure_collection("hr")
        store.replace_documents("hr", [doc("a.md", ["alpha words"], [_vec(1)]),
                                       doc("b.md", ["beta words"], [_vec(0, 1)])],
                                embedding_model="m1")
        assert store.delete_documents("hr", ["a.md", "missing.md"]) == 1
        assert store.lexical_search("alpha", 5) == []
        assert [store.chunks([i])[0].source for i, _ in store.vector_search(_vec(1), 5)] == ["b.md"]

    def test_hostile_query_text_is_not_fts_syntax(self, store):
        store.ensure_collection("hr")
        store.replace_documents("hr", [doc("a.md", ['quotes " and NEAR( stars *'], [_vec(1)])],
                                embedding_model="m1")
        for q in ['"', "NEAR(", "a OR", "*", "-- drop table", ")))", "\x00"]:
            store.lexical_search(q, 5)  # must not raise
        assert store.lexical_search("", 5) == []

    def test_long_queries_search_their_rarest_terms(self, store):
        store.ensure_collection("hr")
        texts = ["staff office policy for every staff member"] * 5 + [
            "the zeppelin policy of the office", "meeting rooms of the staff office",
            "meeting notes for staff"]
        store.replace_documents("hr", [doc(f"d{i}.md", [t], [_vec(1)]) for i, t in enumerate(texts)],
                                embedding_model="m1")
        query = "staff office policy staff office policy meeting zeppelin unicorn"
        sources = lambda hits: [store.chunks([i])[0].source for i, _ in hits]  # noqa: E731
        # one term kept: the rarest that is in a chunk ("unicorn" is in none and is dropped)
        assert sources(store.lexical_search(query, 10, max_terms=1)) == ["d5.md"]
        assert sorted(sources(store.lexical_search(query, 10, max_terms=2))) == [
            "d5.md", "d6.md", "d7.md"]  # + "meeting", in two chunks; "staff" is in seven
        everything = store.lexical_search(query, 10, max_terms=0)
        assert len(everything) == 8 and everything == store.lexical_search(query, 10)

    def test_eval_runs_are_kept_in_order_with_their_items(self, store):
        first = store.save_eval_run({"dataset": "d", "kind": "retrieval", "split": "test",
                                     "metrics": {"ndcg@10": 0.5}}, [{"id": "q1"}])
        second = store.save_eval_run({"dataset": "e", "kind": "qa", "split": None,
                                      "metrics": {"f1": 0.25}}, [])
        assert second > first
        assert [r["id"] for r in store.eval_runs()] == [second, first]
        assert [r["id"] for r in store.eval_runs(dataset="d")] == [first]
        summary, items = store.eval_run(first)
        assert summary["metrics"] == {"ndcg@10": 0.5} and items == [{"id": "q1"}]
        assert store.eval_run(second + 100) is None

    def test_export_round_trips_documents_chunks_and_vectors(self, store):
        store.ensure_collection("hr")
        original = doc("a.md", ["first part", "second part"], [_vec(1, 0), _vec(0.6, 0.8)], "z")
        store.replace_documents("hr", [original], embedding_model="m1")
        [exported] = list(store.export_documents("hr"))
        assert (exported.source, exported.title, exported.content_hash, exported.pipeline) == (
            "a.md", "A.MD", "z", "p1")
        assert [c.text for c in exported.chunks] == ["first part", "second part"]
        assert exported.chunks[1].heading_path == ("Section",)
        assert exported.chunks[1].char_start == 100
        np.testing.assert_allclose(exported.vectors, np.stack(original.vectors), atol=1e-3)

    def test_reembed_swaps_the_model_and_dimension(self, store):
        store.ensure_collection("hr")
        store.replace_documents("hr", [doc("a.md", ["cats purr", "dogs bark"],
                                           [_vec(1), _vec(0, 1)])], embedding_model="m1")

        def vectors_for(items):
            return np.stack([_vec(1, 0, 0, 0, 0, 0, dim=6) if "dogs" in text
                             else _vec(0, 1, dim=6) for _, _, text in items])

        assert store.reembed(vectors_for, embedding_model="m2") == 2
        assert store.embedding_model() == "m2"
        [(best, _)] = store.vector_search(_vec(1, dim=6), 1)
        assert store.chunks([best])[0].text == "dogs bark"

    def test_ask_log_is_append_only_and_found_by_trace(self, store):
        store.log_ask({"trace_id": "t1", "question": "first?"})
        store.log_ask({"trace_id": "t2", "question": "second?"})
        assert [r["trace_id"] for r in store.asks()] == ["t2", "t1"]
        assert store.asks(trace_id="t1")[0]["question"] == "first?"
        with pytest.raises(Exception):
            store.log_ask({"trace_id": "t1", "question": "again"})
        assert len(store.asks()) == 2

    def test_feedback_is_kept_newest_first_and_found_by_trace(self, store):
        first = store.save_feedback({"trace_id": "t1", "rating": "up", "comment": None})
        second = store.save_feedback({"trace_id": "t2", "rating": "down",
                                      "correction": "It is 27 days."})
        assert second > first
        assert [f["id"] for f in store.feedback()] == [second, first]
        [found] = store.feedback(trace_id="t2")
        assert found["rating"] == "down" and found["correction"] == "It is 27 days."
        assert found["created_at"]

    def test_conversations_keep_their_turns_in_order_per_owner(self, store):
        from fiable.errors import UnknownConversationError

        store.create_conversation("c1", "alice", "Expenses")
        store.create_conversation("c2", "bob", "Leave")
        first = store.add_turn("c1", {"trace_id": "t1", "message": "Who approves claims?"})
        second = store.add_turn("c1", {"trace_id": "t2", "message": "And below 500 euros?"})
        assert second > first
        thread = store.conversation("c1")
        assert thread["owner"] == "alice" and thread["title"] == "Expenses"
        assert [t["message"] for t in thread["turns"]] == ["Who approves claims?",
                                                           "And below 500 euros?"]
        assert thread["turns"][0]["id"] == first and thread["turns"][0]["created_at"]
        [mine] = store.conversations(owner="alice")
        assert mine["id"] == "c1" and mine["turns"] == 2
        assert {c["id"] for c in store.conversations()} == {"c1", "c2"}
        assert store.conversation("nope") is None
        with pytest.raises(UnknownConversationError):
            store.add_turn("nope", {"message": "lost?"})
        assert store.rename_conversation("c1", "Claims") and store.conversation("c1")["title"] == "Claims"
        assert not store.rename_conversation("nope", "x")
        assert store.delete_conversation("c1") and store.conversation("c1") is None
        assert not store.delete_conversation("c1")
        assert [c["id"] for c in store.conversations()] == ["c2"]

    def test_erasure_finds_and_removes_conversation_turns_and_titles(self, store):
        store.create_conversation("c1", "alice", "About Jane Roe")
        keep = store.add_turn("c1", {"trace_id": "t1", "message": "Who approves claims?"})
        gone = store.add_turn("c1", {"trace_id": "t2", "message": "What did Jane Roe claim?"})
        found = store.find_records(["jane roe"])
        assert found["turns"] == [gone] and found["conversations"] == ["c1"]
        assert store.find_records(["t1"])["turns"] == [keep]
        counts = store.erase_records(turns=found["turns"], conversations=found["conversations"])
        assert counts["turns"] == 1 and counts["conversations"] == 1
        thread = store.conversation("c1")
        assert [t["id"] for t in thread["turns"]] == [keep] and "Jane" not in thread["title"]

    def test_api_keys_store_hashes_and_revocation_sticks(self, store):
        from fiable.errors import UserError

        store.add_api_key("alice", "h1")
        with pytest.raises(UserError):
            store.add_api_key("alice", "h2")
        assert store.api_key_name("h1") == "alice" and store.api_key_name("nope") is None
        assert [k["name"] for k in store.api_keys()] == ["alice"]
        assert "key_hash" not in store.api_keys()[0]
        assert store.revoke_api_key("alice") and not store.revoke_api_key("alice")
        assert store.api_key_name("h1") is None
