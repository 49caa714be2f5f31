"""Ingest and ask through the public API, with the deterministic fakes."""

from __future__ import annotations


import pytest

from fiable import Workspace
from fiable.answer import Done, Retrieved, Token
from fiable.embedders.fake import HashingEmbedder
from fiable.errors import (EmbeddingModelMismatchError, InputTooLargeError, UnknownCollectionError,
                           UserError, WorkspaceError)
from tests.helpers import copy_handbook, fake_workspace, make_pdf


@pytest.fixture
def handbook(tmp_path):
    return copy_handbook(tmp_path)


@pytest.fixture
def ws(tmp_path):
    w = fake_workspace(tmp_path / "ws")
    yield w
    w.close()


def test_open_missing_workspace_says_how_to_create_it(tmp_path):
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(tmp_path / "nowhere")
    assert "fiable init" in info.value.hint


def test_ingest_all_formats_then_skip_unchanged(ws, handbook):
    report = ws.ingest([handbook], collection="hr")
    assert report.ok and len(report.added) == 5 and report.chunks > 20
    formats = sorted(d.format for d in ws.documents("hr"))
    assert formats == ["docx", "html", "markdown", "pdf", "text"]
    pdf = next(d for d in ws.documents("hr") if d.format == "pdf")
    assert pdf.pages == 3
    again = ws.ingest([handbook], collection="hr")
    assert (len(again.unchanged), again.added, again.updated, again.chunks) == (5, [], [], 0)


def test_changed_file_replaced_and_sync_removes_deleted(ws, handbook):
    ws.ingest([handbook], collection="hr")
    txt = handbook / "remote-work.txt"
    txt.write_text("Remote work is now allowed on Fridays only, says the zeppelin memo.\n")
    (handbook / "leave-policy.md").unlink()
    report = ws.ingest([handbook], collection="hr", sync=True)
    assert report.updated == [str(txt)]
    assert report.removed == [str(handbook / "leave-policy.md")]
    hits = ws.search("zeppelin memo", collections=["hr"])
    assert hits[0].chunk.source == str(txt)
    assert all("leave-policy" not in h.chunk.source for h in ws.search("annual leave carried over"))
    assert len(ws.documents("hr")) == 4


