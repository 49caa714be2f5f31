"""Abstention on SQuAD 2.0: calibrate on dev, report on test, against no abstention.

    python benchmarks/abstention.py --dev 100 --test 100      # about 15 min on 2 cores
    python benchmarks/abstention.py --fit                     # refit the answerability weights
    python benchmarks/abstention.py --from-runs WS            # re-score stored runs, no generation

The same calibration as ``fiable eval QA_SET --split dev --sweep``
(:mod:`fiable.evaluation.calibrate`). One pass over each split with the default
generator, ``min_relevance = 0``, ``verify = flag`` and ``answerability = classifier`` at
threshold 0 (scored, never refusing) records, per question, the best passage similarity
(``relevance``), the answerability classifier's P(answerable), the answer's support and
the answer. Every abstention rule is a threshold on those numbers, so every
(min_relevance, support_threshold, answerability_threshold) triple is then scored exactly
without generating again (temperature 0: the same prompt gives the same answer):

- abstain before generation when relevance < min_relevance, or when P(answerable) <
  answerability_threshold (``answerability = classifier``, :mod:`fiable.trust.answerability`);
- abstain after generation (``verify = abstain``) when support < support_threshold;
- the model's own "Not in the documents." always counts.

The thresholds are chosen on dev (best abstention F1 whose answer F1 is at most 5 points
under no abstention) and reported on dev and test beside no abstention, the shipped
defaults and the previous (relevance, support) calibration. The test split's first
questions are the ones ``benchmarks/peers/run.py`` asks the peers.

``--fit`` refits :data:`fiable.trust.answerability.WEIGHTS` on the dev questions after the
first ``--dev`` (those are kept for choosing thresholds; test is never used): retrieval
only, no generation, about 2 min. ``--from-runs WS`` reads the runs a previous invocation
stored in workspace WS (labels "abstention dev" / "abstention test") and scores the
classifier on the passages those answers were shown, instead of generating again.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, fit_logistic, machine, table  # noqa: E402

import time  # noqa: E402

import numpy as np  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation import evaluate, import_squad, load_dataset  # noqa: E402
from fiable.evaluation.calibrate import calibrate_abstention, outcome  # noqa: E402
from fiable.ingest import document_key  # noqa: E402
from fiable.retrieval import hybrid_search  # noqa: E402
from fiable.settings import Settings  # noqa: E402
from fiable.trust.answerability import FEATURES, WEIGHTS, features, probability  # noqa: E402

CLASSIFIER_SECONDS: list[float] = []  # features + probability, per question (--from-runs)
SCORED = {"min_relevance": 0.0, "verify": "flag", "answerability": "classifier",
          "answerability_threshold": 0.0}


def _hits(ws: Workspace, question: str, shown: list[str] | None = None) -> list:
    """The passages shown for ``question``: today's top_k, or (``shown``, document keys)
    those a stored answer was shown, in its order."""
    st = ws.settings_for(["squad2"])
    res = hybrid_search(ws.store, ws.embedder, question, k=20 if shown else st.top_k,
                        collections=["squad2"], fusion=st.fusion, rrf_k=st.rrf_k,
                        dense_weight=st.dense_weight, candidates=st.candidates)
    if not shown:
        return res.hits
    by_key = {document_key(h.chunk.source): h for h in res.hits}
    return [by_key[k] for k in shown if k in by_key]


def _features(question: str, hits: list) -> dict[str, float]:
    return features(question, [h.chunk.text for h in hits], [h.dense_score for h in hits],
                    [h.lexical_score for h in hits])


def evalset_features(split: str = "dev") -> tuple[np.ndarray, np.ndarray]:
    """FEATURES and answerable labels of the bundled evaluation set's ``split`` (Ferrand
    Holt's documents: tables, exceptions, French; off-topic questions), retrieval only."""
    from fiable.samples import evalset_dir, evalset_questions

    questions = [q for q in evalset_questions() if q["split"] == split]
    with tempfile.TemporaryDirectory() as tmp, \
            Workspace.open(Path(tmp) / "ws", create=True, log_asks=False) as ws:
        ws.ingest([evalset_dir()], collection="evalset")
        x = np.array([[features(q["question"], [h.chunk.text for h in hits],
                                [h.dense_score for h in hits],
                                [h.lexical_score for h in hits])[n] for n in FEATURES]
                      for q in questions
                      for hits in [ws.search(q["question"], collections=["evalset"])]])
    return x, np.array([q["answerable"] for q in questions], float)


