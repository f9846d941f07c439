"""Great Expectations suites as blocking Dagster asset checks.

Raw checks validate the rows the run just added; a snapshot whose rows fail is taken back out of
raw and quarantined (so bad data never reaches the marts) and the check fails, which stops the run
before dbt. Mart checks validate each public mart after dbt builds it: the rows affected since the
mart's last passing validation (orchestration/validation/scope.py; everything on the first run),
plus whole-table DuckDB aggregates for the expectations about the whole table (key uniqueness,
row count). A passing check advances the mart's watermark in ops.validation_watermarks; a failing
one does not, so the next run validates those rows again.
"""


import dagster as dg

from orchestration.defs.dbt_assets import model_key
from orchestration.defs.memory import log_release
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from orchestration.validation.runner import SuiteTarget, validate
from orchestration.validation.scope import plan_mart_targets, record_watermarks
from orchestration.warehouse.bookkeeping import loaded_in_run, reject_loaded_snapshots
from orchestration.warehouse.marts import PUBLIC_MARTS

RAW_SUITES = {
    # raw table -> (suite, format of the snapshots it holds, source)
    "landed_api_papers": ("raw_api_papers", "api_json", "landing"),
    "landed_page_cards": ("raw_page_cards", "page_text", "landing"),
    "api_fetched_papers": ("raw_api_papers", "api_json", "api"),
}
CHECK_NAME = "great_expectations"
RUN_SNAPSHOTS = "papers_run_snapshots"  # temporary tables: the snapshot ids a run loaded, per raw table


def _raw_spec(table: str) -> dg.AssetCheckSpec:
    suite = RAW_SUITES[table][0]
    return dg.AssetCheckSpec(
        CHECK_NAME, asset=dg.AssetKey(["raw", table]), blocking=True,
        description=f"GX suite expectations/{suite}.json on the rows this run added",
    )


def _check_result(outcome, key: dg.AssetKey, extra: dict | None = None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=("all expectations met" if outcome.success
                     else "failed: " + "; ".join(outcome.failed_expectations)),
        metadata={
            "suite": outcome.suite,
            "rows_validated": outcome.rows,
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": outcome.failed,
            "failed_expectations": dg.MetadataValue.json(list(outcome.failed_expectations)),
            "rows_scope": outcome.scope,
            "columns_fetched": len(outcome.columns),
            "frames_validated": outcome.chunks,  # GX checks at most PAPERS_VALIDATION_CHUNK_ROWS rows a frame
            "seconds_fetch": round(outcome.fetch_seconds, 3),
            "seconds_gx": round(outcome.gx_seconds, 3),
            "seconds_sql": round(outcome.sql_seconds, 3),
            **(extra or {}),
        },
    )


def _validate_raw(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, tables: list[str]):
    home, run_id = warehouse.home, context.run.run_id
    with warehouse.connect() as con:
        targets: list[tuple[str, SuiteTarget]] = []
        for table in tables:
            suite, fmt, source = RAW_SUITES[table]
            ids = loaded_in_run(con, run_id, fmt=fmt, source=source)
            # The run's snapshot ids go to a temporary table (of this connection) rather than into
            # the SQL text: validation runs several queries per target (chunks, DuckDB checks), and
            # DuckDB takes ~0.1 s to bind each with 16,000 quoted ids (a 1M-record run).
            ids_table = f"temp.main.{RUN_SNAPSHOTS}_{table}"
            con.execute(f"create or replace temp table {RUN_SNAPSHOTS}_{table} as "
                        "select unnest(?::varchar[]) as snapshot_id", [ids])
            where = f"snapshot_id in (select snapshot_id from {ids_table})" if ids else "false"
            targets.append((table, SuiteTarget(
                suite=suite, table=f"raw.{table}", where=where, key_column="snapshot_id",
                scope=f"the {len(ids)} snapshot(s) this run loaded")))
        outcomes = validate(con, [t for _, t in targets], run_id=run_id, report_dir=home.reports)
        for table in tables:
            con.execute(f"drop table if exists temp.main.{RUN_SNAPSHOTS}_{table}")
        for (table, _), outcome in zip(targets, outcomes):
            extra = {}
            if not outcome.success:
                reason = (f"failed validation (suite {outcome.suite}): "
                          + "; ".join(outcome.failed_expectations))
                moved = reject_loaded_snapshots(con, outcome.failing_keys, reason, home)
                context.log.error(f"raw.{table}: {reason}; quarantined {sorted(outcome.failing_keys)}")
                extra = {"quarantined_snapshots": dg.MetadataValue.json(sorted(outcome.failing_keys)),
                         "quarantined_files": dg.MetadataValue.json(moved)}
            yield _check_result(outcome, dg.AssetKey(["raw", table]), extra)
    log_release(context.log, "after the raw checks")


@dg.multi_asset_check(
    specs=[_raw_spec("landed_api_papers"), _raw_spec("landed_page_cards")],
    pool=WAREHOUSE_WRITER_POOL,
    can_subset=True,
)
def landing_raw_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Validate the landed rows this run added; quarantine snapshots that fail."""
    tables = [key.asset_key.path[-1] for key in context.selected_asset_check_keys]
    yield from _validate_raw(context, warehouse, tables)


@dg.multi_asset_check(specs=[_raw_spec("api_fetched_papers")], pool=WAREHOUSE_WRITER_POOL)
def api_raw_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Validate the fetched rows this run added; quarantine fetches that fail."""
    yield from _validate_raw(context, warehouse, ["api_fetched_papers"])


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(CHECK_NAME, asset=model_key(mart), blocking=True,
                          description=f"GX suite expectations/{mart}.json on marts.{mart}")
        for mart in PUBLIC_MARTS
    ],
    pool=WAREHOUSE_WRITER_POOL,
    can_subset=True,
)
def mart_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Validate each selected public mart with its suite: the rows affected since its last passing
    validation, and whole-table aggregates (see orchestration/validation/scope.py)."""
    selected = {key.asset_key: key for key in context.selected_asset_check_keys}
    marts = [m for m in PUBLIC_MARTS if model_key(m) in selected]
    run_id = context.run.run_id
    with warehouse.connect() as con:
        scopes = plan_mart_targets(con, marts)
        outcomes = validate(con, [s.target for s in scopes], run_id=run_id,
                            report_dir=warehouse.home.reports)
        advanced = set(record_watermarks(con, scopes, outcomes, run_id=run_id))
    log_release(context.log, "after the mart checks")
    for scope, outcome in zip(scopes, outcomes):
        watermark = scope.new_watermark.isoformat() if scope.new_watermark else None
        yield _check_result(outcome, model_key(scope.mart), {
            "validation_watermark": (watermark if outcome.table in advanced
                                     else "not advanced"),
        })