def test_sync_keeps_documents_outside_the_given_folder(ws, handbook, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.md").write_text("# Note\n\nThe canteen opens at noon.\n")
    ws.ingest([handbook, other], collection="hr")
    ws.ingest([other], collection="hr", sync=True)
    assert len(ws.documents("hr")) == 6


def test_bad_files_are_reported_and_nothing_stored_is_lost(ws, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    good = docs / "good.md"
    good.write_text("# Bikes\n\nBicycles are parked in the courtyard behind building B.\n")
    ws.ingest([docs], collection="c")
    # the good file now turns corrupt, and bad neighbours appear
    good.write_bytes(b"\x00\x01\x02binary" * 100)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<")
    (docs / "image-only.pdf").write_bytes(make_pdf(tmp_path / "blank.pdf", [""]).read_bytes())
    (docs / "latin1.txt").write_bytes("Le café coûte 2 €.\n".encode("cp1252"))
    with open(docs / "huge.txt", "wb") as fh:
        fh.truncate(200 * 1024 * 1024)
    report = ws.ingest([docs], collection="c")
    codes = {f.path.rsplit("/", 1)[1]: f.code for f in report.failed}
    assert codes == {"good.md": "binary_content", "empty.txt": "empty_file",
                     "broken.pdf": "corrupt_file", "image-only.pdf": "no_text_layer",
                     "huge.txt": "file_too_large"}
    assert all(f.hint for f in report.failed)
    assert report.added == [str(docs / "latin1.txt")]
    # the previous version of good.md is still stored and searchable
    assert ws.search("bicycles courtyard")[0].chunk.source == str(good)


def test_interrupted_ingest_keeps_committed_state(tmp_path, monkeypatch):
    import fiable.ingest as ingest_module

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"d{i}.md").write_text(f"# Doc {i}\n\nOriginal text number {i} about owls.\n")
    ws = fake_workspace(tmp_path / "ws")
    ws.ingest([docs])
    for i in range(4):
        (docs / f"d{i}.md").write_text(f"# Doc {i}\n\nRewritten text number {i} about foxes.\n")

    class Interrupting(HashingEmbedder):
        calls = 0

        def embed_documents(self, texts):
            Interrupting.calls += 1
            if Interrupting.calls == 3:
                raise KeyboardInterrupt
            return super().embed_documents(texts)

    monkeypatch.setattr(ingest_module, "_GROUP_CHUNKS", 1)
    ws2 = Workspace.open(tmp_path / "ws", embedder=Interrupting(), generator="fake")
    with pytest.raises(KeyboardInterrupt):
        ws2.ingest([docs])
    texts = {d.source.rsplit("/", 1)[1]: d.content_hash for d in ws2.documents("default")}
    assert len(texts) == 4
    sources = [h.chunk.source.rsplit("/", 1)[1] for h in ws2.search("foxes rewritten", k=10)
               if "foxes" in h.chunk.text]
    assert sorted(sources) == ["d0.md", "d1.md"]  # two groups committed, the rest untouched
    assert len([h for h in ws2.search("owls original", k=10) if "owls" in h.chunk.text]) == 2


def test_explicit_missing_or_unsupported_paths(ws, tmp_path):
    with pytest.raises(UserError) as info:
        ws.ingest([tmp_path / "missing.md"])
    assert "missing.md" in str(info.value)
    (tmp_path / "data.xyz").write_text("x")
    report = ws.ingest([tmp_path / "data.xyz"])
    assert report.failed[0].code == "unsupported_format"


def test_ask_cites_every_sentence_with_locations(ws, handbook):
    ws.ingest([handbook], collection="hr")
    events = list(ws.ask_stream("How long is the probation period?"))
    assert isinstance(events[0], Retrieved) and isinstance(events[-1], Done)
    assert any(isinstance(e, Token) for e in events)
    answer = events[-1].answer
    assert not answer.abstained and answer.sentences
    assert all(s.citations for s in answer.sentences)
    assert "4 months" in answer.text
    cited = answer.cited_sources
    assert cited and all(1 <= s.number <= len(answer.sources) for s in cited)
    src = cited[0]
    doc_text = src.snippet.rstrip("…")
    assert doc_text and src.char_end > src.char_start and src.title
    assert answer.generator_model == "fake-extractive" and answer.embedder_model == "hashing-64"
    assert {"retrieve", "generate", "total"} <= set(answer.timings)
    # the exact prompt is logged with the answer
    record = ws.history(trace_id=answer.trace_id)[0]
    assert "Passage 1 (" in record["messages"][1]["content"]
    assert "probation" in record["messages"][1]["content"].lower()


def test_pdf_sources_carry_pages(ws, handbook):
    ws.ingest([handbook], collection="hr")
    answer = ws.ask("Which phone extension is the security hotline?")
    pdf_sources = [s for s in answer.sources if s.source.endswith(".pdf")]
    assert pdf_sources and all(s.page_start in (1, 2, 3) for s in pdf_sources)
    assert any("p. 3" in s.location for s in pdf_sources if "7110" in s.snippet)


def test_abstains_without_calling_the_model_when_nothing_is_relevant(tmp_path, handbook):
    from fiable.generators.fake import FakeGenerator

    gen = FakeGenerator(responses=[])
    ws = Workspace.open(tmp_path / "ws", create=True, embedder="hashing", generator=gen,
                        min_relevance=0.9)
    ws.ingest([handbook])
    answer = ws.ask("zebra quantum chromodynamics")
    assert answer.abstained and answer.text == "Not in the documents."
    assert "min_relevance" in answer.abstain_reason
    assert gen.calls == []


def test_model_saying_not_in_documents_is_an_abstention(tmp_path, handbook):
    from fiable.generators.fake import FakeGenerator

    ws = Workspace.open(tmp_path / "ws", create=True, embedder="hashing", min_relevance=0.0,
                        generator=FakeGenerator(responses=["Not in the documents."]))
    ws.ingest([handbook])
    answer = ws.ask("What is the dress code?")
    assert answer.abstained and answer.generator_model


def test_question_guards(ws, handbook):
    ws.ingest([handbook], collection="hr")
    with pytest.raises(InputTooLargeError) as info:
        ws.ask("x" * 100_000)
    assert "100,000" in str(info.value) and "max_question_chars" in info.value.hint
    with pytest.raises(UserError):
        ws.ask("   ")
    with pytest.raises(UnknownCollectionError) as info:
        ws.ask("leave?", collections=["finance"])
    assert "hr" in info.value.hint


def test_prompt_dir_overrides_templates(tmp_path, handbook):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "answer_system.txt").write_text("Answer like a pirate, citing [n].")
    ws = fake_workspace(tmp_path / "ws", prompt_dir=str(prompts))
    ws.ingest([handbook])
    answer = ws.ask("How long is the probation period?")
    record = ws.history(trace_id=answer.trace_id)[0]
    assert record["messages"][0]["content"] == "Answer like a pirate, citing [n]."


