"""Shared fixtures.

Real model files come from the model directory that ``scripts/test.sh`` fills with
``fiable models pull``; during development the FIABLE_TEST_* variables can point at files
directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
