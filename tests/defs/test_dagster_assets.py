"""The Dagster assets on their own: one API partition (local HTTP server) and one landing file."""

from __future__ import annotations

import json
import shutil
from datetime import date

import dagster as dg
import duckdb
import pytest
from dagster_dlt import DagsterDltResource
from werkzeug import Response

from orchestration.defs.validation.checks import api_raw_checks, landing_raw_checks
from orchestration.defs.definitions import build_definitions
from orchestration.defs.dbt.assets import warehouse_dbt_models
from orchestration.defs.dlt.assets import hf_api_raw, landing_raw
from orchestration.ops import ledger
from orchestration.config import Settings
from orchestration.defs.resources import Warehouse
from tests.pipeline_runs import FIXTURES, query

PARTITION = "2025-10-03"
FIXTURE = FIXTURES / "daily_papers" / "2025-10-03_captured-20251003T074927Z.json"


def resources(home, **settings):
    return {"warehouse": Warehouse(Settings.load(environ={}, home=home, **settings)), "dlt": DagsterDltResource()}


def test_definitions_connect_dlt_raw_to_dbt_to_checks(tmp_path):
    defs = build_definitions(Settings.load(environ={}, home=tmp_path))
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    raw = {dg.AssetKey(["raw", t]) for t in ("landed_api_papers", "landed_page_cards", "api_fetched_papers")}
    assert raw <= keys
    papers = dg.AssetKey(["marts", "papers"])
    assert papers in keys
    # raw tables are upstream of marts.papers (lineage joins dlt -> dbt)
    upstream, frontier = set(), {papers}
    while frontier:
        key = frontier.pop()
        for parent in graph.get(key).parent_keys:
            if parent not in upstream:
                upstream.add(parent)
                frontier.add(parent)
    assert raw <= upstream
    check_keys = {key.asset_key for key in graph.asset_check_keys}
    assert papers in check_keys and dg.AssetKey(["raw", "landed_api_papers"]) in check_keys
    assert graph.get(dg.AssetKey(["raw", "api_fetched_papers"])).partitions_def is not None


def test_definitions_follow_the_settings_home_not_the_environment(tmp_path, monkeypatch):
    """The sensor watches the landing folder of the settings it was built with, whatever
    $PAPERS_HOME says (one configuration object, passed as a value)."""
    monkeypatch.setenv("PAPERS_HOME", str(tmp_path / "elsewhere"))
    home = tmp_path / "chosen"
    defs = build_definitions(Settings.load(home=home, landing_settle_seconds=0))
    (home / "landing").mkdir(parents=True)
    (home / "landing" / FIXTURE.name).write_bytes(FIXTURE.read_bytes())
    with dg.instance_for_test() as instance:
        requests = defs.resolve_sensor_def("landing_sensor")(dg.build_sensor_context(instance=instance))
    assert [r.run_config["ops"]["landing_raw"]["config"]["files"] for r in requests] == [[FIXTURE.name]]
    assert not (tmp_path / "elsewhere").exists()


def test_materialize_one_api_partition(tmp_path, httpserver):
    body = FIXTURE.read_bytes()
    httpserver.expect_request("/api/daily_papers", query_string={"date": PARTITION, "limit": "100", "p": "0"}) \
        .respond_with_response(Response(body, content_type="application/json"))
    httpserver.expect_request("/api/daily_papers").respond_with_json([])
    result = dg.materialize([hf_api_raw, api_raw_checks], partition_key=PARTITION,
                            resources=resources(tmp_path, api_base_url=httpserver.url_for("/").rstrip("/")))
    assert result.success
    warehouse = tmp_path / "warehouse.duckdb"
    expected = len(json.loads(body))
    assert query(warehouse, "select count(*), min(listing_date), max(listing_date) from raw.api_fetched_papers") == [
        (expected, date(2025, 10, 3), date(2025, 10, 3))]
    assert query(warehouse, "select source, status, rows from ops.snapshot_files") == [("api", "loaded", expected)]
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]


def test_materialize_one_landing_file(tmp_path):
    (tmp_path / "landing").mkdir()
    shutil.copy(FIXTURE, tmp_path / "landing" / FIXTURE.name)
    result = dg.materialize([landing_raw, landing_raw_checks], resources=resources(tmp_path),
                            run_config={"ops": {"landing_raw": {"config": {"files": [FIXTURE.name]}}}})
    assert result.success
    warehouse = tmp_path / "warehouse.duckdb"
    assert query(warehouse, "select count(*) from raw.landed_api_papers")[0][0] == len(json.loads(FIXTURE.read_text()))
    assert query(warehouse, "select source_uri, status, format from ops.snapshot_files") == [
        (FIXTURE.name, "loaded", "api_json")]
    assert (tmp_path / "archive" / FIXTURE.name).exists() and not (tmp_path / "landing" / FIXTURE.name).exists()
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey(["raw", "landed_api_papers"]) in materialized
    assert all(c.passed for c in result.get_asset_check_evaluations())


