import pytest

from fiable.errors import ConfigError
from fiable.retrieval import fuse
from fiable.settings import Settings, load_settings, settings_table


def test_precedence_defaults_file_env_arguments(tmp_path):
    assert load_settings(tmp_path, environ={}).top_k == Settings().top_k
    (tmp_path / "fiable.toml").write_text("top_k = 7\nfusion = 'weighted'\n")
    assert load_settings(tmp_path, environ={}).top_k == 7
    s = load_settings(tmp_path, environ={"FIABLE_TOP_K": "9"})
    assert (s.top_k, s.fusion) == (9, "weighted")
    assert load_settings(tmp_path, environ={"FIABLE_TOP_K": "9"}, overrides={"top_k": 3}).top_k == 3


@pytest.mark.parametrize("content, needle", [
    ("top_k = 'many'", "top_k"),
    ("fusion = 'magic'", "fusion"),
    ("colour = 3", "colour"),
    ("top_k = = 3", "TOML"),
    ("top_k = -2", "negative"),
])
def test_bad_settings_file_names_the_problem(tmp_path, content, needle):
    (tmp_path / "fiable.toml").write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={})
    assert needle in str(info.value)


def test_bad_env_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={"FIABLE_LOG_ASKS": "perhaps"})
    assert "FIABLE_LOG_ASKS" in str(info.value)


def test_secrets_are_redacted_even_in_errors():
    s = Settings(generator_api_key="sk-secret")
    assert s.redacted()["generator_api_key"] == "***"
    assert "sk-secret" not in repr(s.redacted())


def test_every_setting_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [s.name for s in settings_table() if f"`{s.name}`" not in readme]
    assert not missing, f"settings missing from README: {missing}"
    assert all(s.help for s in settings_table())


def test_rrf_rewards_agreement():
    lexical = [(1, 9.0), (2, 5.0), (3, 1.0)]
    dense = [(3, 0.9), (1, 0.8), (4, 0.1)]
    ranked = [cid for cid, _ in fuse(lexical, dense, method="rrf")]
    assert ranked[0] == 1 and set(ranked) == {1, 2, 3, 4}


def test_weighted_fusion_normalises_each_list():
    ranked = fuse([(1, 100.0), (2, 0.0)], [(2, 0.9), (1, 0.1)], method="weighted", dense_weight=0.8)
    assert [cid for cid, _ in ranked] == [2, 1]
    assert ranked[0][1] == pytest.approx(0.8)
