"""French questions over English documents: a multilingual embedder, the question translated
for search (``cross_lingual = "translate"``), or both, side by side with the default install.

    python benchmarks/crosslingual.py                 # ~15 min on 2 cores
    python benchmarks/crosslingual.py --conditions minilm-off,minilm-translate

Questions (dev data, made for this benchmark or the evaluation set's dev split; no test
split): the 28 sample-handbook questions in French (``data/handbook-questions-fr.jsonl``,
23 answerable, 5 not) over the English handbook, and the evaluation set's French-over-English
dev questions over its documents (English and French: a mixed collection). Per condition:
answerable questions answered with a gold answer (normalised contains), the gold document
among the cited sources or the 3 passages shown, unanswerable ones refused, answers in
French, the translation's time p50 and the whole ask p50.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402
from handbook_answers import norm  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.language import detect_language  # noqa: E402
from fiable.samples import evalset_dir, evalset_questions, handbook_dir, handbook_questions  # noqa: E402

HERE = Path(__file__).resolve().parent
CONDITIONS = {  # name: (embedder, cross_lingual)
    "minilm-off": ("minilm-l6-v2", "off"),
    "minilm-translate": ("minilm-l6-v2", "translate"),
    "e5-off": ("multilingual-e5-small", "off"),
    "e5-translate": ("multilingual-e5-small", "translate"),
}


def handbook_fr() -> list[dict]:
    english = {q["id"]: q for q in handbook_questions()}
    rows = [json.loads(line) for line in (HERE / "data" / "handbook-questions-fr.jsonl")
            .read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{**r, "answerable": english[r["id"]]["answerable"],
             "doc_ids": [english[r["id"]]["source"]] if english[r["id"]]["source"] else []}
            for r in rows]


def ask_set(ws: Workspace, questions: list[dict], collection: str, out) -> dict:
    found = right = refused = french = shown = 0
    translate, total = [], []
    for q in questions:
        a = ws.ask(q["question"], collections=[collection])
        text = "" if a.abstained else " ".join(s.text for s in a.sentences)
        ok = bool(text) and any(norm(g) in norm(text) for g in q["answers"])
        names = {Path(s.source).name for s in a.sources}
        if q["answerable"]:
            right += ok
            shown += bool(set(q["doc_ids"]) & names)
            french += bool(text) and detect_language(text, default="?", min_confidence=0.5) == "fr"
        else:
            refused += a.abstained
        found += bool(text)
        if a.translation:
            translate.append(a.translation["seconds"])
        total.append(a.timings.get("total", 0.0))
        out.write(json.dumps({"collection": collection, "id": q["id"], "question": q["question"],
                              "answer": text, "ok": ok, "abstained": a.abstained,
                              "code": a.abstain_code, "translation": a.translation,
                              "sources": sorted(names)}, ensure_ascii=False) + "\n")
        out.flush()
        print(f"  {q['id']} ok={ok} {text[:60]!r} via {(a.translation or {}).get('text')!r}",
              file=sys.stderr)
    answerable = sum(q["answerable"] for q in questions)
    return {"right": f"{right}/{answerable}", "shown": f"{shown}/{answerable}",
            "refused": f"{refused}/{len(questions) - answerable}",
            "french": f"{french}/{max(found, 1)}",
            "translate p50": f"{statistics.median(translate):.2f}" if translate else "-",
            "ask p50": f"{statistics.median(total):.2f}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--generator", default="qwen2.5-coder-0.5b")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "crosslingual.jsonl")
    a = ap.parse_args()
    names = [c.strip() for c in a.conditions.split(",") if c.strip()]
    if not names or any(c not in CONDITIONS for c in names):
        ap.error(f"--conditions {a.conditions!r}: choose among {', '.join(CONDITIONS)}")
    print(f"# French questions over English documents\nmachine: {machine()}\nrerun: python "
          f"benchmarks/crosslingual.py {' '.join(sys.argv[1:])}")
    sets = [("handbook (French questions)", "handbook", handbook_dir(), handbook_fr()),
            ("evaluation set, French over English, dev", "evalset", evalset_dir(),
             [q for q in evalset_questions()
              if q["kind"] == "french_over_english" and q["split"] == "dev"])]
    rows = []
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("w", encoding="utf-8") as out:
        for name in names:
            embedder, mode = CONDITIONS[name]
            with tempfile.TemporaryDirectory() as tmp, Workspace.open(
                    Path(tmp) / "ws", create=True, log_asks=False, embedder=embedder,
                    generator=a.generator, cross_lingual=mode) as ws:
                for label, collection, folder, questions in sets:
                    ws.ingest([folder], collection=collection)
                    r = ask_set(ws, questions, collection, out)
                    rows.append([label, name, r["right"], r["shown"], r["refused"], r["french"],
                                 r["translate p50"], r["ask p50"]])
    print(table(rows, ["questions", "condition", "answered right", "gold doc shown",
                       "unanswerable refused", "answers in French", "translate p50 s",
                       "ask p50 s"]))
    print(f"\nper question: {a.out}")


if __name__ == "__main__":
    main()
