"""Named profiles (settings.PROFILES): defaults chosen by measurement, under explicit settings."""

from __future__ import annotations

import pytest

from fiable import Workspace
from fiable.errors import ConfigError
from fiable.settings import PROFILES, Settings, load_settings, settings_table


def test_a_profile_sets_its_defaults_and_explicit_settings_win(tmp_path) -> None:
    assert load_settings(environ={}).generator == Settings().generator == "qwen2.5-coder-0.5b"
    assert load_settings(environ={"FIABLE_PROFILE": "accurate"}).generator == "qwen2.5-coder-1.5b"
    assert load_settings(environ={"FIABLE_PROFILE": "fast"}).generator == "qwen2.5-coder-0.5b"
    explicit = load_settings(environ={"FIABLE_PROFILE": "accurate"},
                             overrides={"generator": "smollm2-135m"})
    assert explicit.generator == "smollm2-135m" and explicit.profile == "accurate"
    (tmp_path / "fiable.toml").write_text('profile = "accurate"\n', encoding="utf-8")
    assert load_settings(tmp_path, environ={}).generator == "qwen2.5-coder-1.5b"


def test_every_profile_names_real_settings_and_an_unknown_one_is_refused() -> None:
    names = {s.name for s in settings_table()}
    assert all(set(values) <= names for values in PROFILES.values())
    with pytest.raises(ConfigError, match="profile.*one of"):
        load_settings(environ={"FIABLE_PROFILE": "turbo"})


def test_a_profile_cannot_change_for_one_question(tmp_path) -> None:
    with Workspace.open(tmp_path / "ws", create=True, embedder="hashing", generator="fake") as ws:
        with pytest.raises(ConfigError, match="profile cannot change"):
            ws.ask("How many days of leave?", overrides={"profile": "accurate"})