def test_a_run_that_quarantines_says_so_on_the_run_and_the_check(tmp_path):
    from tests.pipeline_runs import MALFORMED

    bad = next(p for p in sorted((FIXTURES / "daily_papers").glob("*.json")) if p.name in MALFORMED)
    (tmp_path / "landing").mkdir()
    for source in (FIXTURE, bad):
        shutil.copy(source, tmp_path / "landing" / source.name)
    with dg.instance_for_test() as instance:
        result = dg.materialize([landing_raw, landing_raw_checks], resources=resources(tmp_path), instance=instance)
        assert result.success  # the good file is loaded: the run goes on, marked
        assert instance.get_run_by_id(result.run_id).tags["papers/quarantined"] == "1"
    checks = {c.asset_key.path[-1]: c for c in result.get_asset_check_evaluations()}
    warned = checks["landed_api_papers"]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.description.startswith(f"1 quarantined: {bad.name} (")
    assert [q["file"] for q in warned.metadata["quarantined_files"].value] == [bad.name]
    assert checks["landed_page_cards"].passed
    # the raw table's real name in the warehouse, and its rows
    materialization = next(e for e in result.get_asset_materialization_events()
                           if e.asset_key == dg.AssetKey(["raw", "landed_api_papers"])).materialization
    assert materialization.metadata["dagster/table_name"].value == "raw.landed_api_papers"
    assert materialization.metadata["dagster/row_count"].value == len(json.loads(FIXTURE.read_text()))
    spec_metadata = landing_raw.specs_by_key[dg.AssetKey(["raw", "landed_api_papers"])].metadata
    assert spec_metadata["dagster/table_name"] == "raw.landed_api_papers"


def test_the_refetch_schedule_says_it_needs_the_network_and_follows_its_setting(tmp_path):
    on = build_definitions(Settings.load(environ={}, home=tmp_path)).resolve_schedule_def("rolling_refetch_schedule")
    assert on.default_status == dg.DefaultScheduleStatus.RUNNING
    assert "Needs the network" in on.description and "refetch_enabled = false" in on.description
    off = build_definitions(Settings.load(environ={"PAPERS_REFETCH_ENABLED": "false"}, home=tmp_path)) \
        .resolve_schedule_def("rolling_refetch_schedule")
    assert off.default_status == dg.DefaultScheduleStatus.STOPPED


def built(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return ledger.read(con, ledger.DBT)


@pytest.mark.pipeline
def test_a_build_of_some_models_leaves_the_change_window_to_the_next_whole_build(tmp_path):
    """Models materialized alone (the asset graph's "Materialize selected") do not mark the loads
    as built: the models left out take them in at the next whole build."""
    (tmp_path / "landing").mkdir()
    shutil.copy(FIXTURE, tmp_path / "landing" / FIXTURE.name)
    assert dg.materialize([landing_raw], resources=resources(tmp_path),
                          run_config={"ops": {"landing_raw": {"config": {"files": [FIXTURE.name]}}}}).success
    stg = dg.AssetKey(["staging", "stg_api_paper_observations"])
    assert dg.materialize([warehouse_dbt_models], selection=[stg], resources=resources(tmp_path)).success
    warehouse = tmp_path / "warehouse.duckdb"
    assert built(warehouse) is None
    whole = dg.materialize([warehouse_dbt_models], resources=resources(tmp_path))
    assert whole.success
    assert built(warehouse) is not None
    assert query(warehouse, "select count(*) from marts.papers")[0][0] == len(json.loads(FIXTURE.read_text()))
    # dbt's tests ran with the build; each model's materialization lists its tests' results
    tests = {e.asset_key: e.materialization.metadata["dbt tests"].value
             for e in whole.get_asset_materialization_events() if "dbt tests" in e.materialization.metadata}
    assert "- `not_null_stg_api_paper_observations_listing_date`: pass" in tests[stg].splitlines()
    assert "- `unique_papers_paper_id`: pass" in tests[dg.AssetKey(["marts", "papers"])].splitlines()
    assert not whole.get_asset_check_evaluations()  # dbt tests are not Dagster asset checks
