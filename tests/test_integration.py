"""End to end with the real models: MiniLM (ONNX int8) and SmolLM2-135M (llama.cpp).

SmolLM2 answers poorly (it is here for speed), so these tests check the mechanics — streaming,
citations mapped to real passages, abstention, timings — not the wording.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fiable import Workspace
from fiable.answer import Done, Token
from fiable.samples import handbook_questions
from tests.helpers import copy_handbook

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, smollm2_gguf, minilm_onnx):
    root = tmp_path_factory.mktemp("integration")
    handbook = copy_handbook(root)
    ws = Workspace.open(root / "ws", create=True, generator=str(smollm2_gguf),
                        embedder="minilm-l6-v2", max_answer_tokens=48,
                        model_dir=str(minilm_onnx.parent.parent), context_size=2048)
    report = ws.ingest([handbook], collection="handbook")
    assert report.ok and len(report.added) == 5
    yield ws
    ws.close()


def test_retrieval_finds_the_gold_document(workspace):
    answerable = [q for q in handbook_questions() if q["answerable"]]
    found = 0
    for q in answerable:
        hits = workspace.search(q["question"], k=5)
        found += any(Path(h.chunk.source).name == q["source"] for h in hits)
    assert found / len(answerable) >= 0.9, f"{found}/{len(answerable)}"


def test_pdf_page_of_the_gold_passage(workspace):
    hits = workspace.search("Which phone extension is the security hotline for reporting incidents?")
    top_pdf = next(h for h in hits if h.chunk.source.endswith(".pdf"))
    assert top_pdf.chunk.page_start == 3 and "7110" in top_pdf.chunk.text


def test_streamed_answer_with_citations(workspace):
    events = list(workspace.ask_stream("How long is the probation period?"))
    tokens = [e.text for e in events if isinstance(e, Token)]
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and tokens and not answer.abstained
    assert answer.generator_model.endswith(".gguf") and answer.embedder_model.startswith("all-MiniLM")
    assert answer.sentences and answer.usage["completion_tokens"] > 0
    for s in answer.sentences:
        assert all(1 <= n <= len(answer.sources) for n in s.citations)
        assert (s.method == "none") == (not s.citations)
    assert answer.timings["first_token"] > 0 and answer.timings["generate"] > 0


def test_unrelated_question_abstains_before_generation(workspace):
    answer = workspace.ask("Do employees receive stock options, and how do they vest?")
    assert answer.abstained and answer.generator_model is None
    assert answer.text == "Not in the documents."


def test_cli_entry_point_end_to_end(tmp_path, smollm2_gguf, minilm_onnx):
    handbook = copy_handbook(tmp_path)
    env = {**os.environ, "FIABLE_WORKSPACE": str(tmp_path / "ws"),
           "FIABLE_MODEL_DIR": str(minilm_onnx.parent.parent),
           "FIABLE_GENERATOR": str(smollm2_gguf), "FIABLE_MAX_ANSWER_TOKENS": "32"}
    script = Path(sys.executable).parent / "fiable"  # the installed console script
    fiable = [str(script)] if script.exists() else [sys.executable, "-m", "fiable"]
    out = subprocess.run([*fiable, "ingest", str(handbook), "--json"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["added"]) == 5
    out = subprocess.run([*fiable, "ask", "How many remote days per week?", "--json"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["sources"] and answer["trace_id"]


def test_openai_compatible_backend_through_the_workspace(tmp_path, llama_server, minilm_onnx):
    """generator = "openai" against a real llama.cpp server (OpenAI API) on 127.0.0.1."""
    from tests.conftest import SERVER_KEY

    handbook = copy_handbook(tmp_path)
    ws = Workspace.open(tmp_path / "ws", create=True, generator="openai",
                        generator_url=llama_server, generator_model="smollm2",
                        generator_api_key=SERVER_KEY, max_answer_tokens=32, context_size=1024,
                        top_k=2, model_dir=str(minilm_onnx.parent.parent))
    ws.ingest([handbook])
    events = list(ws.ask_stream("How long is the probation period?"))
    answer = events[-1].answer
    assert any(isinstance(e, Token) for e in events)
    assert answer.generator_model == "smollm2" and answer.usage.get("completion_tokens", 0) > 0
    record = ws.history(trace_id=answer.trace_id)[0]
    assert SERVER_KEY not in json.dumps(record)
    ws.close()


def test_server_stream_disconnect_cancels_the_real_generation(tmp_path, smollm2_gguf,
                                                              minilm_onnx):
    """A client that leaves mid-stream frees the model at once: the llama.cpp generation
    stops instead of running to max_answer_tokens."""
    import time

    import httpx

    from fiable.server import create_app
    from tests.helpers import serve_app

    ws = Workspace.open(tmp_path / "ws", create=True, generator=str(smollm2_gguf),
                        embedder="minilm-l6-v2", max_answer_tokens=400, min_relevance=0.0,
                        model_dir=str(minilm_onnx.parent.parent), context_size=2048,
                        verify="off")
    ws.ingest([copy_handbook(tmp_path)], collection="hr")
    app = create_app(ws, auth=False)
    with serve_app(app) as url:
        question = {"question": "Describe every leave policy in detail, at length.",
                    "stream": True}
        with httpx.stream("POST", f"{url}/v1/ask", json=question, timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith("event: token"):
                    break  # leave after the first token
        state = app.state.fiable
        deadline = time.monotonic() + 5
        while state.gate.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.gate.running == 0, "generation still running after the client left"
        assert ws.history() == []  # cut before its end: no answer was completed and logged
        metrics = httpx.get(f"{url}/metrics").text
        assert "fiable_client_disconnects_total 1.0" in metrics
        # the model is free: the next question is answered
        answer = httpx.post(f"{url}/v1/ask", json={"question": "How many days of annual "
                                                   "leave?"}, timeout=120)
        assert answer.status_code == 200
    ws.close()
