"""Abstention on SQuAD 2.0: calibrate on dev, report on test, against no abstention.

    python benchmarks/abstention.py --dev 100 --test 100      # about 15 min on 2 cores

The same calibration as ``fiable eval QA_SET --split dev --sweep``
(:mod:`fiable.evaluation.calibrate`). One pass over each split with the default
generator, ``min_relevance = 0`` and ``verify = flag`` records, per question, the best passage similarity (``relevance``), the
answer's support and the answer. Both abstention rules are thresholds on those numbers, so
every (min_relevance, support_threshold) pair is then scored exactly without generating
again (temperature 0: the same prompt gives the same answer):

- abstain before generation when relevance < min_relevance;
- abstain after generation (``verify = abstain``) when support < support_threshold;
- the model's own "Not in the documents." always counts.

The pair is chosen on dev (best abstention F1 whose answer F1 is at most 5 points under
no abstention) and reported on test beside no abstention and the shipped defaults. The
test split's first questions are the ones ``benchmarks/peers/run.py`` asks the peers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, machine, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation import evaluate, import_squad, load_dataset  # noqa: E402
from fiable.evaluation.calibrate import calibrate_abstention, outcome  # noqa: E402
from fiable.settings import Settings  # noqa: E402

def run(ws_dir: Path, folder: Path, split: str, n: int) -> list[dict]:
    with Workspace.open(ws_dir, min_relevance=0.0, verify="flag", log_asks=False) as ws:
        result = evaluate(ws, load_dataset(folder, split=split, limit=n),
                          collection="squad2", label=f"abstention {split}")
        print(f"{split}: {result.summary['items']} questions in {result.summary['seconds']:.0f} s",
              file=sys.stderr)
        return result.items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=int, default=100)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--workspace", type=Path, default=None)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    folder = tmp / "squad2"
    import_squad(DATA / "squad2" / "dev-v2.0.json", folder)
    ws_dir = a.workspace or tmp / "ws"
    Workspace.open(ws_dir, create=True).close()
    dev = run(ws_dir, folder, "dev", a.dev)
    cal = calibrate_abstention(dev)
    t_rel, t_sup = cal.min_relevance, cal.support_threshold
    print(f"dev: without abstention F1 {cal.baseline['f1']:.3f}, abstention F1 "
          f"{cal.baseline['abstention.f1']:.3f}; chosen min_relevance {t_rel}, support_threshold "
          f"{t_sup}: F1 {cal.chosen['f1']:.3f}, abstention F1 {cal.chosen['abstention.f1']:.3f}",
          file=sys.stderr)
    test = run(ws_dir, folder, "test", a.test)
    defaults = Settings()
    rows = []
    for name, r, s in (("no abstention beyond the model's own", 0.0, 0.0),
                       (f"shipped defaults (min_relevance {defaults.min_relevance}, verify flag)",
                        defaults.min_relevance, 0.0),
                       (f"calibrated on dev: min_relevance {t_rel}, verify abstain, "
                        f"support_threshold {t_sup}", t_rel, t_sup),
                       ("before generation only (min_relevance from dev)", t_rel, 0.0),
                       ("after generation only (support_threshold from dev)", 0.0, t_sup)):
        x = outcome(test, r, s)
        rows.append([name, f"{x['f1']:.3f}", f"{x['abstention.precision']:.3f}",
                     f"{x['abstention.recall']:.3f}", f"{x['abstention.f1']:.3f}"])
    unanswerable = sum(not it["answerable"] for it in test)
    print(f"\nSQuAD 2.0 test split, first {len(test)} questions ({len(test) - unanswerable} answerable, "
          f"{unanswerable} unanswerable), {Settings().generator}, {machine()}\n")
    print(table(rows, ["policy", "answer F1 (answerable)", "abstention P", "abstention R",
                       "abstention F1"]))
    print(f"\nrerun: python benchmarks/abstention.py --dev {a.dev} --test {a.test}")


if __name__ == "__main__":
    main()
