"""Answer F1 in French and English with the default generator: PIAF with French prompts vs
English prompts, and SQuAD 2.0 (answerable questions) with English prompts beside them.

    python benchmarks/multilingual_answers.py                 # 60 questions per arm, ~30 min on 2 idle cores
    python benchmarks/multilingual_answers.py --questions 20  # a quick look

Each data set is imported as ``fiable eval import-squad`` does; the first ``--questions``
answerable questions of the test split (after the first ``--skip``) are asked. The corpus is kept modest so that the
benchmark measures answering, not retrieval at scale: each question's gold paragraph plus
``--distractors`` other paragraphs of the same article (same topic: the hard ones), one
collection per data set. Every question goes through ``Workspace.ask`` (retrieval, prompt,
generation, citation, verification) with ``min_relevance = 0`` (no abstention before
generation: that is retrieval's threshold, tuned for English MiniLM), ``verify = flag`` and
answers capped at ``--max-tokens`` (96: the prompts ask for one or two sentences; the cap
stops the rare rambling answer from costing minutes on a shared CPU).

Arms: PIAF with ``answer_language = fr`` (French templates and messages), PIAF with
``answer_language = en`` (the English templates on French questions: fiable before this
issue), SQuAD with ``en``. Scores: token F1 of the answer's sentences against the gold
answers (SQuAD normalisation for SQuAD, the French one for PIAF, :mod:`fiable.evaluation.metrics`;
an abstention scores 0), the share of answers containing a gold answer, the share where the
gold paragraph was among the passages shown (context hit), abstentions, the share of
answers of four words or more written in French, the mean support of the answers given and
the seconds per answer.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, machine, mean, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.evaluation import import_squad, load_dataset  # noqa: E402
from fiable.evaluation.datasets import QAItem, corpus_docs  # noqa: E402
from fiable.evaluation.metrics import answer_contains, token_f1  # noqa: E402
from fiable.ingest import TextRecord, document_key  # noqa: E402
from fiable.language import detect_language  # noqa: E402


def sample(src: Path, n: int, distractors: int, skip: int = 0, seed: int = 0
           ) -> tuple[list[QAItem], list[TextRecord]]:
    """``n`` answerable test questions (after the first ``skip``) and their modest corpus."""
    folder = Path(tempfile.mkdtemp()) / src.stem
    import_squad(src, folder)
    questions = [q for q in load_dataset(folder, split="test").questions
                 if q.answerable][skip:skip + n]
    docs = {d.id: d for d in corpus_docs(folder / "corpus.jsonl")}
    by_article: dict[str, list[str]] = {}
    for pid in docs:
        by_article.setdefault(pid.split("-")[0], []).append(pid)
    rng = random.Random(seed)
    keep: dict[str, None] = {}
    for q in questions:
        gold = q.doc_ids[0]
        keep[gold] = None
        others = [p for p in by_article[gold.split("-")[0]] if p != gold]
        for pid in rng.sample(others, min(distractors, len(others))):
            keep[pid] = None
    return questions, [TextRecord(pid, docs[pid].title, docs[pid].text) for pid in keep]


def run_arm(ws: Workspace, questions: list[QAItem], collection: str, language: str,
            score_language: str) -> dict[str, float]:
    f1, contains, hit, abstained, french, support, seconds = [], [], [], [], [], [], []
    for i, q in enumerate(questions, start=1):
        t0 = time.perf_counter()
        answer = ws.ask(q.question, collections=[collection],
                        overrides={"answer_language": language})
        seconds.append(time.perf_counter() - t0)
        prediction = "" if answer.abstained else " ".join(s.text for s in answer.sentences)
        f1.append(token_f1(prediction, q.answers, score_language))
        contains.append(float(answer_contains(prediction, q.answers)))
        hit.append(float(any(document_key(s.source) in q.doc_ids for s in answer.sources)))
        abstained.append(float(answer.abstained))
        if len(prediction.split()) >= 4:  # shorter answers ("2009") have no language
            french.append(float(detect_language(prediction, default="und") == "fr"))
        if answer.support is not None and not answer.abstained:
            support.append(answer.support)
        print(f"  {collection}/{language} {i}/{len(questions)} f1 {f1[-1]:.2f} "
              f"{'(abstained) ' if answer.abstained else ''}{prediction[:70]!r}", file=sys.stderr)
    return {"f1": mean(f1), "contains": mean(contains), "hit": mean(hit),
            "abstained": mean(abstained), "french": mean(french) if french else 0.0,
            "support": mean(support) if support else float("nan"), "seconds": mean(seconds),
            "n": float(len(questions))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=60, help="questions per arm")
    ap.add_argument("--distractors", type=int, default=4,
                    help="other paragraphs of the same article added per question")
    ap.add_argument("--embedder", default=None, help="embedder setting (default: the workspace's)")
    ap.add_argument("--max-tokens", type=int, default=96, help="max_answer_tokens")
    ap.add_argument("--skip", type=int, default=0,
                    help="start after this many questions (a second sample for a later run)")
    a = ap.parse_args()
    piaf, squad = DATA / "piaf" / "piaf-v1.1.json", DATA / "squad2" / "dev-v2.0.json"
    for path in (piaf, squad):
        if not path.is_file():
            sys.exit(f"{path} not found: set FIABLE_BENCH_DATA to the folder holding piaf/ and squad2/")
    settings = {"min_relevance": 0.0, "verify": "flag", "log_asks": False,
                "max_answer_tokens": a.max_tokens}
    if a.embedder:
        settings["embedder"] = a.embedder
    ws = Workspace.open(Path(tempfile.mkdtemp()) / "ws", create=True, **settings)
    sets = {"piaf": sample(piaf, a.questions, a.distractors, a.skip),
            "squad": sample(squad, a.questions, a.distractors, a.skip)}
    for name, (_, records) in sets.items():
        t0 = time.perf_counter()
        ws.ingest_records(records, collection=name, total=len(records))
        print(f"{name}: {len(records)} paragraphs ingested in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
    arms = (("PIAF (fr)", "piaf", "fr", "fr", "French"),
            ("PIAF (fr)", "piaf", "en", "fr", "English"),
            ("SQuAD 2.0 answerable (en)", "squad", "en", "en", "English"))
    rows = []
    results = {}
    for label, collection, language, score_language, prompts in arms:
        r = run_arm(ws, sets[collection][0], collection, language, score_language)
        results[(collection, language)] = r
        rows.append([label, prompts, f"{int(r['n'])}", f"{r['f1']:.3f}", f"{r['contains']:.3f}",
                     f"{r['hit']:.3f}", f"{r['abstained']:.3f}", f"{r['french']:.2f}",
                     f"{r['support']:.2f}", f"{r['seconds']:.1f}"])
    generator, embedder = ws.settings.generator, ws.embedder.model_id
    ws.close()
    print(f"\nAnswer quality by language — generator {generator}, embedder {embedder}, "
          f"gold paragraph + {a.distractors} same-article distractors per question, top_k "
          f"{ws.settings.top_k}, max_answer_tokens {a.max_tokens}; {machine()}\n")
    print(table(rows, ["questions", "prompts", "n", "F1", "contains gold", "context hit",
                       "abstained", "answers in French", "support", "s / answer"]))
    gap = results[("squad", "en")]["f1"] - results[("piaf", "fr")]["f1"]
    print(f"\nEnglish F1 minus French F1 (French prompts): {gap * 100:+.1f} points "
          f"(goal: at most 10)")
    print(f"\nrerun: python benchmarks/multilingual_answers.py {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
