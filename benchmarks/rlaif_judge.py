"""RLAIF agreement: the AI pairwise judge on labelled answer pairs built from SQuAD 2.0.

    python benchmarks/rlaif_judge.py                  # 150 test pairs, weights as shipped
    python benchmarks/rlaif_judge.py --fit            # fit the weights on 100 dev pairs first
    python benchmarks/rlaif_judge.py --no-model       # cheap signals only (seconds)

Each answerable question gives one pair against its paragraph (the passage). The better
answer is the paragraph sentence holding the gold answer; the worse one does not contain
it, in two kinds of different difficulty (alternating):

- ``other``: another sentence of the same paragraph (supported by the passage, but it does
  not answer the question);
- ``swap``: the gold sentence with the answer span replaced by another entity or number of
  the same shape taken from the paragraph (every word is in the passage; only the phrase
  is wrong).

The A/B order is drawn at random (fixed seed). Questions are split dev/test as
``fiable eval import-squad`` does (hash of the id); the signal weights are fitted on dev
only (the model's weight is a fixed rule, ``MODEL_WEIGHT``). Prints
the accuracy on test of the cheap signals alone, the model alone (asked in both orders;
an inconsistent pair is a tie, counted as wrong) and the cascade, the ms per pair on this
CPU and how often the cascade called the model.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, machine, table

from fiable.evaluation import import_squad, load_dataset
from fiable.feedback.judge import FEATURES, WEIGHTS, PreferenceJudge, answer_features
from fiable.sentences import sentence_spans
from fiable.trust.signals import _ENTITY

_NUMBER = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")


def _shape(answer: str) -> str:
    return "number" if re.search(r"\d", answer) else "name" if answer[:1].isupper() else "other"


def _spans(context: str, shape: str) -> list[str]:
    if shape == "number":
        return _NUMBER.findall(context)
    return [m.group(0) for m in _ENTITY.finditer(context)]


def build(split: str, limit: int, seed: int = 0) -> list[dict]:
    """Pairs ``{question, passage, a, b, label ('a'|'b'), kind}`` of ``split``."""
    folder = Path(tempfile.mkdtemp()) / "squad"
    import_squad(DATA / "squad2" / "dev-v2.0.json", folder)
    contexts = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (folder / "corpus.jsonl").open()}
    rng = random.Random(seed)
    out: list[dict] = []
    for q in load_dataset(folder, split=split).questions:
        if not q.answerable:
            continue
        context, answer = contexts[q.doc_ids[0]], q.answers[0]
        at = context.find(answer)
        spans = list(sentence_spans(context))
        gold = next(((s, e) for s, e in spans if s <= at < e), None)
        if at < 0 or gold is None or len(spans) < 2:
            continue
        right = context[gold[0]:gold[1]]
        if answer not in right or len(right) > 400:
            continue
        kind = "other" if len(out) % 2 == 0 else "swap"
        if kind == "other":
            others = [context[s:e] for s, e in spans if (s, e) != gold
                      and answer.lower() not in context[s:e].lower() and 20 < e - s <= 400]
            if not others:
                continue
            wrong = rng.choice(others)
        else:
            shape = _shape(answer)
            if shape == "other":
                continue
            low = answer.lower()
            choices = sorted({c for c in _spans(context, shape) if c.lower() not in low
                              and low not in c.lower() and c not in right})
            if not choices:
                continue
            wrong = right.replace(answer, rng.choice(choices), 1)
        first = rng.random() < 0.5
        out.append({"question": q.question, "passage": context, "kind": kind,
                    "a": right if first else wrong, "b": wrong if first else right,
                    "label": "a" if first else "b"})
        if limit and len(out) >= limit:
            break
    return out


def fit(x: np.ndarray, y: np.ndarray, steps: int = 4000, lr: float = 0.5) -> np.ndarray:
    """Logistic regression without bias (small L2), by gradient descent."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        w -= lr * (x.T @ (p - y) / len(y) + 1e-3 * w)
    return w


