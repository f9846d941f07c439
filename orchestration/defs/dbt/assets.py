"""dbt models as Dagster assets: raw sources -> staging -> intermediate -> marts."""

import json
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets,
                         get_asset_key_for_model)

from orchestration.defs.automation import FOLLOW_RAW
from orchestration.defs.dbt.build import run_dbt
from orchestration.defs.dlt.ingest import repair
from orchestration.memory import log_release
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, Warehouse
from orchestration.dbt_state import ensure_manifest, keep_invocation_state, project_md5, seed_invocation_state
from orchestration.ops import ledger
from orchestration.project import DBT_PROJECT_DIR, PUBLIC_MARTS
from orchestration.publish import prepare_copy
from orchestration.publish.quality import VIEWS as QUALITY_VIEWS

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
#: how long a finished build waits for the copy of the published DuckDB file it started
PREPARE_WAIT_SECONDS = 120.0
MANIFEST_PATH = ensure_manifest(DBT_PROJECT_DIR)


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Groups by dbt layer (staging / intermediate / marts); every model follows raw (``FOLLOW_RAW``).

    dbt's tests run in the build (a failed one fails the step and names itself) and their results
    are part of each model's materialization (``dbt tests``); they are not Dagster asset checks, each
    of which costs the run three stored events (planned, output, evaluation). The asset checks are
    Great Expectations' suites (orchestration/defs/validation)."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=False))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("config", {}).get("schema") or "dbt"

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition:
        return FOLLOW_RAW


class DbtBuildConfig(dg.Config):
    """``full_refresh``: rebuild every model from raw (done by itself when the models changed)."""

    full_refresh: bool = False


@dbt_assets(
    manifest=MANIFEST_PATH,
    project=dbt_project,
    dagster_dbt_translator=WarehouseDbtTranslator(),
    pool=WAREHOUSE_WRITER_POOL,
)
def warehouse_dbt_models(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                         config: DbtBuildConfig):
    """Builds (runs and tests) the selected dbt models and seeds in the warehouse: the loads after
    the last build (the change window, orchestration/ops/ledger.py), or everything when the dbt
    project changed since (a model, a seed such as the topic taxonomy, a var)."""
    code = project_md5()
    with warehouse.connect() as con:
        # a load an interrupted run left incomplete is rolled back before dbt reads raw (a run that
        # builds without loading first, e.g. `papers rebuild`, would otherwise build from it)
        repair(context.log, con, warehouse.home, context.run.run_id)
        window = ledger.plan(con, ledger.DBT, code, full=config.full_refresh)
        current = not config.full_refresh and ledger.published_is_current(con, code)
        # (a full build and an idle run need no list of the raw tables that received rows)
        touched = ledger.touched(con, window) if not (current or window.full) else []
    if current:
        # nothing arrived and the last build is published: no output, so the checks and publish skip too
        warehouse.report(context.log, "dbt: nothing new since the last published build (dbt, validation and "
                                      "publish skipped)")
        return
    # meanwhile, the published DuckDB file is copied for the publish to patch (prepare_copy)
    preparing = threading.Thread(target=prepare_copy, args=(warehouse.home.published,), name="papers-prepare-copy",
                                 daemon=True)
    preparing.start()
    # dbt's DuckDB runs in this process: hand back what the raw load and checks left behind first
    log_release(context.log, "before dbt")
    # the deployment's settings reach dbt as --vars (profiles.yml reads them); the window dbt reads
    # from the ledger itself (macros/incremental_state.sql). dbt.log is plain text; colours only for a terminal
    args = ["build", *(["--full-refresh"] if window.full else []), "--vars", json.dumps(warehouse.settings.dbt_vars()),
            "--log-format-file", "text", "--no-use-colors-file", *([] if sys.stdout.isatty() else ["--no-use-colors"])]
    kept = warehouse.home.dbt_target
    target = seed_invocation_state(kept, kept / f"{context.run.run_id[:8]}-{uuid.uuid4().hex[:7]}")
    whole = context.selected_asset_keys == warehouse_dbt_models.keys  # (context.assets_def is the subset)
    # a whole incremental build takes in the models downstream of the raw tables that received rows,
    # and the published models (the mart checks and publish are steps of their own, which Dagster
    # skips when a model they follow was not materialized); the seeds and the models of the other raw
    # tables have nothing new (a change to their code is a full build)
    narrow = [*(f"source:raw.{table}+" for table in touched), *PUBLIC_MARTS, *QUALITY_VIEWS] \
        if whole and touched else None
    warehouse.report(context.log, f"dbt: building {'every model' if window.full else 'the models'} ({window.reason}"
                                  + (f"; downstream of raw.{', raw.'.join(touched)}" if narrow else "") + ")")
    build = run_dbt(context, args, target, narrow=narrow)
    preparing.join(PREPARE_WAIT_SECONDS)  # (the publish copies by itself what is not ready by then)
    # and what dbt's DuckDB used (its connection is closed once the build ends) goes back too
    log_release(context.log, "after dbt")
    events, tests = _with_test_results(build.events, context.assets_def.node_keys_by_output_name.get)
    if build.success:  # each model's table name, row count and columns, read once dbt's DuckDB is closed
        with warehouse.connect() as con:
            events = [_with_table_metadata(con, build.manifest, event) for event in events]
    yield from events
    if unreported := [f"{name}: {status}" for name, status in tests]:  # tests of assets not built here
        context.log.info("dbt tests of assets this step did not build: " + ", ".join(unreported))
    statuses = Counter(r.get("status") for r in _run_results(target))
    done = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    if not build.success:
        warehouse.report(context.log, f"dbt: FAILED ({done}; log: {target / 'dbt.log'})")
        raise dg.Failure(description=f"dbt build failed: {_first_dbt_error(target, build.error)} "
                                     f"(log: {target / 'dbt.log'})")
    keep_invocation_state(target, kept)
    if whole:
        # every model took the window in (a subset leaves the watermark: the next full build redoes it)
        with warehouse.connect() as con:
            ledger.advance(con, ledger.DBT, window, code, context.run.run_id)
            if window.full:  # every mart row was rewritten: validation and publish take everything in again
                ledger.forget(con, "validation:")
                ledger.forget(con, ledger.PUBLISH)
    warehouse.report(context.log, f"dbt: {sum(statuses.values())} models, seeds and tests done ({done}; "
                                  f"log: {kept / 'dbt.log'})")


