"""`fiable eval sweep`: retrieval settings tuned by the mean over several dev splits,
written with their evidence (fast fakes)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fiable.errors import UserError
from fiable.evaluation import evaluate, import_squad, load_dataset
from fiable.evaluation.sweep_sets import sweep_sets
from fiable.settings import load_settings, write_settings
from tests.helpers import fake_workspace, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
SCIFACT = FIXTURES / "scifact-mini"
SQUAD = FIXTURES / "squad2-mini.json"


@pytest.fixture
def squad_dev(tmp_path):
    import_squad(SQUAD, tmp_path / "sq", dev_fraction=1.0)
    return tmp_path / "sq"


def test_the_setting_is_chosen_by_the_mean_and_its_evidence_is_real(tmp_path, squad_dev):
    sets = [load_dataset(SCIFACT, split="train"), load_dataset(squad_dev, split="dev")]
    with fake_workspace(tmp_path / "ws") as ws:
        result = sweep_sets(ws, sets)
        assert result.sets == ["scifact-mini", "sq"] and all(n > 0 for n in result.queries)
        assert len(result.ranking) >= 40  # fusion grid x candidate depths
        assert result.best_mean >= max(result.current_mean, result.ranking[0][1])
        assert result.best_mean == pytest.approx(sum(result.best_scores) / 2, abs=1e-4)
        assert ws.store.eval_runs()[0]["kind"] == "sweep"
        # short questions read the same whatever the long-query settings: those stay as set
        assert (result.best["query_pool"], result.best["query_terms"]) == (
            ws.settings.query_pool, ws.settings.query_terms)
        written = result.written
    assert written is not None or "already the best" in " ".join(result.notes)
    settings = load_settings(tmp_path / "ws")
    for name, value in result.best.items():
        assert getattr(settings, name) == value
    # the evidence is what the production evaluation measures with the written setting
    with fake_workspace(tmp_path / "ws") as ws:
        run = evaluate(ws, sets[0], store=False)
    assert run.metrics["ndcg@10"] == pytest.approx(result.best_scores[0], abs=1e-3)
    if written:
        text = (tmp_path / "ws" / "fiable.toml").read_text()
        assert "tuned by `fiable eval sweep`" in text and "scifact-mini (" in text and "sq (" in text


def test_a_collection_gets_the_setting_and_a_dry_run_writes_nothing(tmp_path, squad_dev):
    with fake_workspace(tmp_path / "ws") as ws:
        ws.store.ensure_collection("docs")
        before = (ws.path / "fiable.toml").read_text()
        dry = sweep_sets(ws, [load_dataset(squad_dev, split="dev")], write=False)
        assert dry.written is None and (ws.path / "fiable.toml").read_text() == before
        result = sweep_sets(ws, [load_dataset(squad_dev, split="dev")], collection="docs")
        if result.written:
            table = tomllib.loads((ws.path / "fiable.toml").read_text())["collections"]["docs"]
            assert table == result.best
            assert ws.settings_for(["docs"]).candidates == result.best["candidates"]


def test_test_splits_duplicates_and_sets_without_gold_are_refused(tmp_path, squad_dev):
    with fake_workspace(tmp_path / "ws") as ws:
        with pytest.raises(UserError, match="refusing to tune on split 'test'"):
            sweep_sets(ws, [load_dataset(SCIFACT, split="train"), load_dataset(SCIFACT)])
        with pytest.raises(UserError, match="given twice"):
            sweep_sets(ws, [load_dataset(SCIFACT, split="train")] * 2)
        with pytest.raises(UserError, match="at least one"):
            sweep_sets(ws, [])
        assert ws.store.eval_runs() == []


def test_write_settings_puts_the_evidence_above_the_lines_it_replaces(tmp_path):
    path = tmp_path / "fiable.toml"
    path.write_text('top_k = 4\n# stale evidence\nfusion = "rrf"\n\n[collections."a"]\ntop_k = 3\n')
    write_settings(tmp_path, {"fusion": "weighted", "dense_weight": 0.4}, comment="why\n set: 0.5")
    text = path.read_text()
    assert "stale evidence" not in text and '# why\n#  set: 0.5\nfusion = "weighted"' in text
    assert tomllib.loads(text)["collections"]["a"] == {"top_k": 3} and text.startswith("top_k = 4")
    settings = load_settings(tmp_path)
    assert (settings.fusion, settings.dense_weight, settings.top_k) == ("weighted", 0.4, 4)
    with pytest.raises(Exception, match="query_pool"):
        write_settings(tmp_path, {"query_pool": "median"})
    assert path.read_text() == text  # a refused value leaves the file as it was


def test_cli_sweep_prints_each_set_and_the_mean(cli_env, capsys, squad_dev):
    code, out, err = run_cli(capsys, "eval", "sweep", str(SCIFACT), str(squad_dev),
                             "--split", "train", "--dry-run")
    assert code == 2 and "split" in err  # the QA set has no train split
    code, out, err = run_cli(capsys, "eval", "sweep", str(SCIFACT), "--split", "train", "--dry-run")
    assert code == 0, err
    assert "scifact-mini" in out and "mean" in out and "dry run: nothing written" in out
    assert "tuned by" not in (cli_env / "ws" / "fiable.toml").read_text()