def test_embedding_model_mismatch_and_reindex(tmp_path, handbook):
    ws = fake_workspace(tmp_path / "ws")
    ws.ingest([handbook])
    ws.close()
    other = HashingEmbedder(dimension=32)
    ws = Workspace.open(tmp_path / "ws", embedder=other, generator="fake")
    (handbook / "new.md").write_text("# New\n\nA new note about kayaks.\n")
    with pytest.raises(EmbeddingModelMismatchError) as info:
        ws.ingest([handbook])
    assert "reindex" in info.value.hint
    assert ws.reindex() > 20
    report = ws.ingest([handbook])
    assert report.added == [str(handbook / "new.md")]
    assert len(report.unchanged) == 5 and report.updated == []  # no second re-embedding
    assert ws.search("kayaks")[0].chunk.source.endswith("new.md")


def test_workspace_is_a_plain_folder_that_survives_copying(tmp_path, handbook):
    import shutil

    ws = fake_workspace(tmp_path / "ws")
    ws.ingest([handbook])
    ws.close()
    shutil.copytree(tmp_path / "ws", tmp_path / "copy")
    copy = Workspace.open(tmp_path / "copy", embedder="hashing", generator="fake")
    assert len(copy.documents("default")) == 5


def test_import_fiable_stays_light():
    import subprocess
    import sys

    code = ("import sys, fiable; fiable.Workspace; "
            "heavy = [m for m in ('onnxruntime', 'xllamacpp', 'torch', 'pypdf', 'docx', 'httpx')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_pinned():
    import fiable

    assert fiable.__all__ == ["Answer", "AnswerSentence", "FiableError", "IngestReport",
                              "Settings", "Source", "UserError", "Workspace", "__version__"]
    for name in fiable.__all__:
        assert getattr(fiable, name) is not None


def test_killed_ingest_leaves_a_consistent_workspace(tmp_path):
    """SIGKILL in the middle of an ingest: the database opens, passes integrity_check, keeps
    everything committed before, and holds no half-written document."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        (docs / f"d{i:02d}.md").write_text(f"# Doc {i}\n\nText number {i} about herons.\n")
    ws = fake_workspace(tmp_path / "ws")
    ws.ingest(sorted(docs.iterdir())[:10])
    ws.close()
    script = f"""
import time
import fiable.ingest as ingest
from fiable import Workspace
from fiable.embedders.fake import HashingEmbedder

class Slow(HashingEmbedder):
    def embed_documents(self, texts):
        time.sleep(0.15)
        return super().embed_documents(texts)

ingest._GROUP_CHUNKS = 1
ws = Workspace.open({str(tmp_path / 'ws')!r}, embedder=Slow(), generator="fake")
print("start", flush=True)
ws.ingest([{str(docs)!r}])
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once a few groups have been committed
        with sqlite3.connect(tmp_path / "ws" / "fiable.db") as probe:
            if probe.execute("SELECT COUNT(*) FROM documents").fetchone()[0] >= 13:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(tmp_path / "ws" / "fiable.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    empty = conn.execute("SELECT COUNT(*) FROM documents d WHERE NOT EXISTS "
                         "(SELECT 1 FROM chunks k WHERE k.document_id = d.id)").fetchone()[0]
    n_docs = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    n_fts = conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
    n_chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    conn.close()
    assert empty == 0 and n_fts == n_chunks
    assert 10 < n_docs < 40, n_docs  # killed part-way, after some commits
    ws = fake_workspace(tmp_path / "ws")
    report = ws.ingest([docs])  # resuming picks up where it stopped
    assert len(report.unchanged) == n_docs and len(report.added) == 40 - n_docs
