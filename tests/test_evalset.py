"""The bundled evaluation set (Ferrand Holt Instruments): documents and gold questions
agree, every file loads and ingests, the generated files are current. No model."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fiable.evaluation import load_dataset
from fiable.evaluation.metrics import answer_contains
from fiable.loaders import SUPPORTED_EXTENSIONS, load
from fiable.samples import evalset_dir, evalset_questions
from tests.helpers import fake_workspace

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_FILE = ROOT / "src" / "fiable" / "samples" / "evalset-questions.jsonl"
KINDS = ("single", "table", "exception", "superseded", "two_documents", "unanswerable_on_topic",
         "off_topic", "french_over_english", "french")
UNANSWERABLE_KINDS = ("unanswerable_on_topic", "off_topic")
QUESTIONS = evalset_questions()


def _files() -> list[Path]:
    return sorted(p for p in evalset_dir().iterdir() if p.is_file())


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    """File name -> the text fiable extracts from it."""
    return {p.name: load(p).text() for p in _files()}


def test_documents_cover_every_format_and_both_languages():
    names = [p.name for p in _files()]
    assert all(Path(n).suffix in SUPPORTED_EXTENSIONS for n in names), names
    assert {Path(n).suffix for n in names} >= {".md", ".txt", ".html", ".pdf", ".docx"}
    assert len(names) == 10
    assert load(evalset_dir() / "travel-and-expenses.pdf").pages == 4


def test_questions_are_well_formed():
    ids = [q["id"] for q in QUESTIONS]
    assert len(ids) == len(set(ids))
    keys = {"id", "question", "answers", "answerable", "doc_ids", "kind", "language", "split"}
    for q in QUESTIONS:
        assert set(q) == keys, q["id"]
        assert q["kind"] in KINDS, q["id"]
        assert q["language"] in ("en", "fr"), q["id"]
        assert q["split"] in ("dev", "test"), q["id"]
        assert q["answerable"] == (q["kind"] not in UNANSWERABLE_KINDS), q["id"]
        assert bool(q["answers"]) == q["answerable"] == bool(q["doc_ids"]), q["id"]
        if q["kind"] == "two_documents":
            assert len(set(q["doc_ids"])) == 2, q["id"]
        if q["kind"] in ("french", "french_over_english"):
            assert q["language"] == "fr", q["id"]


def test_every_kind_has_five_questions_in_both_splits():
    per_kind = collections.Counter(q["kind"] for q in QUESTIONS)
    assert set(per_kind) == set(KINDS)
    assert min(per_kind.values()) >= 5, per_kind
    for kind in KINDS:
        splits = collections.Counter(q["split"] for q in QUESTIONS if q["kind"] == kind)
        assert splits["dev"] and splits["test"], (kind, splits)
        assert abs(splits["dev"] - splits["test"]) <= 1, (kind, splits)


def test_doc_ids_exist():
    names = {p.name for p in _files()}
    for q in QUESTIONS:
        assert set(q["doc_ids"]) <= names, (q["id"], q["doc_ids"])
    used = {d for q in QUESTIONS for d in q["doc_ids"]}
    assert used == names  # every document is asked about


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q["answerable"]], ids=lambda q: q["id"])
def test_gold_answer_occurs_in_gold_documents(q, texts):
    text = "\n\n".join(texts[d] for d in q["doc_ids"])
    assert answer_contains(text, q["answers"]), (q["id"], q["answers"])
    # the first (shortest exact) answer is in the text as written, case aside
    assert q["answers"][0].lower() in text.lower(), (q["id"], q["answers"][0])


def test_french_documents_are_french(texts):
    from fiable.language import detect_language

    french = {"accord-teletravail.md", "avenant-teletravail-2026.txt", "reglement-interieur.pdf"}
    for name, text in texts.items():
        assert detect_language(text) == ("fr" if name in french else "en"), name


def test_fiable_eval_reads_the_questions_file():
    ds = load_dataset(QUESTIONS_FILE, split="dev")
    assert ds.kind == "qa" and ds.corpus_path is None
    assert len(ds) == sum(q["split"] == "dev" for q in QUESTIONS)
    assert {i.doc_ids for i in ds.questions} >= {("travel-and-expenses.pdf",)}


def test_generated_files_are_current():
    pytest.importorskip("reportlab")
    pytest.importorskip("docx")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_evalset.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_set_ingests_into_a_workspace(tmp_path: Path):
    folder = tmp_path / "evalset"
    shutil.copytree(evalset_dir(), folder)
    with fake_workspace(tmp_path / "ws") as ws:
        report = ws.ingest([folder], collection="evalset")
        assert not report.failed, report.failed
        assert len(report.added) == len(_files())
        assert report.chunks >= 2 * len(_files())
        answer = ws.ask("What is the maximum hotel rate per night in Leeds?",
                        collections=["evalset"])
        assert "travel-and-expenses.pdf" in {Path(s.source).name for s in answer.sources}


def test_fiable_eval_breaks_results_down_by_kind(cli_env: Path, capsys):
    from tests.helpers import run_cli

    folder = cli_env / "evalset"
    shutil.copytree(evalset_dir(), folder)
    assert run_cli(capsys, "ingest", str(folder), "-c", "evalset")[0] == 0
    code, out, err = run_cli(capsys, "eval", str(QUESTIONS_FILE), "--split", "test",
                             "--limit", "12", "--markdown", "-")
    assert code == 0, err
    assert "## Per question kind" in out
    ds = load_dataset(QUESTIONS_FILE, split="test", limit=12)
    assert {i.kind for i in ds.questions} <= set(KINDS)
    for kind in {i.kind for i in ds.questions}:
        assert f"| {kind} |" in out
