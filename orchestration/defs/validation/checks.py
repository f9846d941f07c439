"""Great Expectations suites as Dagster asset checks.

Raw checks report the audit of the run's parsed batches (orchestration/validation/audit.py): a
snapshot that broke its raw suite was quarantined and never reached raw, so the check warns (it does
not block: what raw holds passed) and names every snapshot the run quarantined for that table,
whatever the reason (a parse error too). Mart checks validate each public mart after dbt builds it:
the rows affected since the mart's last passing validation (orchestration/validation/scope.py). A
passing check advances the mart's watermark in the change ledger (ops.watermarks); a failing one
does not, so the next run validates those rows again.
"""

import json

import dagster as dg

from orchestration.defs.dbt.assets import model_key
from orchestration.memory import log_release
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, Warehouse
from orchestration.validation.runner import validate
from orchestration.validation.scope import plan_mart_targets, record_watermarks
from orchestration.project import PUBLIC_MARTS
from orchestration.snapshots.schemas import RAW_TABLES
from orchestration.sql import table_exists

CHECK_NAME = "great_expectations"


def _raw_spec(table: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME, asset=dg.AssetKey(["raw", table]), blocking=False,
        description=f"GX suite expectations/{RAW_TABLES[table].suite}.json on every batch this run parsed, "
                    "before loading (snapshots that break it are quarantined, never loaded)",
    )


def _quarantined(con, run_id: str, table: str) -> list[dict]:
    """What this run quarantined (or could not fetch) that was meant for ``table``, with the reasons."""
    if not table_exists(con, "ops.snapshot_files"):
        return []
    source, fmt = RAW_TABLES[table].source, RAW_TABLES[table].format
    formats = (fmt, None) if fmt == "api_json" else (fmt,)  # a file of no recognised format: with the API files
    rows = con.execute(
        "select source_uri, format, reason from ops.snapshot_files where run_id = ? and status = 'quarantined' "
        "and source = ? order by source_uri", [run_id, source]).fetchall()
    return [{"file": uri, "reason": reason} for uri, fmt, reason in rows if fmt in formats]


def _report_raw(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, tables: list[str]):
    """The audit this run recorded for each raw table, and what it quarantined: a WARN naming the
    files (and dates not fetched) whenever there are any, whatever the reason."""
    run_id = context.run.run_id
    nothing = "nothing parsed for this table in this run"
    with warehouse.connect() as con:
        recorded = table_exists(con, "ops.validation_results")
        audits = [(table, con.execute(
            "select suite, evaluated, failed, success, failed_expectations, rows, scope from ops.validation_results "
            "where run_id = ? and table_name = ? order by validated_at desc limit 1",
            [run_id, f"raw.{table}"]).fetchone() if recorded else None, _quarantined(con, run_id, table))
            for table in tables]
    for table, row, held in audits:
        suite, evaluated, failed, success, expectations, n, scope = row or (
            RAW_TABLES[table].suite, 0, 0, True, "[]", 0, nothing)
        problems = ([f"{len(held)} quarantined: " + "; ".join(f"{q['file']} ({q['reason']})" for q in held)]
                    if held else []) + ([f"suite: {'; '.join(json.loads(expectations))}"] if not success else [])
        yield dg.AssetCheckResult(
            asset_key=dg.AssetKey(["raw", table]), check_name=CHECK_NAME, passed=bool(success) and not held,
            severity=dg.AssetCheckSeverity.WARN,
            description=(" | ".join(problems)[:2000] if problems else
                         "all expectations met" if row else nothing),
            metadata={"suite": suite, "rows_validated": n, "expectations_evaluated": evaluated,
                      "expectations_failed": failed, "rows_scope": scope,
                      "quarantined_files": dg.MetadataValue.json(held)},
        )


@dg.multi_asset_check(
    specs=[_raw_spec("landed_api_papers"), _raw_spec("landed_page_cards")],
    pool=WAREHOUSE_WRITER_POOL,
    can_subset=True,
)
def landing_raw_checks(context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse]):
    """The audit of the landed files this run parsed."""
    yield from _report_raw(context, warehouse, [key.asset_key.path[-1] for key in context.selected_asset_check_keys])


@dg.multi_asset_check(specs=[_raw_spec("api_fetched_papers")], pool=WAREHOUSE_WRITER_POOL)
def api_raw_checks(context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse]):
    """The audit of the listings this run fetched."""
    yield from _report_raw(context, warehouse, ["api_fetched_papers"])


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(CHECK_NAME, asset=model_key(mart), blocking=True,
                          description=f"GX suite expectations/{mart}.json on marts.{mart}")
        for mart in PUBLIC_MARTS
    ],
    pool=WAREHOUSE_WRITER_POOL,
    can_subset=True,
)
def mart_checks(context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse]):
    """Validate each selected public mart with its suite: the rows affected since its last passing
    validation (see orchestration/validation/scope.py)."""
    selected = {key.asset_key for key in context.selected_asset_check_keys}
    marts = [m for m in PUBLIC_MARTS if model_key(m) in selected]
    run_id = context.run.run_id
    warehouse.report(context.log, f"validation: checking {len(marts)} mart(s) with Great Expectations")
    with warehouse.connect() as con:
        scopes = plan_mart_targets(con, marts)
        outcomes = validate(con, [s.target for s in scopes], run_id=run_id,
                            report_dir=warehouse.home.reports,
                            chunk_rows=warehouse.settings.validation_chunk_rows)
        advanced = set(record_watermarks(con, scopes, outcomes, run_id=run_id))
    log_release(context.log, "after the mart checks")
    failed = [o.table for o in outcomes if not o.success]
    warehouse.report(context.log, f"validation: {len(outcomes) - len(failed)}/{len(outcomes)} mart suite(s) passed"
                                  + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    for scope, o in zip(scopes, outcomes):
        yield dg.AssetCheckResult(
            asset_key=model_key(scope.mart), check_name=CHECK_NAME, passed=o.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description="all expectations met" if o.success else "failed: " + "; ".join(o.failed_expectations),
            metadata={
                "suite": o.suite,
                "rows_validated": o.rows,
                "expectations_evaluated": o.evaluated,
                "expectations_failed": o.failed,
                "failed_expectations": dg.MetadataValue.json(list(o.failed_expectations)),
                "rows_scope": o.scope,
                "columns_fetched": len(o.columns),
                "frames_validated": o.chunks,  # GX checks at most PAPERS_VALIDATION_CHUNK_ROWS rows a frame
                "seconds_fetch": round(o.fetch_seconds, 3),
                "seconds_gx": round(o.gx_seconds, 3),
                "validated_through_load": scope.window.loaded_through if o.table in advanced else "not advanced",
            },
        )