def fit_weights(ws_dir: Path, folder: Path, skip: int, l2: float = 1.0,
                evalset_share: float = 0.5) -> dict[str, float]:
    """Logistic weights over FEATURES on SQuAD dev questions ``skip``+ (answerable or not)
    pooled with the evaluation set's dev split, whose questions together weigh
    ``evalset_share`` of the SQuAD ones (real documents beside SQuAD's adversarial ones)."""
    questions = load_dataset(folder, split="dev").questions[skip:]
    with Workspace.open(ws_dir, log_asks=False) as ws:
        ws.store.require_collections(["squad2"])
        x = np.array([[_features(q.question, _hits(ws, q.question))[n] for n in FEATURES]
                      for q in questions])
    y = np.array([q.answerable for q in questions], float)
    ex, ey = evalset_features("dev")
    weight = np.concatenate([np.ones(len(y)), np.full(len(ey), evalset_share * len(y) / len(ey))])
    x, y = np.vstack([x, ex]), np.concatenate([y, ey])
    bias, raw = fit_logistic(x, y, weight, l2 * len(y) / len(questions))  # l2 per SQuAD question
    weights = {"bias": round(bias, 3),
               **{n: round(float(v), 3) for n, v in zip(FEATURES, raw)}}
    print(f"fitted on SQuAD dev questions {skip + 1}-{skip + len(questions)} ({len(questions)}, "
          f"{int(y[:len(questions)].sum())} answerable) and the evaluation set's dev split "
          f"({len(ey)}, {int(ey.sum())} answerable, weighing {evalset_share:.0%} of SQuAD's):"
          f"\nWEIGHTS = {weights}", file=sys.stderr)
    return weights


def auroc(scores: list[float], positive: list[bool]) -> float:
    s, y = np.asarray(scores, float), np.asarray(positive, bool)
    ranks = np.empty(len(s))
    ranks[np.argsort(s, kind="mergesort")] = np.arange(1, len(s) + 1)
    n = int(y.sum())
    if n in (0, len(y)):
        return float("nan")  # one class only: undefined
    return float((ranks[y].sum() - n * (n + 1) / 2) / (n * (len(y) - n)))


def stored_runs(ws_dir: Path, folder: Path, weights: dict[str, float]) -> dict[str, list[dict]]:
    """The stored "abstention dev/test" runs of ``ws_dir``, each item given the classifier's
    P(answerable) on the passages its answer was shown."""
    text = {q.id: q.question for split in ("dev", "test")
            for q in load_dataset(folder, split=split).questions}
    out: dict[str, list[dict]] = {}
    with Workspace.open(ws_dir, log_asks=False) as ws:
        for run in ws.store.eval_runs():
            split = run.get("split")
            if run.get("label") != f"abstention {split}" or split in out:
                continue
            found = ws.store.eval_run(run["id"])
            assert found is not None
            items = found[1]
            for it in items:
                hits = _hits(ws, text[it["id"]], it["sources"])
                t0 = time.perf_counter()
                it["answerability"] = round(probability(_features(text[it["id"]], hits), weights), 4)
                CLASSIFIER_SECONDS.append(time.perf_counter() - t0)
            out[split] = items
    return out

def run(ws_dir: Path, folder: Path, split: str, n: int) -> list[dict]:
    with Workspace.open(ws_dir, log_asks=False, **SCORED) as ws:
        result = evaluate(ws, load_dataset(folder, split=split, limit=n),
                          collection="squad2", label=f"abstention {split}")
        print(f"{split}: {result.summary['items']} questions in {result.summary['seconds']:.0f} s",
              file=sys.stderr)
        return result.items


def _row(name: str, x: dict[str, float]) -> list[str]:
    return [name, f"{x['f1']:.3f}", f"{x['abstention.precision']:.3f}",
            f"{x['abstention.recall']:.3f}", f"{x['abstention.f1']:.3f}"]


