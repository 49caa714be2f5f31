import sqlite3

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
