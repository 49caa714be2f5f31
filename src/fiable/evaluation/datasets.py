"""Evaluation data sets, and the SQuAD importer.

Two layouts, both documented in ``docs/evaluation.md``:

- **retrieval** (BEIR): a folder with ``corpus.jsonl`` (``_id``, ``title``, ``text``),
  ``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``,
  ``corpus-id``, ``score``; a header line).
- **question answering**: a ``questions.jsonl`` file, one object a line: ``id``,
  ``question``, ``answers`` (list of gold answers, empty when unanswerable),
  ``answerable`` (bool), optional ``doc_ids`` (corpus ``_id`` or file names holding the
  answer), ``split`` (``dev``/``test``) and ``kind`` (a free label, e.g. ``table``: the
  report breaks results down by it). In a folder beside a ``corpus.jsonl`` the corpus
  is ingested; alone, the questions are asked against a workspace's own documents.

:func:`import_squad` turns a SQuAD 2.0 (or PIAF) JSON file into the QA layout.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Literal

from ..errors import UserError

__all__ = ["CorpusDoc", "Dataset", "QAItem", "Query", "corpus_docs", "import_squad",
           "load_dataset"]

Kind = Literal["retrieval", "qa"]


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    text: str
    relevant: dict[str, int]


@dataclass(frozen=True, slots=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    doc_ids: tuple[str, ...] = ()
    split: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Dataset:
    """A loaded evaluation set: its queries (retrieval) or questions (qa), one split."""

    name: str
    path: Path
    kind: Kind
    split: str | None
    fingerprint: str
    corpus_path: Path | None
    queries: tuple[Query, ...] = ()
    questions: tuple[QAItem, ...] = ()
    splits: tuple[str, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.queries) if self.kind == "retrieval" else len(self.questions)


def _bad(path: Path, line: int | None, problem: str, fix: str) -> UserError:
    where = f"{path}:{line}" if line else str(path)
    return UserError(f"{where}: {problem}", hint=fix)


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise _bad(path, None, "file not found", "check the data set folder") from None
    with fh:
        try:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _bad(path, number, f"not valid JSON ({exc.msg})",
                               "each line must be one JSON object") from None
                if not isinstance(obj, dict):
                    raise _bad(path, number, "not a JSON object", "each line must be one JSON object")
                yield number, obj
        except UnicodeDecodeError:
            raise _bad(path, None, "not UTF-8 text", "re-encode the file as UTF-8") from None


def _text(obj: dict[str, Any], key: str, path: Path, line: int, *, required: bool = True) -> str:
    value = obj.get(key, "" if not required else None)
    if value is None or (required and not str(value).strip()):
        raise _bad(path, line, f"missing {key!r}", f"add a non-empty {key!r} field")
    if not isinstance(value, (str, int)):
        raise _bad(path, line, f"{key!r} must be a string", f"fix the {key!r} field")
    return str(value)


def corpus_docs(path: Path) -> Iterator[CorpusDoc]:
    """The documents of a BEIR ``corpus.jsonl``; UserError naming the line on bad input."""
    seen: set[str] = set()
    for line, obj in _jsonl(path):
        doc_id = _text(obj, "_id", path, line)
        if doc_id in seen:
            raise _bad(path, line, f"duplicate _id {doc_id!r}", "give each document its own _id")
        seen.add(doc_id)
        yield CorpusDoc(doc_id, _text(obj, "title", path, line, required=False),
                        _text(obj, "text", path, line))


def _digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    rel: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) < 3 or not parts[-1].lstrip("-").isdigit():
                raise _bad(path, number, "expected query-id<TAB>corpus-id<TAB>score",
                           "use the BEIR qrels layout")
            rel.setdefault(parts[0], {})[parts[1]] = int(parts[-1])
    return rel


def _load_beir(root: Path, split: str | None, limit: int | None) -> Dataset:
    splits = tuple(sorted(p.stem for p in (root / "qrels").glob("*.tsv")))
    split = split or ("test" if "test" in splits else splits[0] if splits else None)
    if split not in splits:
        raise UserError(f"{root}: no qrels for split {split!r}",
                        hint=f"choose one of: {', '.join(splits) or '(none: add qrels/<split>.tsv)'}")
    qrels_path = root / "qrels" / f"{split}.tsv"
    qrels = _qrels(qrels_path)
    texts: dict[str, str] = {}
    queries_path = root / "queries.jsonl"
    for line, obj in _jsonl(queries_path):
        texts[_text(obj, "_id", queries_path, line)] = _text(obj, "text", queries_path, line)
    missing = sorted(set(qrels) - set(texts))
    if missing:
        raise UserError(f"{qrels_path}: {len(missing)} query ids not in queries.jsonl "
                        f"(first: {missing[0]!r})", hint="the qrels and queries must match")
    queries = tuple(Query(qid, texts[qid], rel) for qid, rel in qrels.items()
                    if any(r > 0 for r in rel.values()))
    if limit:
        queries = queries[:limit]
    corpus = root / "corpus.jsonl"
    if not corpus.is_file():
        raise _bad(corpus, None, "file not found", "a BEIR folder needs corpus.jsonl")
    return Dataset(root.name, root, "retrieval", split,
                   _digest([corpus, queries_path, qrels_path], f"limit={limit}"), corpus,
                   queries=queries, splits=splits)


def _qa_item(obj: dict[str, Any], path: Path, line: int) -> QAItem:
    answers = obj.get("answers", [])
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise _bad(path, line, "'answers' must be a list of strings", "fix the answers field")
    answerable = obj.get("answerable", bool(answers))
    if not isinstance(answerable, bool):
        raise _bad(path, line, "'answerable' must be true or false", "fix the answerable field")
    if answerable and not answers:
        raise _bad(path, line, "an answerable question needs at least one gold answer",
                   "add answers, or set answerable to false")
    doc_ids = obj.get("doc_ids")
    if doc_ids is None:
        doc_ids = [obj["source"]] if isinstance(obj.get("source"), str) else []
    if not isinstance(doc_ids, list):
        raise _bad(path, line, "'doc_ids' must be a list", "fix the doc_ids field")
    split, kind = obj.get("split"), obj.get("kind")
    return QAItem(_text(obj, "id", path, line), _text(obj, "question", path, line),
                  tuple(answers), answerable, tuple(str(d) for d in doc_ids),
                  str(split) if split is not None else None,
                  str(kind) if kind is not None else None)


def _load_qa(questions_path: Path, split: str | None, limit: int | None) -> Dataset:
    items = [_qa_item(obj, questions_path, line) for line, obj in _jsonl(questions_path)]
    if not items:
        raise _bad(questions_path, None, "no questions", "add one JSON object per line")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise _bad(questions_path, None, f"duplicate question id {dup!r}",
                   "give each question its own id")
    splits = tuple(sorted({i.split for i in items if i.split}))
    if split is not None:
        if split not in splits:
            raise UserError(f"{questions_path}: no questions in split {split!r}",
                            hint=f"choose one of: {', '.join(splits) or '(none: the file has no split field)'}")
        items = [i for i in items if i.split == split]
    elif splits:
        split = "test" if "test" in splits else None
        items = [i for i in items if split is None or i.split == split]
    if limit:
        items = items[:limit]
    corpus = questions_path.parent / "corpus.jsonl"
    corpus_path = corpus if corpus.is_file() else None
    files = [questions_path] + ([corpus_path] if corpus_path else [])
    root = questions_path.parent
    name = root.name if questions_path.name == "questions.jsonl" else questions_path.stem
    return Dataset(name, questions_path, "qa", split,
                   _digest(files, f"split={split};limit={limit}"), corpus_path,
                   questions=tuple(items), splits=splits)


def load_dataset(path: str | Path, *, split: str | None = None, limit: int | None = None) -> Dataset:
    """Load the data set at ``path`` (a BEIR folder, a QA folder, or a questions JSONL)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise UserError(f"{root}: no such file or folder", hint="check the data set path")
    if root.is_dir():
        if (root / "qrels").is_dir():
            return _load_beir(root, split, limit)
        if (root / "questions.jsonl").is_file():
            return _load_qa(root / "questions.jsonl", split, limit)
        raise UserError(f"{root}: not an evaluation data set",
                        hint="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/) or a folder "
                             "with questions.jsonl; see docs/evaluation.md")
    if root.suffix == ".jsonl":
        return _load_qa(root, split, limit)
    if root.suffix == ".json":
        raise UserError(f"{root}: a JSON file is not an evaluation data set",
                        hint=f"if it is SQuAD, import it first: fiable eval import-squad {root} OUT_DIR")
    raise UserError(f"{root}: unknown data set format",
                    hint="give a BEIR folder, a QA folder or a questions .jsonl file")


