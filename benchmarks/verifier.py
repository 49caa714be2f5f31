"""Unsupported-sentence detection on labelled sets built from SQuAD 2.0 / PIAF and the bundled documents.

    python benchmarks/verifier.py                 # AUROC on test, weights as shipped
    python benchmarks/verifier.py --fit           # fit the logistic weights on dev, then test
    python benchmarks/verifier.py --judge 60      # also the cascade with the Qwen judge (60 pairs)
    python benchmarks/verifier.py --dataset piaf  # the same sets built from PIAF (French)
    python benchmarks/verifier.py --dataset piaf --english-rules  # ablation: English stemmer
    python benchmarks/verifier.py --write-sentences 200  # regenerate the model-written sentences

Each answerable question gives claims against its paragraph:

- ``sentence``: the paragraph sentence holding the gold answer (supported), and the same
  sentence with the answer swapped for a plausible wrong one (unsupported);
- ``answer``: an answer-like claim, the question followed by the gold answer
  ("What river is larger than the Rhine? Danube."), and the same with the wrong answer;
  nothing in it is copied from the paragraph, as in a model's paraphrased answer;
- ``model``: the answer sentences Qwen2.5-Coder-0.5B actually wrote through
  ``Workspace.ask`` over the whole corpus (``benchmarks/data/verifier-sentences.jsonl``, made
  by ``--write-sentences``) that contain a gold answer: bare values, restated questions,
  paraphrases, as the small model writes them; and each with its gold answer swapped.

The wrong answer is another question's gold answer of the same shape (a number for a
number, a capitalised name for a name, else any short answer) that the paragraph does not
contain, drawn with a fixed seed. ``mixed-sentence``, ``mixed-answer`` and ``mixed-model``
are the same claims with a **mixed-fact** wrong answer instead: a value of the same shape
taken from another sentence of the same paragraph (a real value attached to the wrong thing,
the commonest error of a small reader; issue 23). ``tables`` are claims about the table
cells of the bundled handbook and evaluation set ("The limit for Hotel, per night, in Paris
is €180."), each against its table and a prose sentence stating a value with a unit, beside
the same claim with the cell of another row, of another column, the prose sentence's value
(another unit), or the cell's number with another unit (``€25`` -> ``25%``).

Questions are split dev/test as ``fiable eval import-squad`` does; the weights are fitted on
every dev set (``--fit``); the test split and the tables are only measured. Columns: AUROC,
the share of correct claims labelled unsupported (flagged to the reader) and of wrong ones,
and the verification time per sentence (that time as a share of generating one answer
sentence with the same model, with ``--judge``).
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

from _common import DATA, machine, percentile, table  # noqa: E402

from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.sentences import sentence_spans, split_sentences  # noqa: E402
from fiable.trust.verifier import (WEIGHTS, WEIGHTS_LEXICAL, CascadeVerifier, Claim,  # noqa: E402
                                   features)

_NUM = re.compile(r"^\W*\d[\d,.]*\W*$")


def shape(answer: str) -> str:
    if _NUM.match(answer) or re.search(r"\d", answer):
        return "number"
    if answer[:1].isupper():
        return "name"
    return "other"


SOURCES = {"squad": ("SQuAD 2.0", DATA / "squad2" / "dev-v2.0.json"),
           "piaf": ("PIAF (French)", DATA / "piaf" / "piaf-v1.1.json")}


_NUMBER_TOKEN = re.compile(r"(?<![\w.,])\d[\d,.]*\d(?![\w])|(?<![\w.,])\d(?![\w.,])")
_NAME_RUN = re.compile(r"(?<![\w'])(?:[A-Z][\w'-]+)(?:\s+(?:of\s+|de\s+)?[A-Z][\w'-]+)*")


def same_passage_values(answer: str, context: str, sentence: str) -> list[str]:
    """Values of ``answer``'s shape found elsewhere in ``context``, not in ``answer``: the
    mixed-fact negatives (a real value of the passage attached to the wrong thing). Numbers
    for a number, capitalised names for a name, drawn outside the answer's own sentence."""
    rest = context.replace(sentence, " ")
    kind = shape(answer)
    if kind == "number":
        found = _NUMBER_TOKEN.findall(rest)
    elif kind == "name":
        found = [m.group(0) for m in _NAME_RUN.finditer(rest) if len(m.group(0)) > 2]
    else:
        return []
    own = answer.lower()
    return sorted({v for v in found if v.lower() not in own and own not in v.lower()
                   and v.lower() not in sentence.lower()})


