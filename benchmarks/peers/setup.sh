#!/usr/bin/env bash
# Creates one virtualenv per peer RAG framework under benchmarks/peers/.venvs/ and installs
# its pinned packages there (never into fiable's own environment).
#
#   bash benchmarks/peers/setup.sh              # all three peers
#   bash benchmarks/peers/setup.sh langchain    # only the named ones
#
# Idempotent: a venv whose marker .venvs/NAME/.installed-<hash> exists is skipped; the hash
# covers the python version, the torch pin and requirements-NAME.txt, so editing a pin
# reinstalls that peer. torch is installed first with the exact pin below: it resolves to the
# CPU wheel from local disk. Never install torch unpinned (that pulls a multi-GB CUDA build);
# the torch pin is also passed as a constraint to the second install so nothing upgrades it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$HERE/.venvs"
PYTHON="${PYTHON:-python3.11}"
TORCH_PIN="torch==2.13.0"
ALL_PEERS=(llamaindex langchain haystack)

if [ "$#" -gt 0 ]; then PEERS=("$@"); else PEERS=("${ALL_PEERS[@]}"); fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "setup.sh: $PYTHON not found (set PYTHON=...)" >&2
    exit 1
fi
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
mkdir -p "$VENVS"

for peer in "${PEERS[@]}"; do
    req="$HERE/requirements-$peer.txt"
    if [ ! -f "$req" ]; then
        echo "setup.sh: unknown peer '$peer' (no $req)" >&2
        exit 1
    fi
    venv="$VENVS/$peer"
    hash="$( { echo "python $PYVER"; echo "$TORCH_PIN"; cat "$req"; } | sha256sum | cut -c1-16)"
    marker="$venv/.installed-$hash"
    if [ -f "$marker" ]; then
        echo "[$peer] up to date ($marker), skipping"
        continue
    fi
    echo "[$peer] setting up $venv (python $PYVER, requirements hash $hash)"
    if [ ! -x "$venv/bin/python" ]; then
        echo "[$peer] creating venv: $PYTHON -m venv $venv"
        "$PYTHON" -m venv "$venv"
    fi
    rm -f "$venv"/.installed-*
    echo "[$peer] pip install $TORCH_PIN"
    "$venv/bin/python" -m pip install --disable-pip-version-check "$TORCH_PIN"
    constraints="$venv/.torch-constraint.txt"
    echo "$TORCH_PIN" > "$constraints"
    echo "[$peer] pip install -r $(basename "$req") -c $TORCH_PIN"
    "$venv/bin/python" -m pip install --disable-pip-version-check -r "$req" -c "$constraints"
    "$venv/bin/python" -m pip freeze --disable-pip-version-check > "$venv/.freeze.txt"
    echo "[$peer] installed: $(grep -i -E '^(torch|sentence-transformers|llama-index-core|langchain|haystack-ai)==' "$venv/.freeze.txt" | tr '\n' ' ')"
    touch "$marker"
    echo "[$peer] done ($marker)"
done
echo "setup.sh: peers ready under $VENVS"