def diffs(pairs: list[dict], feats: list[tuple[dict, dict]]) -> tuple[np.ndarray, np.ndarray]:
    # both orders, so that the fit stays symmetric
    x = np.array([[fa[k] - fb[k] for k in FEATURES] for fa, fb in feats])
    y = np.array([p["label"] == "a" for p in pairs], dtype=float)
    return np.vstack([x, -x]), np.r_[y, 1 - y]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=int, default=100, help="dev pairs (with --fit)")
    ap.add_argument("--test", type=int, default=150, help="test pairs")
    ap.add_argument("--fit", action="store_true", help="fit the weights on dev first")
    ap.add_argument("--no-model", action="store_true", help="cheap signals only")
    ap.add_argument("--model-pairs", type=int, default=30,
                    help="test pairs for the model-only row (each costs two model calls)")
    ap.add_argument("--generator", default="qwen2.5-coder-0.5b")
    a = ap.parse_args()
    from fiable import Workspace
    from fiable.components import make_generator

    ws = Workspace.open(Path(tempfile.mkdtemp()) / "ws", create=True)
    embed = ws.embedder.embed_documents
    generator = None if a.no_model else make_generator(ws.settings.replace(generator=a.generator))
    judge = PreferenceJudge(generator, embed=embed)

    def features(pairs: list[dict]) -> list[tuple[dict, dict]]:
        return [(answer_features(p["question"], [p["passage"]], p["a"], judge.verifier, embed),
                 answer_features(p["question"], [p["passage"]], p["b"], judge.verifier, embed))
                for p in pairs]

    weights = WEIGHTS
    if a.fit:
        dev = build("dev", a.dev)
        x, y = diffs(dev, features(dev))
        weights = tuple(round(float(v), 2) for v in fit(x, y))
        judge.weights = weights
        print(f"fitted on dev ({len(dev)} pairs): WEIGHTS = {weights}")

    test = build("test", a.test)
    labels = [p["label"] for p in test]
    kinds = [p["kind"] for p in test]
    t0 = time.perf_counter()
    feats = features(test)
    cheap_ms = (time.perf_counter() - t0) / len(test) * 1000
    cheap = ["a" if judge.cheap_logit(fa, fb) > 0 else "b" for fa, fb in feats]

    def acc(pred: list[str], kind: str | None = None, n: int | None = None) -> str:
        idx = [i for i, k in enumerate(kinds[:n]) if kind in (None, k)]
        return f"{sum(pred[i] == labels[i] for i in idx) / len(idx):.3f}"

    rows = [["cheap signals only", acc(cheap), acc(cheap, "other"), acc(cheap, "swap"),
             "0", f"{cheap_ms:.0f}"]]
    if generator is not None:
        votes, model_ms = [], []
        sub = test[: a.model_pairs]
        for p in sub:
            t0 = time.perf_counter()
            vote, _ = judge.model_vote(p["question"], [p["passage"]], p["a"], p["b"])
            model_ms.append((time.perf_counter() - t0) * 1000)
            votes.append(vote or 0)
        model = ["a" if v > 0 else "b" if v < 0 else "tie" for v in votes]
        ties = sum(v == 0 for v in votes)
        rows.append([f"model only, first {len(sub)} pairs ({ties} inconsistent = ties)",
                     acc(model, n=len(sub)), acc(model, "other", len(sub)),
                     acc(model, "swap", len(sub)), "2", f"{np.mean(model_ms):.0f}"])
        # the cascade, end to end (the model asked again where the cheap score is close)
        judge.model_calls = 0
        t0 = time.perf_counter()
        verdicts = [judge.judge(p["question"], [p["passage"]], p["a"], p["b"]) for p in test]
        cascade_ms = (time.perf_counter() - t0) / len(test) * 1000
        cascade = [v.preferred for v in verdicts]
        asked = sum(v.signals.get("method") == "model" or "model_ab" in v.signals for v in verdicts)
        rows.append([f"cascade (model on {asked} of {len(test)} pairs)", acc(cascade),
                     acc(cascade, "other"), acc(cascade, "swap"),
                     f"{judge.model_calls / len(test):.2f}", f"{cascade_ms:.0f}"])
        generator.close()
    print(f"\nAI judge agreement with gold pairs, SQuAD 2.0 test split — {machine()}")
    print(f"judge: {judge.judge_id}; weights {tuple(judge.weights)}, model weight "
          f"{judge.model_weight}, margin {judge.margin}\n")
    print(table(rows, ["judge", "accuracy", "other-sentence", "swapped-span",
                       "model calls / pair", "ms / pair"]))
    print(f"\n{len(test)} test pairs ({kinds.count('other')} other-sentence, "
          f"{kinds.count('swap')} swapped-span); goal accuracy >= 0.85")
    print(f"\nrerun: python benchmarks/rlaif_judge.py {' '.join(sys.argv[1:])}")
    ws.close()


if __name__ == "__main__":
    main()