def _questions(split: str, dataset: str) -> tuple[dict[str, str], list]:
    """The paragraphs by id and the answerable questions of ``split``."""
    folder = Path(tempfile.mkdtemp()) / dataset
    import_squad(SOURCES[dataset][1], folder)
    contexts = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (folder / "corpus.jsonl").open()}
    return contexts, [q for q in load_dataset(folder, split=split).questions if q.answerable]


def _answer_sentence(context: str, answer: str) -> str | None:
    at = context.find(answer)
    if at < 0:
        return None
    return next((context[s:e] for s, e in sentence_spans(context) if s <= at < e), None)


def build(split: str, limit: int, kind: str, seed: int = 0, dataset: str = "squad"
          ) -> list[tuple[Claim, int]]:
    """Claims of ``kind``: ``sentence`` / ``answer`` with a wrong answer from another
    question (absent from the passage), ``mixed-sentence`` / ``mixed-answer`` with a wrong
    value taken from the same passage; ``model`` / ``mixed-model``: the sentences the model
    wrote (``MODEL_SENTENCES``), each with the same two kinds of wrong value."""
    if kind.endswith("model"):
        return build_model(split, limit, kind, seed, dataset)
    contexts, items = _questions(split, dataset)
    pool: dict[str, list[str]] = {}
    for q in items:
        pool.setdefault(shape(q.answers[0]), []).append(q.answers[0])
    rng = random.Random(seed)
    out: list[tuple[Claim, int]] = []
    for q in items:
        context, answer = contexts[q.doc_ids[0]], q.answers[0]
        sentence = _answer_sentence(context, answer)
        if not sentence or answer not in sentence or len(sentence) > 400:
            continue
        if kind.startswith("mixed"):
            choices = same_passage_values(answer, context, sentence)
        else:
            choices = [a for a in pool[shape(answer)] if a.lower() not in context.lower()]
        if not choices:
            continue
        other = rng.choice(choices)
        if kind in ("sentence", "mixed-sentence"):
            right, wrong = sentence, sentence.replace(answer, other, 1)
        else:
            right, wrong = f"{q.question.strip()} {answer}.", f"{q.question.strip()} {other}."
        out.append((Claim(right, (context,), q.question), 1))
        out.append((Claim(wrong, (context,), q.question), 0))
        if limit and len(out) >= 2 * limit:
            break
    return out


MODEL_SENTENCES = Path(__file__).resolve().parent / "data" / "verifier-sentences.jsonl"


def build_model(split: str, limit: int, kind: str, seed: int = 0, dataset: str = "squad"
                ) -> list[tuple[Claim, int]]:
    """The answer sentences Qwen2.5-0.5B wrote through ``Workspace.ask`` that contain a gold
    answer (correct, as the model words them: bare values, restated questions, merged
    facts), and each with its gold answer swapped: for ``model`` by another question's answer
    of the same shape absent from the paragraph, for ``mixed-model`` by a value of the same
    shape from another sentence of the same paragraph."""
    rows = [json.loads(x) for x in MODEL_SENTENCES.open(encoding="utf-8")]
    rows = [r for r in rows if r["dataset"] == dataset and r["split"] == split]
    contexts, items = _questions(split, dataset)
    pool: dict[str, list[str]] = {}
    for q in items:
        pool.setdefault(shape(q.answers[0]), []).append(q.answers[0])
    rng = random.Random(seed)
    out: list[tuple[Claim, int]] = []
    for r in rows:
        context, text = contexts[r["doc"]], r["sentence"]
        answer = next((a for a in sorted(r["answers"], key=len, reverse=True)
                       if a.lower() in text.lower() and a in context), None)
        sentence = _answer_sentence(context, answer) if answer else None
        if not sentence:
            continue
        if kind == "mixed-model":
            choices = same_passage_values(answer, context, sentence)
        else:
            choices = [a for a in pool[shape(answer)] if a.lower() not in context.lower()]
        choices = [c for c in choices if c.lower() not in text.lower()]
        if not choices:
            continue
        at = text.lower().find(answer.lower())
        wrong = text[:at] + rng.choice(choices) + text[at + len(answer):]
        out.append((Claim(text, (context,), r["question"]), 1))
        out.append((Claim(wrong, (context,), r["question"]), 0))
        if limit and len(out) >= 2 * limit:
            break
    return out


