"""Cost of the model inventory and of the answer disclosure.

    python benchmarks/inventory.py               # default settings, the pulled models, ~5 s
    python benchmarks/inventory.py --rounds 5 --model-dir DIR

Measures ``fiable.models.inventory`` for the default settings (MiniLM ONNX + Qwen2.5-Coder
0.5B) as ``fiable models inventory`` / ``GET /v1/admin/models`` run it: reading the
pull-time manifests (the default) and re-hashing every file (``--verify``; the first round
may read from disk, later ones from the page cache); and the time ``Answer.disclosure``
adds to ``Answer.to_dict()``. Reads the model directory, writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table  # noqa: E402

from fiable.answer import Answer  # noqa: E402
from fiable.models import default_model_dir, inventory  # noqa: E402
from fiable.settings import Settings  # noqa: E402


def _times(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args()
    model_dir = args.model_dir or default_model_dir()
    settings = Settings()
    entries = inventory(settings, model_dir)
    missing = [e["setting"] for e in entries if not e["pulled"]]
    if missing:
        sys.exit(f"pull the default models first: fiable models pull {' '.join(missing)}")
    size = sum(f["size"] or 0 for e in entries for f in e["files"])
    cheap = _times(lambda: inventory(settings, model_dir), args.rounds * 10)
    rehash = _times(lambda: inventory(settings, model_dir, verify=True), args.rounds)

    answer = Answer(question="q", text="t [1]", sentences=(), sources=(), abstained=False,
                    abstain_reason=None, generator_model="qwen2.5-coder-0.5b",
                    embedder_model="all-MiniLM-L6-v2/onnx-int8", prompt_version="v",
                    trace_id="x", created_at="now")
    n = 2000
    disclose = _times(lambda: [answer.disclosure for _ in range(n)], args.rounds)
    whole = _times(lambda: [answer.to_dict() for _ in range(n)], args.rounds)

    def ms(values: list[float], per: int = 1) -> str:
        return f"{statistics.median(values) * 1000 / per:.3f}"

    print(f"machine: {machine()}; model dir {model_dir}; {size / 1e6:.0f} MB of model files; "
          f"median of the rounds")
    print(table([
        ["inventory, hashes from the manifests", ms(cheap)],
        ["inventory --verify (re-hash every file)", ms(rehash)],
        ["Answer.disclosure", ms(disclose, n)],
        ["Answer.to_dict() with the disclosure (no sentences)", ms(whole, n)],
    ], ["what", "ms"]))
    print(f"\nrerun: python benchmarks/inventory.py --rounds {args.rounds}"
          + (f" --model-dir {args.model_dir}" if args.model_dir else ""))


if __name__ == "__main__":
    main()
