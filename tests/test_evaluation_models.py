"""Evaluation with the real models: MiniLM (ONNX) retrieval on SciFact gold labels, and a
QA run through SmolLM2 (llama.cpp) on SQuAD 2.0 questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from fiable import Workspace
from fiable.cli import main
from fiable.evaluation import evaluate, import_squad, load_dataset

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent / "fixtures" / "eval"


def test_minilm_hybrid_beats_dense_and_the_gate_catches_a_bad_setting(tmp_path, minilm_onnx,
                                                                      capsys, monkeypatch):
    model_dir = str(minilm_onnx.parent.parent)
    with Workspace.open(tmp_path / "ws", create=True, embedder="minilm-l6-v2",
                        model_dir=model_dir) as ws:
        run = evaluate(ws, load_dataset(FIXTURES / "scifact-mini"))
    metrics = run.metrics
    assert metrics["ndcg@10"] >= 0.85, metrics
    assert metrics["ndcg@10"] >= metrics["dense.ndcg@10"] - 0.02
    monkeypatch.setenv("FIABLE_MODEL_DIR", model_dir)
    ws_arg = ["-w", str(tmp_path / "ws")]
    gates = ["--fail-under", "ndcg@10=0.85", "--fail-under", "recall@10=0.99"]
    assert main([*ws_arg, "eval", str(FIXTURES / "scifact-mini"), *gates]) == 0
    # a deliberately bad setting: one candidate per retriever leaves one or two documents,
    # so a gold abstract that ranked second in both lists is lost
    code = main([*ws_arg, "--set", "candidates=1", "eval", str(FIXTURES / "scifact-mini"), *gates])
    assert code == 1
    assert "gate failed: recall@10 = 0.9583 < 0.99" in capsys.readouterr().err


def test_qa_run_with_a_real_generator(tmp_path, minilm_onnx, smollm2_gguf):
    import_squad(FIXTURES / "squad2-mini.json", tmp_path / "sq", dev_fraction=0.0)
    with Workspace.open(tmp_path / "ws", create=True, embedder="minilm-l6-v2",
                        generator=str(smollm2_gguf), model_dir=str(minilm_onnx.parent.parent),
                        max_answer_tokens=40, context_size=2048) as ws:
        run = evaluate(ws, load_dataset(tmp_path / "sq", limit=4))
    assert len(run.items) == 4
    assert run.metrics["context_recall"] == 1.0  # three paragraphs: MiniLM finds the right one
    assert run.summary["models"]["generator"]["sha256"]  # the GGUF file's hash is recorded
    assert run.summary["latency"]["total"]["p50_ms"] > 0
    answered = [i for i in run.items if not i["abstained"]]
    assert all(i["answer"] for i in answered)
    assert run.metrics["tokens_per_second"] is None or run.metrics["tokens_per_second"] > 0