_UNIT_VALUE = re.compile(r"(?:[€£$]\s?\d[\d,.]*(?:\s(?:per|a|an)\s\w+)?|\d[\d,.]*\s?(?:%|(?:working |calendar )?"
                         r"(?:days?|hours?|minutes?|months?|weeks?|years?)|characters|euros?|"
                         r"km|kilometres?))")


def _table_chunks() -> list[tuple[str, list[str]]]:
    """The chunks of the bundled handbook and evaluation set holding a table (rows written
    ``cell | cell``, as the loaders write them for every format), each with the prose
    sentences of its collection that state a value with a unit."""
    from importlib.resources import files

    from fiable import Workspace

    ws = Workspace.open(Path(tempfile.mkdtemp()) / "ws", create=True)
    out: list[tuple[str, list[str]]] = []
    for name in ("handbook", "evalset"):
        ws.ingest([Path(str(files("fiable.samples") / name))], collection=name)
        texts = [c.text for d in ws.store.export_documents(name) for c in d.chunks]
        prose = sorted({s for t in texts for ln in t.splitlines() if " | " not in ln
                        for s in split_sentences(ln) if _UNIT_VALUE.search(s) and len(s) < 300})
        out += [(t, prose) for t in texts if t.count(" | ") >= 4]
    ws.close()
    return out


_UNIT_SWAPS = ((r"€(\d[\d,.]*)", r"\1%"), (r"£(\d[\d,.]*)", r"\1%"), (r"(\d) days?\b", r"\1 working days"),
               (r"(\d) hours?\b", r"\1 minutes"), (r"(\d) minutes?\b", r"\1 hours"),
               (r"(\d) months?\b", r"\1 weeks"), (r"(\d) working days?\b", r"\1 weeks"))


def _swap_unit(cell: str) -> str:
    """``cell`` with its number's unit or currency replaced by another (€25 -> 25%, 5 days ->
    5 working days); unchanged when it has none of those."""
    for pattern, repl in reversed(_UNIT_SWAPS):
        swapped = re.sub(pattern, repl, cell, count=1)
        if swapped != cell:
            return swapped
    return cell


def build_tables(seed: int = 0) -> tuple[list[tuple[Claim, int]], list[str]]:
    """Claims about the table cells of the bundled documents, each against its table's chunk
    and a prose sentence of the same collection stating a value with a unit (the mileage
    rate beside the hotel table): for each row and each column whose cell holds a number,
    "The <column> for <row> is <cell>." (correct), and the same with the cell of another row
    (same column), of another column (same row), the prose sentence's value (another unit),
    and the cell's number with another unit or currency (``€25`` -> ``25%``). Returns the claims and each negative's kind (``""`` for the correct ones)."""
    rng = random.Random(seed)
    claims: list[tuple[Claim, int]] = []
    kinds: list[str] = []
    for text, prose in _table_chunks():
        rows = [[c.strip() for c in ln.split(" | ")] for ln in text.splitlines() if " | " in ln]
        header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
        for j, row in enumerate(body):
            aside = rng.choice(prose)
            evidence = (text, aside)
            for c in range(1, len(header)):
                cell = row[c]
                if not re.search(r"\d", cell) or len(cell) > 40:
                    continue
                question = f"What is the {header[c].lower()} for {row[0]}?"
                said = f"The {header[c].lower()} for {row[0]} is {{}}."
                claims.append((Claim(said.format(cell), evidence, question), 1))
                kinds.append("")
                others = {
                    "another row": [r[c] for r in body if r is not row and re.search(r"\d", r[c])
                                    and r[c] != cell],
                    "another column": [row[k] for k in range(1, len(header)) if k != c
                                       and re.search(r"\d", row[k]) and row[k] != cell],
                    "another unit": [m.group(0) for m in _UNIT_VALUE.finditer(aside)
                                     if m.group(0) not in cell],
                }
                swapped = _swap_unit(cell)
                others["same number, another unit"] = [swapped] if swapped != cell else []
                for kind, values in others.items():
                    if values:
                        claims.append((Claim(said.format(rng.choice(values)), evidence, question), 0))
                        kinds.append(kind)
    return claims, kinds


