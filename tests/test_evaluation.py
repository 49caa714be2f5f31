"""Evaluation: metrics, data sets, runs, gates, reports and the fusion sweep (fast fakes)."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest

from fiable.errors import ConfigError, UnknownCollectionError, UserError
from fiable.evaluation import (check_gates, compare, evaluate, history_html, import_squad,
                               load_dataset, parse_thresholds, sweep, to_json, to_markdown)
from fiable.evaluation import metrics as m
from fiable.ingest import TextRecord, ingest_records
from fiable.settings import load_settings, read_collection_settings, write_collection_settings
from tests.helpers import fake_workspace, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
SCIFACT = FIXTURES / "scifact-mini"
SQUAD = FIXTURES / "squad2-mini.json"


# -- metrics --------------------------------------------------------------------------
def test_ndcg_matches_a_hand_computed_value():
    relevant = {"a": 1, "b": 2}
    ranked = ["x", "b", "a"]
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert m.ndcg_at_k(ranked, relevant, 10) == pytest.approx(dcg / idcg)
    assert m.ndcg_at_k(["b", "a"], relevant) == pytest.approx(1.0)
    assert m.ndcg_at_k(["x", "y"], relevant) == 0.0
    assert m.ndcg_at_k(["x", "b"], relevant, k=1) == 0.0


def test_recall_and_reciprocal_rank():
    relevant = {"a": 1, "b": 1, "c": 0}
    assert m.recall_at_k(["a", "x", "b"], relevant, 2) == 0.5
    assert m.recall_at_k(["a", "x", "b"], relevant, 3) == 1.0
    assert m.reciprocal_rank(["x", "c", "b"], relevant) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["x", "c", "b"], relevant, k=2) == 0.0


def test_squad_normalisation_em_and_f1():
    assert m.normalize_answer("The  Danube!") == "danube"
    assert m.exact_match("the Danube.", ["Danube"]) == 1.0
    assert m.exact_match("Danube river", ["Danube"]) == 0.0
    # 1 shared token of 2 predicted and 1 gold: P 0.5, R 1, F1 2/3
    assert m.token_f1("Danube river", ["Danube"]) == pytest.approx(2 / 3)
    assert m.token_f1("nothing shared", ["Danube", "a Danube river"]) == 0.0
    assert m.token_f1("", ["Danube"]) == 0.0
    assert m.answer_contains("It is the Danube [1].", ["danube"])
    assert not m.answer_contains("Danubes", ["Danube"])
    assert m.answer_contains("le fleuve Rhône", ["Rhone"])


def test_abstention_scores_and_percentile():
    scores = m.abstention_scores([True, True, False, False], [True, False, True, False])
    assert scores == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert m.abstention_scores([False], [True])["f1"] == 0.0
    assert m.percentile([5, 1, 3, 2, 4], 50) == 3
    assert m.percentile([1, 2, 3, 4, 100], 95) == 100
    assert math.isnan(m.percentile([], 50))


# -- data sets ------------------------------------------------------------------------
def test_beir_folder_loads_the_asked_split():
    test = load_dataset(SCIFACT)
    assert test.kind == "retrieval" and test.split == "test" and len(test) == 12
    assert test.splits == ("test", "train")
    train = load_dataset(SCIFACT, split="train", limit=5)
    assert len(train) == 5 and train.fingerprint != test.fingerprint
    with pytest.raises(UserError, match="no qrels for split 'dev'") as err:
        load_dataset(SCIFACT, split="dev")
    assert "test, train" in err.value.hint


def test_malformed_dataset_files_name_the_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "1", "question": "a?", "answers": ["x"]}\n{not json\n')
    with pytest.raises(UserError, match=r"q.jsonl:2: not valid JSON"):
        load_dataset(bad)
    bad.write_text('{"id": "1", "question": "a?", "answerable": true, "answers": []}\n')
    with pytest.raises(UserError, match="needs at least one gold answer"):
        load_dataset(bad)
    bad.write_text('{"id": "1", "question": "a?", "answers": ["x"]}\n'
                   '{"id": "1", "question": "b?", "answers": ["y"]}\n')
    with pytest.raises(UserError, match="duplicate question id '1'"):
        load_dataset(bad)
    bad.write_bytes(b'{"id": "1", "question": "\xff"}\n')
    with pytest.raises(UserError, match="not UTF-8"):
        load_dataset(bad)
    with pytest.raises(UserError, match="import it first") as err:
        load_dataset(SQUAD)
    assert "import-squad" in err.value.hint
    with pytest.raises(UserError, match="no such file"):
        load_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not an evaluation data set"):
        load_dataset(tmp_path / "empty")


def test_import_squad_keeps_every_paragraph_and_splits_by_hash(tmp_path):
    summary = import_squad(SQUAD, tmp_path / "sq")
    assert summary["documents"] == 3 and summary["questions"] == 21
    assert summary["unanswerable"] == 11 and summary["dev"] + summary["test"] == 21
    rows = [json.loads(x) for x in (tmp_path / "sq" / "questions.jsonl").read_text().splitlines()]
    source = json.loads(SQUAD.read_text())
    gold = {qa["id"]: qa for p in source["data"][0]["paragraphs"] for qa in p["qas"]}
    for row in rows:
        qa = gold[row["id"]]
        assert row["answerable"] is not qa.get("is_impossible", False)
        assert row["answers"] == list(dict.fromkeys(a["text"] for a in qa["answers"]))
        assert row["doc_ids"] == ([] if not row["answerable"] else row["doc_ids"])
    again = import_squad(SQUAD, tmp_path / "sq2")
    assert (tmp_path / "sq2" / "questions.jsonl").read_text() == \
        (tmp_path / "sq" / "questions.jsonl").read_text()
    assert again["source_sha256"] == summary["source_sha256"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": "v2.0"}')
    with pytest.raises(UserError, match="no 'data' list"):
        import_squad(broken, tmp_path / "x")


# -- records ingestion ----------------------------------------------------------------
def test_ingest_records_skips_unchanged_and_reports_empty(tmp_path):
    with fake_workspace(tmp_path / "ws") as ws:
        def go(records):
            return ingest_records(records, store=ws.store, embedder=ws.embedder,
                                  settings=ws.settings, collection="c")

        first = go([TextRecord("1", "One", "alpha beta"), TextRecord("2", "Two", "gamma")])
        assert sorted(first.added) == ["record:1", "record:2"] and first.chunks == 2
        second = go([TextRecord("1", "One", "alpha beta"), TextRecord("2", "Two", "delta"),
                     TextRecord("3", "Three", "   \n\n ")])
        assert second.unchanged == ["record:1"] and second.updated == ["record:2"]
        assert [f.path for f in second.failed] == ["record:3"]
        assert "has no text" in second.failed[0].message
        assert {d.source for d in ws.documents("c")} == {"record:1", "record:2"}


# -- runs -------------------------------------------------------------------------------
def test_retrieval_run_is_measured_stored_and_listed(tmp_path):
    with fake_workspace(tmp_path / "ws") as ws:
        run = evaluate(ws, load_dataset(SCIFACT))
        metrics = run.metrics
        for name in ("ndcg@10", "recall@10", "mrr@10", "bm25.ndcg@10", "dense.ndcg@10"):
            assert 0.0 <= metrics[name] <= 1.0
        assert metrics["bm25.ndcg@10"] > 0.8  # BM25 on the real gold labels
        assert run.summary["ingest"]["added"] == 61
        assert set(run.summary["latency"]) >= {"search", "embed_query", "lexical", "dense", "fuse"}
        assert run.summary["models"]["embedder"]["model_id"] == ws.embedder.model_id
        assert run.summary["settings"]["fusion"] == ws.settings.fusion
        assert len(run.items) == 12 and all(len(i["ranked"]) <= 10 for i in run.items)
        again = evaluate(ws, load_dataset(SCIFACT))
        assert again.summary["ingest"]["unchanged"] == 61 and again.summary["ingest"]["added"] == 0
        assert again.metrics == metrics  # deterministic
        listed = ws.store.eval_runs()
        assert [r["id"] for r in listed] == [again.id, run.id]
        summary, items = ws.store.eval_run(run.id)
        assert summary["metrics"] == metrics and len(items) == 12


def test_qa_run_scores_answers_abstentions_and_citations(tmp_path):
    import_squad(SQUAD, tmp_path / "sq", dev_fraction=0.0)
    with fake_workspace(tmp_path / "ws") as ws:
        run = evaluate(ws, load_dataset(tmp_path / "sq"))
    items = {i["id"]: i for i in run.items}
    assert len(items) == 21
    metrics = run.metrics
    for name in ("f1", "em", "abstention.precision", "abstention.recall", "abstention.f1",
                 "citation_precision", "context_recall"):
        assert metrics[name] is not None and 0.0 <= metrics[name] <= 1.0, name
    answerable = [i for i in items.values() if i["answerable"]]
    assert metrics["f1"] == pytest.approx(m.mean(i["f1"] for i in answerable), abs=1e-4)
    # the fake generator answers from the first passage: the right paragraph is retrieved
    assert metrics["context_recall"] > 0.8
    assert {"generate", "total"} <= set(run.summary["latency"])
    assert run.summary["models"]["generator"]["name"] == "fake"


def test_qa_jsonl_against_an_existing_collection(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "a", "question": "What is the colour of the sky?",
                                     "answers": ["blue"], "doc_ids": ["sky.txt"]}) + "\n")
    with fake_workspace(tmp_path / "ws") as ws:
        with pytest.raises(UnknownCollectionError):
            evaluate(ws, load_dataset(questions), collection="nope")
        (tmp_path / "sky.txt").write_text("The sky is blue on a clear day.\n")
        ws.ingest([tmp_path / "sky.txt"], collection="docs")
        run = evaluate(ws, load_dataset(questions), collection="docs")
    assert run.items[0]["context_hit"] is True and run.items[0]["contains"] is True
    assert run.metrics["citation_precision"] == 1.0
    assert run.metrics["abstention.f1"] is None  # no unanswerable question: not measured


# -- gates, comparison, reports -----------------------------------------------------------
def test_gates_fail_below_and_above_and_refuse_unknown_metrics():
    summary = {"kind": "retrieval", "metrics": {"ndcg@10": 0.7, "f1": None},
               "latency": {"search": {"p50_ms": 10.0, "p95_ms": 30.0, "n": 3}}}
    assert check_gates(summary, fail_under={"ndcg@10": 0.68}) == []
    assert check_gates(summary, fail_under={"ndcg@10": 0.75}) == ["ndcg@10 = 0.7000 < 0.75"]
    assert check_gates(summary, fail_over={"latency.search.p95_ms": 20}) == \
        ["latency.search.p95_ms = 30.0000 > 20"]
    assert "not measured" in check_gates(summary, fail_under={"f1": 0.1})[0]
    with pytest.raises(UserError, match="no metric 'ndgc@10'") as err:
        check_gates(summary, fail_under={"ndgc@10": 0.5})
    assert "ndcg@10" in err.value.hint
    assert parse_thresholds(["ndcg@10=0.68", "recall@5 = 0.8"]) == {"ndcg@10": 0.68, "recall@5": 0.8}
    for bad in ("ndcg@10", "ndcg@10=high", "=0.5"):
        with pytest.raises(UserError, match="not METRIC=NUMBER"):
            parse_thresholds([bad])


def test_compare_and_reports():
    base = {"id": 1, "dataset": "d", "kind": "retrieval", "split": "test",
            "created_at": "2026-11-27T00:00:00+00:00", "metrics": {"ndcg@10": 0.70, "mrr@10": 0.5},
            "latency": {"search": {"p50_ms": 10.0, "p95_ms": 20.0, "n": 5}}}
    cur = {**base, "id": 2, "created_at": "2026-11-28T00:00:00+00:00",
           "metrics": {"ndcg@10": 0.72, "mrr@10": 0.5, "recall@10": float("nan")},
           "latency": {"search": {"p50_ms": 10.0, "p95_ms": 40.0, "n": 5}}}
    rows = {r[0]: r for r in compare(cur, base)}
    assert rows["ndcg@10"][3] == pytest.approx(0.02) and rows["ndcg@10"][4] == "better"
    assert rows["mrr@10"][4] == "same"
    assert rows["latency.search.p95_ms"][4] == "worse"  # slower is worse
    assert rows["recall@10"][3] is None
    full = {**cur, "items": 5, "seconds": 1.0, "dataset_path": "/d", "dataset_fingerprint": "ab" * 32,
            "settings": {"fusion": "rrf"}, "models": {"embedder": {"name": "hashing"}}, "label": ""}
    md = to_markdown(full, compare(cur, base), 1)
    assert "| ndcg@10 | 0.7200 |" in md and "Compared with run 1" in md and "+0.0200" in md
    data = json.loads(to_json(full, [{"id": "q"}]), parse_constant=lambda c: pytest.fail(c))
    assert data["summary"]["metrics"]["recall@10"] is None and data["items"] == [{"id": "q"}]
    page = history_html([cur, base])
    assert page.startswith("<!doctype html>") and page.count("<svg") == 1
    assert "run 1: ndcg@10 = 0.7000" in page and "run 2: ndcg@10 = 0.7200" in page
    assert "No evaluation runs" in history_html([])


# -- per-collection settings and the sweep --------------------------------------------------
def test_replace_table_keeps_other_tables_and_refuses_broken_files(tmp_path):
    from fiable.errors import UserError
    from fiable.experts.config import Expert, read_experts, write_expert

    ws_dir = tmp_path / "ws"
    ws_dir.mkdir()
    toml = ws_dir / "fiable.toml"
    toml.write_text('top_k = 4\n\n[experts."hr"]\ndescription = "old"\ncollections = ["hr"]\n'
                    '\n[[webhooks]]\nurl = "http://x"\n')
    write_collection_settings(ws_dir, "hr", {"rrf_k": 9})
    write_expert(ws_dir, Expert("hr", "Leave and pay.", ("hr", "pay")))
    text = toml.read_text()
    # an array-of-tables header ends the replaced table: what follows it is kept
    assert '[[webhooks]]\nurl = "http://x"' in text and text.count('[experts."hr"]') == 1
    assert [(e.description, e.collections) for e in read_experts(ws_dir)] == [
        ("Leave and pay.", ("hr", "pay"))]
    assert read_collection_settings(toml) == {"hr": {"rrf_k": 9}}
    toml.write_text('[collections."hr"\n')  # broken by hand: refused, left as it was
    with pytest.raises(ConfigError, match="could not write"):
        write_expert(ws_dir, Expert("law", "Law.", ("legal",)))
    assert toml.read_text() == '[collections."hr"\n' and not (ws_dir / "fiable.toml.tmp").exists()
    with pytest.raises(UserError, match="no workspace folder"):
        write_collection_settings(tmp_path / "missing", "hr", {"rrf_k": 9})


def test_collection_settings_are_written_read_and_overridable(tmp_path, monkeypatch):
    ws_dir = tmp_path / "ws"
    ws_dir.mkdir()
    (ws_dir / "fiable.toml").write_text('# mine\ntop_k = 4\n\n[collections."hr"]\nrrf_k = 7\n')
    write_collection_settings(ws_dir, "docs", {"fusion": "rrf", "rrf_k": 20}, comment="tuned")
    write_collection_settings(ws_dir, "docs", {"fusion": "weighted", "dense_weight": 0.3},
                              comment="tuned again")
    text = (ws_dir / "fiable.toml").read_text()
    assert text.startswith("# mine\ntop_k = 4") and text.count('[collections."docs"]') == 1
    assert "tuned again" in text and "# tuned\n" not in text
    assert read_collection_settings(ws_dir / "fiable.toml") == {
        "hr": {"rrf_k": 7}, "docs": {"fusion": "weighted", "dense_weight": 0.3}}
    assert load_settings(ws_dir, collection="docs", environ={}).dense_weight == 0.3
    assert load_settings(ws_dir, collection="docs", environ={}).top_k == 4
    assert load_settings(ws_dir, environ={}).dense_weight == 0.4  # the default
    env = {"FIABLE_DENSE_WEIGHT": "0.9"}
    assert load_settings(ws_dir, collection="docs", environ=env).dense_weight == 0.9
    with pytest.raises(ConfigError, match="cannot be set per collection"):
        write_collection_settings(ws_dir, "docs", {"store": "x.db"})  # embedder may (issue 10)
    (ws_dir / "fiable.toml").write_text('[collections."x"]\ngenerator = "fake"\n')
    with pytest.raises(ConfigError, match="generator cannot be set per collection"):
        read_collection_settings(ws_dir / "fiable.toml")


def test_sweep_refuses_test_and_writes_the_best_fusion_for_the_collection(tmp_path):
    with fake_workspace(tmp_path / "ws") as ws:
        with pytest.raises(UserError, match="refusing to tune on split 'test'") as err:
            sweep(ws, load_dataset(SCIFACT))
        assert "train" in err.value.hint
        result = sweep(ws, load_dataset(SCIFACT, split="train"))
        assert result.collection == "eval-scifact-mini" and result.metric == "ndcg@10"
        assert len(result.scores) >= 15
        assert result.best_score == max(s for _, s in result.scores + [(None, result.current_score)])
        assert result.best_score >= result.current_score
        if result.best != result.current:
            tables = tomllib.loads((ws.path / "fiable.toml").read_text())["collections"]
            assert tables["eval-scifact-mini"] == result.best
            tuned = ws.settings_for(["eval-scifact-mini"])
            assert tuned.fusion == result.best["fusion"]
            assert ws.settings_for(None) is not ws.settings  # the only collection: tuned too
            assert ws.settings_for(["eval-scifact-mini", "other"]) is ws.settings
        assert ws.store.eval_runs()[0]["kind"] == "sweep"


# -- the command line ---------------------------------------------------------------------
def _cli(capsys, *args):
    return run_cli(capsys, *args)


def test_cli_gate_fails_on_a_deliberately_bad_setting(cli_env, capsys):
    code, out, err = _cli(capsys, "eval", str(SCIFACT), "--fail-under", "ndcg@10=0.85")
    assert code == 0, err
    assert "ndcg@10" in out and "gate failed" not in err
    # dense-only retrieval with the hashing fake embedder: a bad setting on purpose
    code, out, err = _cli(capsys, "--set", "dense_weight=1.0", "eval", str(SCIFACT),
                          "--fail-under", "ndcg@10=0.85", "--compare", "previous")
    assert code == 1
    assert "gate failed: ndcg@10 = 0." in err and "< 0.85" in err
    assert "compared with run 1" in out and "worse" in out
    code, out, _ = _cli(capsys, "eval", "runs")
    assert code == 0 and len(out.strip().splitlines()) == 2


def test_cli_refuses_bad_gates_and_unknown_runs_before_running(cli_env, capsys):
    code, _, err = _cli(capsys, "eval", str(SCIFACT), "--fail-under", "ndgc@10=0.5")
    assert code == 2 and "no metric 'ndgc@10'" in err and "ndcg@10" in err
    code, _, err = _cli(capsys, "eval", str(SCIFACT), "--fail-under", "ndcg@10")
    assert code == 2 and "not METRIC=NUMBER" in err
    assert not (cli_env / "ws").exists()  # refused before anything was created or run
    assert _cli(capsys, "init")[0] == 0
    assert _cli(capsys, "eval", "runs")[1].startswith("no evaluation runs yet")
    code, _, err = _cli(capsys, "eval", "show", "42")
    assert code == 2 and "no evaluation run 42" in err


def test_cli_reports_import_plot_show_and_sweep(cli_env, capsys):
    code, out, _ = _cli(capsys, "eval", "import-squad", str(SQUAD), str(cli_env / "sq"))
    assert code == 0 and "3 paragraphs, 21 questions" in out
    code, out, _ = _cli(capsys, "eval", str(cli_env / "sq"), "--split", "test", "--json", "-")
    assert code == 0
    data = json.loads(out)
    assert data["summary"]["kind"] == "qa" and data["items"]
    md, page = cli_env / "r.md", cli_env / "h.html"
    code, _, _ = _cli(capsys, "eval", str(SCIFACT), "--markdown", str(md), "--plot", str(page))
    assert code == 0 and "## Metrics" in md.read_text() and "<svg" in page.read_text()
    code, out, _ = _cli(capsys, "eval", "show", "2")
    assert code == 0 and "# Evaluation run 2: scifact-mini" in out
    code, out, _ = _cli(capsys, "eval", "plot", str(cli_env / "all.html"))
    assert code == 0 and (cli_env / "all.html").read_text().count("<svg") == 2
    code, out, _ = _cli(capsys, "eval", str(SCIFACT), "--split", "train", "--sweep", "--dry-run")
    assert code == 0 and "dry run: nothing written" in out or "already the best" in out
    assert "collections" not in (cli_env / "ws" / "fiable.toml").read_text()


def test_a_refused_question_counts_as_an_abstention_not_a_crash(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "a", "question": "What is the sky's colour?", "answers": ["blue"]}) + "\n"
        + json.dumps({"id": "b", "question": "Is jo@example.com on leave?", "answerable": False}) + "\n")
    (tmp_path / "sky.txt").write_text("The sky is blue on a clear day.\n")
    with fake_workspace(tmp_path / "ws", pii="reject", pii_ner=False) as ws:
        ws.ingest([tmp_path / "sky.txt"], collection="docs")
        run = evaluate(ws, load_dataset(questions), collection="docs")
    refused = next(i for i in run.items if i["id"] == "b")
    assert refused["abstained"] and "EMAIL" in refused["abstain_reason"]
    assert run.metrics["abstention.recall"] == 1.0


def test_abstention_calibration_picks_the_thresholds_that_separate_the_questions():
    from fiable.evaluation.calibrate import calibrate_abstention, outcome

    items = [  # answerable: high relevance and support; unanswerable: low support
        {"answerable": True, "abstained": False, "relevance": 0.7, "support": 0.8, "f1": 0.6},
        {"answerable": True, "abstained": False, "relevance": 0.6, "support": 0.7, "f1": 0.4},
        {"answerable": False, "abstained": False, "relevance": 0.65, "support": 0.15, "f1": None},
        {"answerable": False, "abstained": False, "relevance": 0.5, "support": 0.35, "f1": None},
        {"answerable": False, "abstained": True, "relevance": 0.4, "support": None, "f1": None},
    ]
    cal = calibrate_abstention(items)
    assert cal.baseline["abstention.recall"] == pytest.approx(1 / 3, abs=1e-3)
    assert cal.chosen["abstention.f1"] == 1.0 and cal.chosen["f1"] == cal.baseline["f1"] == 0.5
    assert cal.support_threshold == 0.4 and cal.min_relevance == 0.0  # the lowest that works
    assert outcome(items, 0.0, 0.9)["f1"] == 0.0  # too strict: every answer refused


def test_sweep_on_a_qa_dev_split_calibrates_abstention_and_writes_it(tmp_path):
    import_squad(SQUAD, tmp_path / "sq", dev_fraction=1.0)
    with fake_workspace(tmp_path / "ws") as ws:
        result = sweep(ws, load_dataset(tmp_path / "sq", split="dev"))
        cal = result.abstention
        assert cal is not None and result.metric == "mrr@10"
        assert cal.chosen["abstention.f1"] >= cal.baseline["abstention.f1"]
        assert cal.chosen["f1"] >= cal.baseline["f1"] - 0.05
        if result.written:
            table = tomllib.loads((ws.path / "fiable.toml").read_text())["collections"]["eval-sq"]
            assert table["min_relevance"] == cal.min_relevance
            assert table["support_threshold"] == cal.support_threshold
            tuned = ws.settings_for(["eval-sq"])
            assert tuned.min_relevance == cal.min_relevance
        assert ws.store.eval_runs()[0]["abstention"]["min_relevance"] == cal.min_relevance


def test_empty_and_oversized_inputs_are_refused_clearly(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(UserError, match="no questions"):
        load_dataset(empty)
    with fake_workspace(tmp_path / "ws", max_file_mb=1) as ws:
        report = ws.ingest_records([TextRecord("big", "Big", "word " * 300_000),
                                    TextRecord("ok", "Small", "a small record")])
        assert report.added == ["record:ok"]
        assert [(f.path, f.code) for f in report.failed] == [("record:big", "file_too_large")]
        assert "max_file_mb" in report.failed[0].hint