def _with_test_results(events: list, asset_key_for_output) -> tuple[list, list[tuple[str, str]]]:
    """The build's events with each dbt test's result (dagster-dbt's observation of the tested asset)
    folded into that asset's materialization as ``dbt tests`` ("name: status" per test, with the
    failing row count), and the results of the tests none of whose assets this step materialized."""
    results: dict[dg.AssetKey, dict[str, str]] = {}
    kept = []
    for event in events:
        unique_id = event.metadata.get("unique_id") if isinstance(event, dg.AssetObservation) else None
        if unique_id is not None and unique_id.text.startswith("test."):
            name = unique_id.text.split(".")[2]
            failing = event.metadata.get("dagster_dbt/failed_row_count")
            results.setdefault(event.asset_key, {})[name] = str(event.metadata["status"].text) + (
                f" ({failing.value} failing rows)" if failing is not None and failing.value else "")
        else:
            kept.append(event)
    out, attached = [], set()
    for event in kept:
        key = (asset_key_for_output(event.output_name) if isinstance(event, dg.Output)
               else event.asset_key if isinstance(event, dg.AssetMaterialization) else None)
        if key in results:
            tests = results.pop(key)
            attached |= set(tests)
            event = event.with_metadata({**event.metadata, "dbt tests": dg.MetadataValue.md(
                "\n".join(f"- `{name}`: {status}" for name, status in sorted(tests.items())))})
        out.append(event)
    # a test of several models (a relationships test) is listed under each one built here
    return out, sorted({(name, status) for tests in results.values() for name, status in tests.items()
                        if name not in attached})


def _with_table_metadata(con, manifest: Mapping[str, Any], event):
    """A model's materialization with its table name, row count and columns as DuckDB has them."""
    if not isinstance(event, (dg.Output, dg.AssetMaterialization)) or "unique_id" not in event.metadata:
        return event
    node = manifest["nodes"].get(event.metadata["unique_id"].text)
    if not node or node.get("resource_type") not in ("model", "seed"):
        return event
    schema, name = node["schema"], node.get("alias") or node["name"]
    described = {name_: info.get("description") or None for name_, info in node.get("columns", {}).items()}
    try:
        columns = [dg.TableColumn(column, data_type, description=described.get(column))
                   for column, data_type in con.execute(
                       "select column_name, data_type from information_schema.columns "
                       "where table_schema = ? and table_name = ? order by ordinal_position",
                       [schema, name]).fetchall()]
        # the metadata keys Dagster's UI shows as the table's name, row count (tables only: counting
        # a view would run its query) and columns
        metadata = {"dagster/table_name": f"{schema}.{name}", "dagster/column_schema": dg.TableSchema(columns=columns)}
        if node.get("config", {}).get("materialized") != "view":
            metadata["dagster/row_count"] = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
    except duckdb.Error:  # the build succeeded: its event goes out without the extra metadata
        return event
    return event.with_metadata({**event.metadata, **metadata})


def _run_results(target) -> list[dict]:
    path = target / "run_results.json"
    return json.loads(path.read_text(encoding="utf-8")).get("results", []) if path.is_file() else []


def _first_dbt_error(target, error: BaseException | None = None) -> str:
    """The first failed node of a dbt build and its message, in one line (else the exception dbt
    ended with, else the log's last error)."""
    for result in _run_results(target):
        if result.get("status") in ("error", "fail", "runtime error"):
            message = " ".join(str(result.get("message") or "").split())
            return f"{result.get('unique_id')}: {message[:300]}"
    if error is not None:
        return " ".join(f"{type(error).__name__}: {error}".split())[:300]
    log = target / "dbt.log"
    errors = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
              if "error" in line.lower()] if log.is_file() else []
    return " ".join(errors[-1].split())[:300] if errors else "see the log"


def model_key(model_name: str) -> dg.AssetKey:
    """The asset key of a dbt model (custom schemas are part of the key: use this, not a literal)."""
    return get_asset_key_for_model([warehouse_dbt_models], model_name)
