"""Write-audit-publish: the validated marts become the public, read-only copy in PAPERS_HOME/published.

``published_marts`` runs only after every public mart was built and its blocking Great Expectations
check passed in the same run; a failed check stops the run before it, leaving ``published/``
exactly as it was.
"""

import os
from datetime import timedelta

import dagster as dg

from orchestration.defs.automation import FOLLOW_RAW
from orchestration.defs.dbt_assets import model_key
from orchestration.defs.memory import log_release
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from orchestration.publish.quality import VIEWS as QUALITY_VIEWS
from orchestration.warehouse.marts import PUBLIC_MARTS
from orchestration.warehouse.publish import publish

FRESHNESS_HOURS = float(os.environ.get("PAPERS_PUBLISHED_FRESHNESS_HOURS", "26"))


@dg.asset(
    key=dg.AssetKey(["published", "marts"]),
    deps=[model_key(model) for model in (*PUBLIC_MARTS, *QUALITY_VIEWS)],
    group_name="published",
    kinds={"duckdb", "parquet"},
    pool=WAREHOUSE_WRITER_POOL,
    automation_condition=FOLLOW_RAW,
    # Fails in the UI when nothing was published for longer than this (e.g. every run failing validation).
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=FRESHNESS_HOURS),
                                                    warn_window=timedelta(hours=FRESHNESS_HOURS / 2)),
)
def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The public marts as a read-only DuckDB file (readable by DuckDB 1.4+) and Parquet files,
    swapped in as a whole at PAPERS_HOME/published. Point SQL clients and BI tools here."""
    home = warehouse.home
    log_release(context.log, "before publishing")  # what the checks left: publish runs DuckDB here
    result = publish(home.warehouse, home.published, tables=[f"marts.{m}" for m in PUBLIC_MARTS],
                     run_id=context.run.run_id)
    made = result.manifest.get("duckdb", {}).get("made", "")
    reused = sorted(t.split(".")[-1] for t, e in result.manifest.get("tables", {}).items() if e.get("reused"))
    context.log.info(f"published {len(result.tables)} marts to {result.release_dir} in {result.seconds:.2f} s "
                     f"(DuckDB file {made}; Parquet reused: {', '.join(reused) or 'none'})")
    return dg.MaterializeResult(metadata={
        "release": dg.MetadataValue.path(str(result.release_dir)),
        "published_at": result.published_at.isoformat(),
        "seconds": round(result.seconds, 3),
        "duckdb_file": made,  # written anew, copied from the previous release and patched, or linked
        "parquet_reused": len(reused),
        **{f"rows_{name.split('.')[-1]}": n for name, n in result.tables.items()},
    })

