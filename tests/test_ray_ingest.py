"""Ray ingestion on a real local Ray cluster that this module starts (127.0.0.1 only).

``ray`` is imported inside the tests: the torch-only run (``--torch``, a venv without the
ray extra) collects this module and deselects every test in it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from fiable import Workspace
from fiable.errors import ConfigError, ModelNotFoundError
from fiable.executors.ray import RayExecutor, start_local_ray
from fiable.ingest import FileJob, IngestProgress, PreparedDocument, ingest_paths
from fiable.settings import Settings
from fiable.store.base import DocumentWrite
from tests.helpers import copy_handbook, fake_workspace, make_pdf, run_cli

CLUSTER_CPUS = 2


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A local Ray for the whole module: loopback only, 2 CPUs; its GCS address."""
    import ray

    assert not ray.is_initialized()
    start_local_ray(CLUSTER_CPUS)
    try:
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The sample handbook (md, txt, html, pdf, docx), 12 short texts, one with PII."""
    folder = copy_handbook(tmp_path)
    for i in range(12):
        (folder / f"note-{i:02d}.txt").write_text(
            f"Note {i}\n\nThe meeting room {i} is booked on Tuesdays for team {i % 3}.\n",
            encoding="utf-8")
    (folder / "contact.md").write_text(
        "# Contact\n\nWrite to jeanne.martin@example.com or call +33 6 12 34 56 78.\n",
        encoding="utf-8")
    return folder


def _exported(ws: Workspace) -> dict[str, DocumentWrite]:
    return {d.source: d for d in ws.store.export_documents("default")}


def _assert_same_documents(a: Workspace, b: Workspace, *, atol: float) -> None:
    left, right = _exported(a), _exported(b)
    assert sorted(left) == sorted(right)
    for source, x in left.items():
        y = right[source]
        for name in ("title", "format", "content_hash", "pipeline", "size_bytes", "pages",
                     "metadata"):
            assert getattr(x, name) == getattr(y, name), (source, name)
        assert list(x.chunks) == list(y.chunks), source
        np.testing.assert_allclose(x.vectors, y.vectors, atol=atol, err_msg=source)


def test_ray_documents_equal_local_ones(ray_cluster, corpus, tmp_path):
    """Same chunks, vectors and pipeline signature (PII masked by each actor's own
    detector), written in group transactions; a later local ingest finds them unchanged."""
    settings = dict(pii="mask", pii_ner=False)
    local = fake_workspace(tmp_path / "local", **settings)
    remote = fake_workspace(tmp_path / "ray", **settings)
    local.ingest([corpus], executor="local")
    events: list[IngestProgress] = []
    with RayExecutor(remote.settings, workers=2, batch_files=3) as executor:  # 7 batches
        assert executor.workers == 2
        report = ingest_paths([corpus], store=remote.store, settings=remote.settings,
                              executor=executor, progress=events.append)
    assert report.ok and len(report.added) == 18 and report.chunks > 18
    assert sorted(e.path for e in events) == sorted(report.added)
    assert [e.done for e in events] == list(range(1, 19)) and {e.total for e in events} == {18}
    _assert_same_documents(local, remote, atol=0)
    contact = _exported(remote)[str(corpus / "contact.md")]
    assert "jeanne.martin@example.com" not in contact.chunks[0].text
    again = remote.ingest([corpus], executor="local")
    assert len(again.unchanged) == 18 and not again.added and not again.updated
    local.close()
    remote.close()


def test_unchanged_files_are_skipped_and_changed_ones_replaced(ray_cluster, corpus, tmp_path):
    ws = fake_workspace(tmp_path / "ws", ingest_executor="ray", ray_workers=1)
    first = ws.ingest([corpus])
    assert len(first.added) == 18
    (corpus / "note-00.txt").write_text("Note zero\n\nRewritten entirely.\n", encoding="utf-8")
    (corpus / "new.md").write_text("# New\n\nA new page about parking.\n", encoding="utf-8")
    (corpus / "note-01.txt").unlink()
    second = ws.ingest([corpus], sync=True)
    assert second.updated == [str(corpus / "note-00.txt")]
    assert second.added == [str(corpus / "new.md")]
    assert second.removed == [str(corpus / "note-01.txt")]
    assert len(second.unchanged) == 16 and second.ok
    texts = [c.text for c in _exported(ws)[str(corpus / "note-00.txt")].chunks]
    assert len(texts) == 1 and texts[0].endswith("Rewritten entirely.")
    ws.close()


def test_bad_files_are_reported_and_the_others_stored(ray_cluster, corpus, tmp_path):
    """A corrupt PDF, an empty file and a too-large one fail with what and how to fix;
    the good files are stored and what was stored for the corrupt one stays."""
    ws = fake_workspace(tmp_path / "ws", max_file_mb=1)
    policy = make_pdf(corpus / "policy.pdf", ["Badges must be worn at all times."])
    assert ws.ingest([policy], executor="ray").ok
    before = _exported(ws)[str(policy)]
    policy.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage with no end marker")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "big.txt").write_text("word " * 250_000, encoding="utf-8")  # 1.25 MB
    report = ws.ingest([corpus], executor="ray")
    failed = {Path(f.path).name: f for f in report.failed}
    assert sorted(failed) == ["big.txt", "empty.txt", "policy.pdf"]
    assert failed["policy.pdf"].code == "corrupt_file" and failed["policy.pdf"].hint
    assert failed["empty.txt"].code == "empty_file" and failed["empty.txt"].hint
    assert failed["big.txt"].code == "file_too_large"
    assert str(policy) in failed["policy.pdf"].message
    assert len(report.added) == 18
    after = _exported(ws)[str(policy)]
    assert after.content_hash == before.content_hash and after.chunks == before.chunks
    ws.close()


def test_cli_ingest_with_ray(ray_cluster, cli_env, capsys):
    handbook = copy_handbook(cli_env)
    code, out, err = run_cli(capsys, "ingest", str(handbook), "--executor", "ray",
                             "--address", ray_cluster, "--workers", "2", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert len(report["added"]) == 5 and report["chunks"] > 5 and not report["failed"]
    code, out, _ = run_cli(capsys, "ingest", str(handbook), "--executor", "ray")
    assert code == 0 and "0 added, 0 updated, 5 unchanged" in out
    code, out, _ = run_cli(capsys, "ask", "How many days of annual leave do I get?")
    assert code == 0 and "[1]" in out


def test_jobs_are_pulled_a_bounded_window_ahead(ray_cluster):
    """Backpressure: with 1 worker, 2 calls in flight and 2 files a call, the first result
    comes back after 6 of 1,000 files were pulled. The paths do not exist: bytes travel."""
    pulled = 0

    def jobs() -> Iterator[FileJob]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield FileJob(f"/nowhere/note-{i}.txt", f"Note {i}\n\nRoom {i} is free.".encode())

    with RayExecutor(Settings(embedder="hashing"), workers=1, batch_files=2) as executor:
        results = executor.map(jobs())
        first = next(results)
        assert isinstance(first, PreparedDocument) and first.source == "/nowhere/note-0.txt"
        assert pulled == 6
        results.close()


def test_too_many_workers_is_a_config_error(ray_cluster, tmp_path):
    import ray

    ws = fake_workspace(tmp_path / "ws", ray_workers=CLUSTER_CPUS + 1)
    with pytest.raises(ConfigError) as info:
        ws.ingest([tmp_path], executor="ray")
    assert "lower ray_workers" in (info.value.hint or "")
    assert ray.is_initialized()  # the module's cluster is not this executor's to stop
    ws.close()


def test_a_model_missing_on_the_workers_keeps_its_error(ray_cluster, tmp_path):
    ws = fake_workspace(tmp_path / "ws", embedder="minilm-l6-v2",
                        model_dir=str(tmp_path / "no-models"))
    with pytest.raises(ModelNotFoundError) as info:
        ws.ingest([tmp_path], executor="ray")
    assert "fiable models pull minilm-l6-v2" in (info.value.hint or "")
    ws.close()


def test_missing_ray_says_which_extra_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    ws = fake_workspace(tmp_path / "ws")
    with pytest.raises(ConfigError) as info:
        ws.ingest([tmp_path], executor="ray")
    assert info.value.hint == "pip install 'fiable[ray]'"
    ws.close()
    code, _, err = run_cli(capsys, "--workspace", str(tmp_path / "ws"), "ingest", str(tmp_path),
                           "--executor", "ray")
    assert code == 2 and "fiable[ray]" in err


def test_real_minilm_vectors_match_local(ray_cluster, corpus, tmp_path):
    """The ONNX MiniLM embedder built in each actor gives the local vectors (to 1e-4)."""
    from fiable import models

    directory = models.default_model_dir()
    try:
        models.resolve_file("minilm-l6-v2", "model.onnx", model_dir=directory)
    except ModelNotFoundError:
        pytest.skip(f"minilm-l6-v2 is not in {directory}: `fiable models pull minilm-l6-v2`")
    settings = dict(embedder="minilm-l6-v2", model_dir=str(directory), threads=1)
    local = fake_workspace(tmp_path / "local", **settings)
    remote = fake_workspace(tmp_path / "ray", **settings)
    local.ingest([corpus], executor="local")
    assert remote.ingest([corpus], executor="ray").ok
    _assert_same_documents(local, remote, atol=1e-4)
    assert len(remote.ingest([corpus], executor="local").unchanged) == 18
    local.close()
    remote.close()
