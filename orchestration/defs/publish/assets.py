"""Write-audit-publish: the validated marts become the public, read-only copy in PAPERS_HOME/published.

``published_marts`` runs only after every public mart was built and its blocking Great Expectations
check passed in the same run; a failed check stops the run before it, leaving ``published/``
exactly as it was.
"""

from datetime import timedelta

import dagster as dg

from orchestration.defs.automation import FOLLOW_RAW
from orchestration.defs.dbt.assets import model_key
from orchestration.config import Settings
from orchestration.memory import log_release
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, Warehouse
from orchestration.ops import ledger
from orchestration.project import PUBLIC_MARTS
from orchestration.publish import publish
from orchestration.publish.quality import VIEWS as QUALITY_VIEWS

PUBLISHED_MARTS = dg.AssetKey(["published", "marts"])


def published_marts_asset(settings: Settings) -> dg.AssetsDefinition:
    """The publish asset (its freshness policy comes from ``settings.published_freshness_hours``)."""
    hours = settings.published_freshness_hours

    @dg.asset(
        key=PUBLISHED_MARTS,
        deps=[model_key(model) for model in (*PUBLIC_MARTS, *QUALITY_VIEWS)],
        group_name="published",
        kinds={"duckdb", "parquet"},
        pool=WAREHOUSE_WRITER_POOL,
        automation_condition=FOLLOW_RAW,
        # Fails in the UI when nothing was published for longer than this (e.g. every run failing validation).
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=hours),
                                                        warn_window=timedelta(hours=hours / 2)),
    )
    def published_marts(context: dg.AssetExecutionContext,
                         warehouse: dg.ResourceParam[Warehouse]) -> dg.MaterializeResult:
        """The public marts as a read-only DuckDB file (readable by DuckDB 1.4+) and Parquet files,
        swapped in as a whole at PAPERS_HOME/published. Point SQL clients and BI tools here."""
        home = warehouse.home
        log_release(context.log, "before publishing")  # what the checks left: publish runs DuckDB here
        with warehouse.connect() as con:  # what the published release holds, and what the marts hold
            since, built = ledger.published_through(con), ledger.read(con, ledger.DBT)
        result = publish(home.warehouse, home.published, tables=[f"marts.{m}" for m in PUBLIC_MARTS],
                         run_id=context.run.run_id, since=since, holds=built[0] if built else None,
                         memory_limit=warehouse.settings.duckdb_memory_limit)
        with warehouse.connect() as con:  # the release holds what dbt last built
            ledger.record_published(con)
        made = result.manifest.get("duckdb", {}).get("made", "")
        reused = sorted(t.split(".")[-1] for t, e in result.manifest.get("tables", {}).items() if e.get("reused"))
        files = [f for e in result.manifest.get("tables", {}).values() for f in e.get("files", {}).values()]
        written = sum(not f.get("reused") for f in files)
        steps = ", ".join(f"{k} {v:.2f}s" for k, v in result.steps.items())
        context.log.info(f"published {len(result.tables)} marts to {result.release_dir} in {result.seconds:.2f} s "
                         f"(DuckDB file {made}; Parquet files {written} written, {len(files) - written} reused; "
                         f"marts unchanged: {', '.join(reused) or 'none'}; {steps})")
        warehouse.report(context.log, f"publish: {len(result.tables)} marts -> {result.release_dir.name} "
                                      f"in {result.seconds:.1f} s")
        return dg.MaterializeResult(metadata={
            "release": dg.MetadataValue.path(str(result.release_dir)),
            "published_at": result.published_at.isoformat(),
            "seconds": round(result.seconds, 3),
            "duckdb_file": made,  # written anew, copied from the previous release and patched, or linked
            "parquet_reused": len(reused),  # marts whose every Parquet file is the previous release's
            "parquet_files_written": written,
            **{f"rows_{name.split('.')[-1]}": n for name, n in result.tables.items()},
        })

    return published_marts
