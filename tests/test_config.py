"""The one configuration object: environment, config file and options, each value with its origin."""

from __future__ import annotations

import pytest

from orchestration.cli import main
from dataclasses import fields

from orchestration.config import ConfigError, Settings, env_name


def setting_help() -> list[tuple[str, str, str, str]]:
    """(file name, environment variable, default, meaning) of every setting (the README's table)."""
    return [(f.name, env_name(f.name), str(f.default), f.metadata["help"])
            for f in fields(Settings) if f.name != "origins"]


def test_defaults_then_file_then_environment_then_option(tmp_path):
    config = tmp_path / "papers.toml"
    config.write_text('home = "warehouse-home"\nrefetch_days = 7\napi_base_url = "http://file.invalid"\n')
    settings = Settings.load(environ={"PAPERS_REFETCH_DAYS": "3", "PAPERS_API_BASE_URL": "http://env.invalid"},
                             config_file=config, api_base_url="http://option.invalid")
    assert settings.home == tmp_path / "warehouse-home"  # relative to the file that names it
    assert settings.refetch_days == 3 and settings.origins["refetch_days"] == "env PAPERS_REFETCH_DAYS"
    assert settings.api_base_url == "http://option.invalid" and settings.origins["api_base_url"] == "option"
    assert settings.origins["home"] == f"file {config}"
    assert settings.sensor_interval_seconds == 5 and settings.origins["sensor_interval_seconds"] == "default"
    assert settings.layout.warehouse == tmp_path / "warehouse-home" / "warehouse.duckdb"


def test_every_setting_has_one_environment_name_and_a_meaning():
    rows = setting_help()
    assert {name for name, *_ in rows} == {name for name, _, _ in Settings.load(environ={}).describe()}
    assert all(variable == env_name(name) and meaning for name, variable, _, meaning in rows)


@pytest.mark.parametrize("environ, problem", [
    ({"PAPERS_REFETCH_DAYS": "two"}, "refetch_days = 'two' (env PAPERS_REFETCH_DAYS): not a valid int"),
    ({"PAPERS_API_DEADLINE_SECONDS": "-1"}, "must not be negative"),
    ({"PAPERS_REFETCH_ENABLED": "maybe"}, "not a valid bool"),
])
def test_a_bad_value_names_the_setting_and_its_origin(environ, problem):
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        Settings.load(environ=environ)


def test_unknown_key_in_the_file_is_refused(tmp_path):
    config = tmp_path / "papers.toml"
    config.write_text("refetch_dayz = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'refetch_dayz'"):
        Settings.load(environ={}, config_file=config)


def test_papers_config_prints_values_and_origins(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PAPERS_REFETCH_DAYS", "9")
    assert main(["config", "--home", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert str(tmp_path) in lines["home"] and "(option)" in lines["home"]
    assert "9" in lines["refetch_days"] and "(env PAPERS_REFETCH_DAYS)" in lines["refetch_days"]
    assert not any(tmp_path.iterdir())  # printing the configuration creates nothing


def test_bad_configuration_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PAPERS_SENSOR_INTERVAL_SECONDS", "often")
    assert main(["--home", str(tmp_path), "status"]) == 2
    assert capsys.readouterr().out.strip().splitlines() == [
        "papers: sensor_interval_seconds = 'often' (env PAPERS_SENSOR_INTERVAL_SECONDS): not a valid int"]


def _shown(name: str, default: str) -> str:
    if name == "home":
        return "./data"
    if default in ("True", "False"):
        return default.lower()
    return default[:-2] if default.endswith(".0") else default


def readme_settings_table() -> str:
    rows = ["| `papers.toml` key | environment variable | default | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{name}` | `{variable}` | `{_shown(name, default)}` | {meaning} |"
             for name, variable, default, meaning in setting_help()]
    return "\n".join(rows)


def test_readme_configuration_table_is_the_code_s():
    from tests.pipeline_runs import REPO

    expected = readme_settings_table()
    assert expected in (REPO / "README.md").read_text(), "README's configuration table differs from the code:\n" + expected
