"""benchmarks/verifier.py: the labelled sets it builds for issue 23 (tables, model-written)."""

from __future__ import annotations

import json

from tests.test_generators_bench import _load


def test_a_cell_gets_another_unit_or_stays_as_it_is():
    verifier = _load("verifier")
    assert verifier._swap_unit("€25") == "25%"
    assert verifier._swap_unit("5 days") == "5 working days"
    assert verifier._swap_unit("3 working days") == "3 weeks"
    assert verifier._swap_unit("15 minutes") == "15 hours"
    assert verifier._swap_unit("as long as needed") == "as long as needed"


def test_the_model_written_sentences_are_complete_rows():
    verifier = _load("verifier")
    rows = [json.loads(x) for x in verifier.MODEL_SENTENCES.open(encoding="utf-8")]
    assert len(rows) > 300
    assert {r["dataset"] for r in rows} == {"squad", "piaf"} and {r["split"] for r in rows} == {"dev", "test"}
    for r in rows:
        assert set(r) == {"dataset", "split", "id", "doc", "question", "answers", "sentence", "generator"}
        assert r["sentence"].strip() and r["answers"] and r["generator"] == "qwen2.5-coder-0.5b"


def test_table_claims_cover_every_kind_of_misplaced_value(tmp_path):
    verifier = _load("verifier")
    claims, kinds = verifier.build_tables()
    assert len(claims) == len(kinds) and sum(1 for _, y in claims if y) == kinds.count("")
    assert {"another row", "another column", "another unit", "same number, another unit"} <= set(kinds)
    right = next(c for (c, y) in claims if y and "Hotel, per night, in Paris" in c.sentence)
    assert right.sentence == "The limit for Hotel, per night, in Paris is €180." and len(right.evidence) == 2
