"""Data for ``benchmarks/experts.py``: three data sets, one collection (and expert) each.

- ``scifact``: BEIR SciFact abstracts; questions = the test claims with their gold abstracts.
- ``squad2``: SQuAD 2.0 dev paragraphs (English Wikipedia); questions = answerable ones.
- ``piaf``: PIAF v1.1 paragraphs (French Wikipedia); questions = all (answerable).

Gold routing is the data set a question comes from. The workspace is built once under
``benchmarks/results/cache/experts-ws`` (ingest skips unchanged records, so a rerun only
checks hashes).
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from _common import DATA, scifact

from fiable.ingest import TextRecord

CACHE = Path(__file__).resolve().parent / "results" / "cache" / "experts-ws"

EXPERTS = {
    "science": ("scifact", "Biomedical and scientific research claims: medicine, biology, genes, "
                "cells, diseases, clinical trials and study results."),
    "encyclopaedia": ("squad2", "General knowledge encyclopaedia in English: history, geography, "
                      "people, places, organisations, science and culture."),
    "encyclopedie": ("piaf", "Encyclopédie générale en français : histoire, géographie, "
                     "personnalités, sport, culture et société (questions en français)."),
}


@dataclass(frozen=True, slots=True)
class Question:
    dataset: str  # = its collection, the gold route
    id: str
    text: str
    relevant: dict[str, int]  # document keys (record ids) -> relevance
    answers: tuple[str, ...]  # gold answer texts (empty for SciFact)


def _squad_like(path: Path, prefix: str) -> tuple[list[TextRecord], list[Question]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    records, questions = [], []
    for a, article in enumerate(data):
        for p, para in enumerate(article["paragraphs"]):
            rid = f"{a}-{p}"
            records.append(TextRecord(rid, article["title"].replace("_", " "), para["context"]))
            for qa in para["qas"]:
                if qa.get("is_impossible"):
                    continue
                answers = tuple(dict.fromkeys(x["text"] for x in qa["answers"]))
                if answers:
                    questions.append(Question(prefix, qa["id"], qa["question"].strip(),
                                              {rid: 1}, answers))
    return records, questions


def load() -> tuple[dict[str, list[TextRecord]], dict[str, list[Question]]]:
    """Records per collection and questions per data set (all of them, file order)."""
    corpus, queries, qrels = scifact()
    sci_records = [TextRecord(d["_id"], d.get("title", ""), d["text"]) for d in corpus]
    sci_questions = [Question("scifact", qid, queries[qid], rel, ())
                     for qid, rel in qrels["test"].items()]
    squad_records, squad_questions = _squad_like(DATA / "squad2" / "dev-v2.0.json", "squad2")
    piaf_records, piaf_questions = _squad_like(DATA / "piaf" / "piaf-v1.1.json", "piaf")
    return ({"scifact": sci_records, "squad2": squad_records, "piaf": piaf_records},
            {"scifact": sci_questions, "squad2": squad_questions, "piaf": piaf_questions})


def sample(questions: list[Question], n: int, seed: int = 7) -> list[Question]:
    rng = random.Random(seed)
    return rng.sample(questions, min(n, len(questions)))


def build(ws_dir: Path = CACHE) -> None:
    """Ingest the three corpora (unchanged records are skipped)."""
    from fiable import Workspace

    records, _ = load()
    with Workspace.open(ws_dir, create=True, log_asks=False) as ws:
        for collection, items in records.items():
            report = ws.ingest_records(items, collection=collection, total=len(items))
            print(f"{collection}: {len(items)} records, {len(report.added)} added, {report.chunks} chunks", file=sys.stderr)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE)
