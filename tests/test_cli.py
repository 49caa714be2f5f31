"""The CLI through its entry point, with the deterministic fakes."""

from __future__ import annotations

import json

import pytest

from tests.helpers import copy_handbook, run_cli


@pytest.fixture
def env(cli_env):
    return cli_env


def run(capsys, *args):
    return run_cli(capsys, *args)


def test_init_ingest_ask_json(env, capsys):
    handbook = copy_handbook(env)
    assert run(capsys, "init")[0] == 0
    code, out, _ = run(capsys, "ingest", str(handbook), "-c", "hr", "--json")
    assert code == 0 and len(json.loads(out)["added"]) == 5
    code, out, _ = run(capsys, "ask", "How long is the probation period?", "--json")
    answer = json.loads(out)
    assert code == 0 and "4 months" in answer["text"]
    assert all(s["citations"] for s in answer["sentences"])
    code, out, _ = run(capsys, "history", "--show", answer["trace_id"])
    assert code == 0 and "--- system ---" in out and "Passage 1 (" in out


def test_ask_streams_then_lists_sources(env, capsys):
    handbook = copy_handbook(env)
    run(capsys, "ingest", str(handbook))
    code, out, _ = run(capsys, "ask", "How many remote days per week?")
    assert code == 0 and "Sources:" in out and "[1]" in out and "AI-generated" in out


def test_errors_exit_with_a_fix(env, capsys):
    code, _, err = run(capsys, "ask", "anything")
    assert code == 2 and "no fiable workspace" in err and "fix: create one" in err
    handbook = copy_handbook(env)
    run(capsys, "ingest", str(handbook), "-c", "hr")
    code, _, err = run(capsys, "ask", "leave?", "-c", "finance")
    assert code == 2 and "unknown collection 'finance'" in err and "hr" in err
    code, _, err = run(capsys, "--set", "top_k=lots", "ask", "leave?")
    assert code == 2 and "top_k" in err
    code, _, err = run(capsys, "--set", "top_k", "ask", "leave?")
    assert code == 2 and "NAME=VALUE" in err
    code, _, err = run(capsys, "ingest", str(handbook), "-c", "hr/../x")
    assert code == 2 and "invalid collection name" in err
    code, out, _ = run(capsys, "collections")
    assert out.split()[0] == "hr"  # nothing created by the refused ingest


def test_failed_file_exit_code_3_but_others_ingested(env, capsys):
    docs = env / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("# Ok\n\nFine text.\n")
    (docs / "bad.pdf").write_bytes(b"not a pdf at all")
    code, out, err = run(capsys, "ingest", str(docs))
    assert code == 3 and "1 added" in out and "bad.pdf" in err and "fix:" in err


def test_collections_documents_settings_models_doctor(env, capsys):
    handbook = copy_handbook(env)
    run(capsys, "ingest", str(handbook), "-c", "hr")
    code, out, _ = run(capsys, "collections", "--json")
    assert json.loads(out)[0]["name"] == "hr"
    code, out, _ = run(capsys, "documents", "-c", "hr")
    assert code == 0 and "pdf, 3 pages" in out
    code, out, _ = run(capsys, "settings", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["embedder"]["value"] == "hashing" and rows["top_k"]["env"] == "FIABLE_TOP_K"
    code, out, _ = run(capsys, "models", "list", "--json")
    assert {m["name"] for m in json.loads(out)} >= {"qwen2.5-coder-0.5b", "minilm-l6-v2"}
    code, out, _ = run(capsys, "doctor", "--json")
    report = json.loads(out)
    assert code == 0 and report["workspace"]["collections"] == {"hr": report["workspace"]["collections"]["hr"]}
    assert report["models"]["smollm2-135m"] == "missing"


def test_secret_never_printed(env, capsys, monkeypatch):
    monkeypatch.setenv("FIABLE_GENERATOR_API_KEY", "sk-very-secret")
    code, out, _ = run(capsys, "settings")
    assert code == 0 and "sk-very-secret" not in out and "***" in out


def test_chat_answers_until_an_empty_line(env):
    from click.testing import CliRunner

    from fiable.cli import cli

    handbook = copy_handbook(env)
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(handbook)]).exit_code == 0
    result = runner.invoke(cli, ["chat"], input="How long is the probation period?\n"
                           + "x" * 3000 + "\n\n")
    assert result.exit_code == 0, result.output
    assert "4 months" in result.output and "Sources:" in result.output
    assert "2,000" in result.output  # the too-long question is refused, the chat goes on


def test_ask_shows_support_and_quarantined_passages(env, capsys):
    from fiable.samples import hostile_dir

    handbook = copy_handbook(env)
    assert run(capsys, "ingest", str(handbook), str(hostile_dir()), "-c", "hr")[0] == 0
    code, out, _ = run(capsys, "ask", "What is new in version 5.2 of the Ledgerline mobile app?")
    assert code == 0
    assert "Answer support: " in out and "(verification: flag)" in out
    assert "Passages with instructions aimed at the assistant (quarantined)" in out
    assert "vendor-note.md" in out


def test_ask_explain_shows_scores_support_and_the_prompt(env, capsys):
    handbook = copy_handbook(env)
    assert run(capsys, "ingest", str(handbook))[0] == 0
    code, out, _ = run(capsys, "ask", "How long is the probation period?", "--explain")
    assert code == 0
    for part in ("Decision: answered", "Passages (fused score", "score ", "Sentences:",
                 "support ", "lexical ", "Prompt sent to the model:", "--- system ---"):
        assert part in out, part


def test_chat_keeps_the_conversation_and_resumes_it(env, capsys):
    import re

    from click.testing import CliRunner

    from fiable.cli import cli

    handbook = copy_handbook(env)
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(handbook)]).exit_code == 0
    result = runner.invoke(cli, ["chat"], input="Who approves expense claims over 500 euros?\n"
                           "And below that amount?\n\n")
    assert result.exit_code == 0, result.output
    assert "(understood as: And below that amount? (follow-up to: Who approves" in result.output
    [thread_id] = re.findall(r"fiable chat --resume ([0-9a-f]{32})", result.output)
    code, out, _ = run(capsys, "conversations")
    assert code == 0 and thread_id in out and "2 turns" in out
    assert "Who approves expense claims over 500 euros?" in out  # titled by the first message
    resumed = runner.invoke(cli, ["chat", "--resume", thread_id], input="And for interns?\n\n")
    assert resumed.exit_code == 0, resumed.output
    assert "? And below that amount?" in resumed.output  # the earlier turns, shown again
    assert "(understood as: And for interns? (follow-up to: And below that amount?" in resumed.output
    code, out, _ = run(capsys, "conversations", "show", thread_id, "--json")
    assert code == 0 and len(json.loads(out)["turns"]) == 3
    assert run(capsys, "conversations", "rename", thread_id, "Claims")[0] == 0
    code, out, _ = run(capsys, "conversations", "show", thread_id)
    assert "Claims" in out
    code, _, err = run(capsys, "conversations", "show", thread_id, "--as", "bob")
    assert code == 2 and "no conversation" in err and "fix:" in err
    code, _, err = run(capsys, "chat", "--resume", "0" * 32)
    assert code == 2 and "no conversation" in err
    assert run(capsys, "conversations", "delete", thread_id)[0] == 0
    assert "no conversations yet" in run(capsys, "conversations")[1]
