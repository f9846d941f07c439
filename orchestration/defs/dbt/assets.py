"""dbt models as Dagster assets: raw sources -> staging -> intermediate -> marts."""


import json
import uuid
from collections.abc import Mapping
from typing import Any

import dagster as dg
from functools import cached_property

from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from orchestration.defs.automation import FOLLOW_RAW
from orchestration.memory import log_release
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, Warehouse
from orchestration.dbt_state import ensure_manifest, keep_invocation_state, project_md5, seed_invocation_state
from orchestration.ops import ledger
from orchestration.project import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
MANIFEST_PATH = ensure_manifest(DBT_PROJECT_DIR)


class InstalledDbtCliResource(DbtCliResource):
    """dbt-core from this environment. dagster-dbt otherwise runs ``dbt --version`` in a subprocess
    before every invocation (~4 s, and a network look-up); the installed package already knows."""

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Groups by dbt layer (staging / intermediate / marts), kinds dbt + duckdb, eager automation."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        schema = dbt_resource_props.get("config", {}).get("schema")
        return schema or "dbt"

    def get_asset_spec(self, manifest, unique_id, project):  # type: ignore[override]
        spec = super().get_asset_spec(manifest, unique_id, project)
        # A raw-only materialization (e.g. a backfill launched on raw/api_fetched_papers from the
        # asset graph) brings the models up to date by itself; runs that already include dbt don't.
        return spec.merge_attributes(kinds={"duckdb"}).replace_attributes(
            automation_condition=FOLLOW_RAW)


class DbtBuildConfig(dg.Config):
    """``full_refresh``: rebuild every model from raw (done by itself when the models changed)."""

    full_refresh: bool = False


@dbt_assets(
    manifest=MANIFEST_PATH,
    project=dbt_project,
    dagster_dbt_translator=WarehouseDbtTranslator(),
    pool=WAREHOUSE_WRITER_POOL,
)
def warehouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: dg.ResourceParam[Warehouse],
                         config: DbtBuildConfig):
    """Builds (runs and tests) the selected dbt models and seeds in the warehouse: the loads after
    the last build (the change window, orchestration/ops/ledger.py), or everything when the dbt
    project changed since (a model, a seed such as the topic taxonomy, a var)."""
    code = project_md5()
    with warehouse.connect() as con:
        window = ledger.plan(con, ledger.DBT, code, full=config.full_refresh)
        current = not config.full_refresh and ledger.published_is_current(con, code)
    if current:
        # nothing arrived and the last build is published: no output, so the checks and publish skip too
        context.log.info("nothing new since the last published build: dbt, validation and publish skipped")
        return
    context.log.info(f"dbt takes in {window.reason}")
    # dbt runs its own DuckDB in a subprocess: hand back what the raw load and checks left behind first
    log_release(context.log, "before dbt", debug=warehouse.settings.memory_debug)
    args = ["build", "--full-refresh"] if window.full else ["build"]
    # the deployment's settings reach dbt as --vars (profiles.yml reads them); the window dbt reads
    # from the ledger itself (macros/incremental_state.sql)
    args += ["--vars", json.dumps(warehouse.settings.dbt_vars())]
    kept = warehouse.home.dbt_target
    target = seed_invocation_state(kept, kept / f"{context.run.run_id[:8]}-{uuid.uuid4().hex[:7]}")
    invocation = dbt.cli(args, context=context, target_path=target)
    yield from invocation.stream()
    keep_invocation_state(invocation.target_path, kept)
    if context.selected_asset_keys == context.assets_def.keys:
        # every model took the window in (a subset leaves the watermark: the next full build redoes it)
        with warehouse.connect() as con:
            ledger.advance(con, ledger.DBT, window, code, context.run.run_id)
            if window.full:  # every mart row was rewritten: validation takes everything in again
                ledger.forget(con, "validation:")


def model_key(model_name: str) -> dg.AssetKey:
    """The asset key of a dbt model (custom schemas are part of the key: use this, not a literal)."""
    from dagster_dbt import get_asset_key_for_model

    return get_asset_key_for_model([warehouse_dbt_models], model_name)