def import_squad(src: str | Path, out_dir: str | Path, *, dev_fraction: float = 0.3,
                 seed: int = 0) -> dict[str, Any]:
    """Convert SQuAD 2.0 / PIAF JSON to the QA layout in ``out_dir``.

    Every paragraph becomes a corpus document; every question is asked against all of
    them. Questions are written in a seeded shuffled order (so ``--limit N`` takes a fair
    mix) and assigned to ``dev`` (tune here) or ``test`` by a hash of their id.
    """
    src = Path(src).expanduser()
    out = Path(out_dir).expanduser()
    try:
        raw = src.read_bytes()
        data = json.loads(raw)
    except FileNotFoundError:
        raise UserError(f"{src}: no such file", hint="check the path") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{src}: not valid JSON ({exc})", hint="give a SQuAD JSON file") from None
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise UserError(f"{src}: no 'data' list of articles", hint="give a SQuAD 2.0 JSON file")
    corpus: list[dict[str, str]] = []
    questions: list[dict[str, Any]] = []
    for a, article in enumerate(articles):
        title = str(article.get("title", "")).replace("_", " ")
        for p, para in enumerate(article.get("paragraphs", [])):
            context = para.get("context")
            if not isinstance(context, str) or not context.strip():
                raise UserError(f"{src}: article {a} paragraph {p} has no context",
                                hint="give a SQuAD 2.0 JSON file")
            pid = f"p{a:03d}-{p:03d}"
            corpus.append({"_id": pid, "title": title, "text": context})
            for qa in para.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                answers = [] if impossible else list(dict.fromkeys(
                    x["text"] for x in qa.get("answers", []) if x.get("text", "").strip()))
                if not impossible and not answers:
                    continue  # malformed item: nothing to score against
                qid = str(qa["id"])
                bucket = int(hashlib.sha256(f"{seed}:{qid}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
                questions.append({
                    "id": qid, "question": qa["question"].strip(), "answers": answers,
                    "answerable": not impossible, "doc_ids": [] if impossible else [pid],
                    "split": "dev" if bucket < dev_fraction else "test",
                })
    if not questions:
        raise UserError(f"{src}: no questions found", hint="give a SQuAD 2.0 JSON file")
    questions.sort(key=lambda q: hashlib.sha256(f"order:{seed}:{q['id']}".encode()).hexdigest())
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in corpus)
    with (out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in questions)
    summary = {
        "source": str(src), "source_sha256": hashlib.sha256(raw).hexdigest(),
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "documents": len(corpus), "questions": len(questions),
        "answerable": sum(q["answerable"] for q in questions),
        "unanswerable": sum(not q["answerable"] for q in questions),
        "dev": sum(q["split"] == "dev" for q in questions),
        "test": sum(q["split"] == "test" for q in questions),
        "dev_fraction": dev_fraction, "seed": seed,
    }
    (out / "dataset.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