def write_model_sentences(dataset: str, split: str, count: int, generator: str) -> int:
    """Ask ``count`` answerable questions of ``split`` through ``Workspace.ask`` over the whole
    corpus (no gate before generation, no quote) and append the answer sentences to
    ``MODEL_SENTENCES``; returns the number of sentences written."""
    from fiable import Workspace
    from fiable.evaluation.runner import ingest_corpus

    folder = Path(tempfile.mkdtemp()) / dataset
    import_squad(SOURCES[dataset][1], folder)
    data = load_dataset(folder, split=split)
    ws = Workspace.open(Path(tempfile.mkdtemp()) / "ws", create=True, generator=generator,
                        answerability="off", min_relevance=0.0, answer_threshold=0.0,
                        quote_min_coverage=2.0)
    ingest_corpus(ws, data, "corpus")
    written = 0
    with MODEL_SENTENCES.open("a", encoding="utf-8") as out:
        for q in [q for q in data.questions if q.answerable][:count]:
            answer = ws.ask(q.question, collections=["corpus"])
            for s in [] if answer.abstained else answer.sentences:
                out.write(json.dumps({"dataset": dataset, "split": split, "id": q.id,
                                      "doc": q.doc_ids[0], "question": q.question,
                                      "answers": list(q.answers), "sentence": s.text,
                                      "generator": generator}, ensure_ascii=False) + "\n")
                written += 1
            out.flush()
    ws.close()
    return written


KINDS = ("sentence", "answer", "mixed-sentence", "mixed-answer", "model", "mixed-model")


def flagged(supports, labels: list[int]) -> str:
    """Share of the correct claims labelled unsupported (flagged to the reader)."""
    right = [s for s, y in zip(supports, labels) if y]
    return f"{sum(s.label == 'unsupported' for s in right) / max(len(right), 1):.1%}"


def caught(supports, labels: list[int]) -> str:
    """Share of the wrong claims labelled unsupported."""
    wrong = [s for s, y in zip(supports, labels) if not y]
    return f"{sum(s.label == 'unsupported' for s in wrong) / max(len(wrong), 1):.1%}"