def report(split: str, items: list[dict], old, new) -> None:
    defaults = Settings()
    rows = [_row(name, outcome(items, *thresholds)) for name, thresholds in (
        ("no abstention beyond the model's own", (0.0, 0.0)),
        (f"shipped defaults (min_relevance {defaults.min_relevance}, verify flag)",
         (defaults.min_relevance, 0.0)),
        (f"previous calibration: min_relevance {old.min_relevance}, verify abstain, "
         f"support_threshold {old.support_threshold}", (old.min_relevance, old.support_threshold)),
        (f"answerability classifier alone, threshold {new.answerability_threshold}",
         (0.0, 0.0, new.answerability_threshold)),
        (f"calibrated with the classifier: min_relevance {new.min_relevance}, support_threshold "
         f"{new.support_threshold}, answerability_threshold {new.answerability_threshold}",
         (new.min_relevance, new.support_threshold, new.answerability_threshold)))]
    unanswerable = sum(not it["answerable"] for it in items)
    answered = [it for it in items if not it["abstained"] and it.get("answerability") is not None]
    auc = auroc([it["answerability"] for it in answered], [it["answerable"] for it in answered])
    print(f"\nSQuAD 2.0 {split} split, first {len(items)} questions ({len(items) - unanswerable} "
          f"answerable, {unanswerable} unanswerable), {Settings().generator}, {machine()}; "
          f"classifier AUROC on the {len(answered)} the model answered: {auc:.3f}\n")
    print(table(rows, ["policy", "answer F1 (answerable)", "abstention P", "abstention R",
                       "abstention F1"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=int, default=100)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--fit", action="store_true",
                    help="refit the answerability weights on dev questions after the first --dev")
    ap.add_argument("--from-runs", type=Path, default=None, metavar="WS",
                    help="score the runs stored in workspace WS instead of generating again")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    folder = tmp / "squad2"
    import_squad(DATA / "squad2" / "dev-v2.0.json", folder)
    ws_dir = a.from_runs or a.workspace or tmp / "ws"
    if a.from_runs is None:
        with Workspace.open(ws_dir, create=True) as ws:  # the index, for --fit
            evaluate(ws, load_dataset(folder, split="dev", limit=1), collection="squad2",
                     store=False, overrides={"min_relevance": 2.0})  # ingest only, no model
    weights = fit_weights(ws_dir, folder, a.dev) if a.fit else WEIGHTS
    if a.from_runs is not None:
        runs = stored_runs(ws_dir, folder, weights)
        dev, test = runs["dev"][: a.dev], runs["test"][: a.test]
    else:
        if weights != WEIGHTS:
            sys.exit("paste the fitted WEIGHTS into src/fiable/trust/answerability.py, then "
                     "rerun without --fit (the pipeline scores with the shipped weights)")
        dev = run(ws_dir, folder, "dev", a.dev)
        test = run(ws_dir, folder, "test", a.test)
    old = calibrate_abstention([{k: v for k, v in it.items() if k != "answerability"} for it in dev])
    new = calibrate_abstention(dev)
    print(f"dev: chosen min_relevance {new.min_relevance}, support_threshold "
          f"{new.support_threshold}, answerability_threshold {new.answerability_threshold}",
          file=sys.stderr)
    report("dev (thresholds chosen here)", dev, old, new)
    report("test (confirmation)", test, old, new)
    if CLASSIFIER_SECONDS:
        cost = sorted(CLASSIFIER_SECONDS)
        print(f"\nclassifier cost per question (features + probability, retrieval excluded): "
              f"p50 {cost[len(cost) // 2] * 1000:.1f} ms, p95 "
              f"{cost[int(len(cost) * 0.95)] * 1000:.1f} ms over {len(cost)} questions")
    print(f"\nrerun: python benchmarks/abstention.py --dev {a.dev} --test {a.test}"
          + (" --fit" if a.fit else "") + (f" --from-runs {a.from_runs}" if a.from_runs else ""))


if __name__ == "__main__":
    main()
