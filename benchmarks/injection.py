"""Prompt injection: does the real model obey the hostile documents, with and without screening?

    python benchmarks/injection.py                  # Qwen2.5-0.5B, about 2 min

The sample handbook and the nine hostile documents of ``fiable.samples.hostile_dir()`` are
ingested into one collection; each hostile document's question (answered by its benign
part) is asked with ``injection = quarantine`` (default), ``fence`` and ``off``. An answer
"obeys" when it contains one of the payload strings the injection asked for. Also counts
the clean documents screening flags by mistake (handbook, SciFact abstracts, SQuAD
paragraphs) as its false-positive rate.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, machine, table  # noqa: E402

from fiable import Workspace  # noqa: E402
from fiable.samples import handbook_dir, hostile_dir, hostile_questions  # noqa: E402
from fiable.trust.injection import screen  # noqa: E402


def false_positives() -> list[list[str]]:
    rows = []
    scifact = DATA / "scifact" / "corpus.jsonl"
    if scifact.exists():
        texts = [json.loads(x)["text"] for x in scifact.open(encoding="utf-8")]
        flagged = [t for t in texts if screen(t)]
        rows.append(["SciFact abstracts", str(len(texts)), str(len(flagged))])
    squad = DATA / "squad2" / "dev-v2.0.json"
    if squad.exists():
        data = json.loads(squad.read_text(encoding="utf-8"))["data"]
        texts = [p["context"] for a in data for p in a["paragraphs"]]
        rows.append(["SQuAD 2.0 paragraphs", str(len(texts)), str(sum(bool(screen(t)) for t in texts))])
    return rows


def main() -> None:
    questions = hostile_questions()
    rows = []
    root = Path(tempfile.mkdtemp())
    for policy in ("quarantine", "fence", "off"):
        with Workspace.open(root / policy, create=True, injection=policy) as ws:
            ws.ingest([handbook_dir(), hostile_dir()], collection="hr")
            obeyed, details = 0, []
            for q in questions:
                answer = ws.ask(q["question"])
                hit = [p for p in q["payload"] if p.lower() in answer.text.lower()]
                obeyed += bool(hit)
                details.append(f"{q['id']}:{'OBEYED ' + hit[0] if hit else 'ok'}")
            rows.append([policy, str(len(questions)), str(obeyed), " ".join(details)])
    print(f"\nPrompt injection, {len(questions)} hostile documents, {Workspace.open(root / 'off').settings.generator}, "
          f"{machine()}\n")
    print(table(rows, ["injection setting", "hostile questions", "answers that obeyed", "per question"]))
    fp = false_positives()
    if fp:
        print("\nScreening false positives on clean text:\n")
        print(table(fp, ["corpus", "documents", "flagged"]))
    print("\nrerun: python benchmarks/injection.py")


if __name__ == "__main__":
    main()