def auroc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def fit(x: np.ndarray, y: np.ndarray, steps: int = 4000, lr: float = 0.5) -> np.ndarray:
    """Logistic regression by gradient descent (small L2 penalty)."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        w -= lr * (x.T @ (p - y) / len(y) + 1e-3 * np.r_[0, w[1:]])
    return w


def matrix(claims: list[tuple[Claim, int]], embed) -> tuple[np.ndarray, np.ndarray]:
    """The verifier's feature vectors of ``claims`` and their labels."""
    sims = CascadeVerifier(embed)._similarities([c for c, _ in claims])
    x = np.array([features(c.sentence, "\n".join(c.evidence), sim, placement)[1]
                  for (c, _), (sim, placement) in zip(claims, sims)])
    return x, np.array([lab for _, lab in claims], dtype=float)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=600, help="questions per split (0: all)")
    ap.add_argument("--fit", action="store_true", help="fit the weights on dev first")
    ap.add_argument("--judge", type=int, default=0, help="pairs to run through the judge cascade")
    ap.add_argument("--generator", default="qwen2.5-coder-0.5b")
    ap.add_argument("--dataset", choices=sorted(SOURCES), default="squad",
                    help="where the claims come from (weights are fitted on SQuAD either way)")
    ap.add_argument("--embedder", default=None, help="embedder setting (default: the workspace's)")
    ap.add_argument("--write-sentences", type=int, default=0, metavar="N",
                    help="ask N answerable questions of each split with --generator and append "
                         "its answer sentences to benchmarks/data/verifier-sentences.jsonl")
    ap.add_argument("--english-rules", action="store_true",
                    help="ablation: English stop words and stemmer whatever the evidence's language")
    a = ap.parse_args()
    if a.english_rules:
        import fiable.trust.signals as signals_module

        signals_module.evidence_language = lambda evidence: "en"  # type: ignore[assignment]
    from fiable import Workspace

    ws = Workspace.open(Path(tempfile.mkdtemp()) / "ws", create=True,
                        **({"embedder": a.embedder} if a.embedder else {}))
    embed = ws.embedder.embed_documents
    rows = []
    weights, lexical_weights = WEIGHTS, WEIGHTS_LEXICAL
    if a.write_sentences:
        for split in ("dev", "test"):
            n = write_model_sentences(a.dataset, split, a.write_sentences, a.generator)
            print(f"{n} sentences of {a.dataset} {split} written to {MODEL_SENTENCES}")
        return
    if a.fit:
        dev = [claim for kind in KINDS for claim in build("dev", a.limit, kind)]
        x, y = matrix(dev, embed)
        weights = tuple(round(float(v), 2) for v in fit(x, y))
        x[:, 2] = x[:, 5] = 0.0  # no embedder: no similarity, no similarity gap
        lexical_weights = tuple(round(float(v), 2) for v in fit(x, y))
        print(f"fitted on dev ({len(dev)} claims, every set): WEIGHTS = {weights}, "
              f"WEIGHTS_LEXICAL = {lexical_weights}")
    sets = {kind: build("test", a.limit, kind, dataset=a.dataset) for kind in KINDS}
    table_claims, table_kinds = build_tables()
    sets["tables (handbook + evalset)"] = table_claims
    for kind in sorted(set(table_kinds) - {""}):
        sets[f"tables, {kind}"] = [c for c, k in zip(table_claims, table_kinds) if k in ("", kind)]
    sets["every mixed-fact set pooled"] = [c for kind in ("mixed-sentence", "mixed-answer",
                                                           "mixed-model") for c in sets[kind]] + table_claims
    per_sentence = 0.0
    for kind, test in sets.items():
        if not test:
            continue
        labels = [lab for _, lab in test]
        t0 = time.perf_counter()
        supports = CascadeVerifier(embed, weights=weights).verify([c for c, _ in test])
        per_sentence = (time.perf_counter() - t0) / len(test)
        lexical = CascadeVerifier(weights=lexical_weights).verify([c for c, _ in test])
        rows += [
            [kind, "signals + embedding (default, no judge)", str(len(test)),
             f"{auroc([s.score for s in supports], labels):.3f}", flagged(supports, labels),
             caught(supports, labels), f"{per_sentence * 1000:.1f}"],
            [kind, "signals without embedder", str(len(test)),
             f"{auroc([s.score for s in lexical], labels):.3f}", flagged(lexical, labels),
             caught(lexical, labels), ""],
            [kind, "embedding similarity alone", str(len(test)),
             f"{auroc([s.details['similarity'] for s in supports], labels):.3f}", "", "", ""],
        ]
    test = sets["answer"]
    gen_time = None
    if a.judge:
        from fiable.components import make_generator
        from fiable.generators.base import ChatMessage, GenerationOptions
        from fiable.trust.judge import GeneratorJudge

        generator = make_generator(ws.settings.replace(generator=a.generator))
        sample = test[: 2 * (a.judge // 2)]
        cascade = CascadeVerifier(embed, judge=GeneratorJudge(generator), weights=weights)
        t0 = time.perf_counter()
        judged = cascade.verify([c for c, _ in sample])
        per = (time.perf_counter() - t0) / len(sample)
        asked = sum(s.method == "judge" for s in judged)
        rows.append(["answer", f"cascade with {a.generator} judge ({asked} of {len(sample)} asked)",
                     str(len(sample)), f"{auroc([s.score for s in judged], [lab for _, lab in sample]):.3f}",
                     "", "", f"{per * 1000:.1f}"])
        plain = CascadeVerifier(embed, weights=weights).verify([c for c, _ in sample])
        rows.append(["answer", "same pairs without the judge", str(len(sample)),
                     f"{auroc([s.score for s in plain], [lab for _, lab in sample]):.3f}", "",
                     "", ""])
        times = []
        for c, _ in sample[:10:2]:
            t0 = time.perf_counter()
            "".join(generator.stream([ChatMessage("user", f"{c.evidence[0]}\n\n{c.question}")],
                                     GenerationOptions(max_tokens=40)))
            times.append(time.perf_counter() - t0)
        gen_time = percentile(times, 50)
        generator.close()
    print(f"\nUnsupported-sentence detection, {SOURCES[a.dataset][0]} test split, embedder "
          f"{ws.embedder.model_id} — {machine()}\n")
    print(table(rows, ["set", "verifier", "claims", "AUROC", "correct flagged",
                       "wrong flagged", "ms / sentence"]))
    if gen_time:
        print(f"\ngenerating a 40-token answer with {a.generator}: p50 {gen_time:.2f} s; "
              f"verification without judge {per_sentence / gen_time:.1%} of it per sentence")
    print(f"\nrerun: python benchmarks/verifier.py {' '.join(sys.argv[1:])}")
    ws.close()


if __name__ == "__main__":
    main()
