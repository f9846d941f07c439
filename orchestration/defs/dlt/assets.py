"""dlt raw assets: landed files and API fetches into DuckDB schema ``raw`` (append-only).

The asset functions are thin: read landing / pick partition dates, run the dlt source through
dagster-dlt with a working folder per run, then settle the bookkeeping (registry, file moves).
"""

import shutil
import tempfile
from pathlib import Path
from datetime import date

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from orchestration.memory import log_release
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, Warehouse
from orchestration.sources.hf_api import (API_FETCHED_TABLE, FetchLimits, FetchOutcome, Fetched, fetch_dates,
                                          hf_api_source, redact)
from orchestration.sources.landing import RAW_DATASET, landing_source, raw_pipeline
from orchestration.defs.dlt.ingest import ingest_landing, repair
from orchestration.validation.audit import RawAudit
from orchestration.ops.bookkeeping import settle_fetches
from orchestration.ops.registry import status_counts
from orchestration.project import FIRST_LISTING_DATE
from orchestration.sql import schema_columns, table_exists

#: daily partitions of the API listing, from the listing's first day
listing_dates = dg.DailyPartitionsDefinition(start_date=FIRST_LISTING_DATE, timezone="UTC", end_offset=1)


API_FETCHES = dg.AssetKey(["api", "listing_fetches"])


class RawTableTranslator(DagsterDltTranslator):
    """Key each dlt resource as ``raw/<table>``: the same key dbt gives its source, so lineage joins."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        table = str(data.resource.table_name)
        return spec.replace_attributes(
            key=dg.AssetKey([RAW_DATASET, table]),
            deps=[API_FETCHES] if table == API_FETCHED_TABLE else [],
            kinds={"dlt", "duckdb"},
            metadata={**spec.metadata, "dagster/table_name": f"{RAW_DATASET}.{table}"},
        )


def _raw_assets(source, pipeline_name: str, name: str, **options):
    """The dlt assets of ``source``: its tables in group ``raw`` keyed ``raw/<table>``, run holding
    the warehouse writer slot. Their pipeline only describes the assets at import time; every run
    builds its own under PAPERS_HOME, with a working folder per run (``dlt_runs/<run id>``)."""
    definition = dlt.pipeline(pipeline_name=pipeline_name, destination="duckdb", dataset_name=RAW_DATASET,
                              pipelines_dir=str(Path(tempfile.gettempdir()) / "papers-dlt-definitions"))
    return dlt_assets(dlt_source=source, dlt_pipeline=definition, name=name, group_name="raw",
                      dagster_dlt_translator=RawTableTranslator(), pool=WAREHOUSE_WRITER_POOL, **options)


def _fetch(warehouse: Warehouse, dates: list[date], context):
    settings = warehouse.settings
    limits = FetchLimits(deadline_seconds=settings.api_deadline_seconds,
                         max_retry_after_seconds=settings.api_max_retry_after_seconds)
    warehouse.report(context.log, f"api: fetching {len(dates)} listing date(s) from {redact(settings.api_base_url)}")
    return fetch_dates(dates, settings.api_base_url, limits, progress=_FetchProgress(warehouse, context))


def _with_metadata(con, results, extra: dict) -> list[dg.MaterializeResult]:
    """dlt's results with the table's real name (``raw.<table>``, dlt would say ``duckdb.<source>.<table>``),
    its row count and ``extra``."""
    tables = schema_columns(con, RAW_DATASET)
    described = []
    for r in results:
        table = r.asset_key.path[-1]
        metadata = {**(r.metadata or {}), "dagster/table_name": f"{RAW_DATASET}.{table}"}
        if table in tables:
            metadata["dagster/row_count"] = con.execute(f'select count(*) from {RAW_DATASET}."{table}"').fetchone()[0]
        described.append(dg.MaterializeResult(asset_key=r.asset_key, metadata={**metadata, **extra}))
    return described


class LandingConfig(dg.Config):
    """Which landing files to ingest: the named ones (the sensor's batch), or all when empty."""

    files: list[str] = []


@_raw_assets(landing_source(), "landing", "landing_raw")
def landing_raw(context: dg.AssetExecutionContext, dlt: DagsterDltResource,
                warehouse: dg.ResourceParam[Warehouse], config: LandingConfig):
    """Snapshot files from PAPERS_HOME/landing: parsed, loaded to raw, then archived or quarantined."""
    home, run_id = warehouse.home, context.run.run_id
    with warehouse.connect() as con:
        run = ingest_landing(con, home, run_id, lambda source, pipeline: list(dlt.run(
            context=context, dlt_source=source, dlt_pipeline=pipeline)), context.log, config.files or None,
            report=lambda line: warehouse.report(context.log, line))
        counts = status_counts(con, run_id)
        results = _with_metadata(con, run.loaded, {f"files_{status}": n for status, n in counts.items()})
    shutil.rmtree(home.dlt_runs / run_id, ignore_errors=True)  # the run's dlt folder: scratch once committed
    del run  # the intake's batches: give their memory back before the next steps
    log_release(context.log, "after the raw load")
    _tag_quarantines(context, counts["quarantined"])
    yield from results


class _FetchProgress:
    """One progress line per fetched date; dates that fail like the one before, or were not tried
    because the API could not be reached, are only logged (an unreachable API gives one line)."""

    def __init__(self, warehouse: Warehouse, context) -> None:
        self.warehouse, self.context, self.last_problem = warehouse, context, None

    def __call__(self, got: Fetched) -> None:
        state = ("not fetched: " + (got.problem or "") if got.failed else
                 f"fetched, {len(got.pages)} page(s)" if got.pages is not None else
                 "fetched, rejected body: " + (got.problem or ""))
        line = f"api: {got.listing_date} {state}"
        if got.failed and (got.problem == self.last_problem or (got.problem or "").startswith("not tried:")):
            self.context.log.info(line)
        else:
            self.warehouse.report(self.context.log, line)
        self.last_problem = got.problem if got.failed else None


@dg.asset(
    key=API_FETCHES,
    group_name="api",
    partitions_def=listing_dates,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"python"},
)
def api_listing_fetches(context: dg.AssetExecutionContext,
                        warehouse: dg.ResourceParam[Warehouse]) -> dg.MaterializeResult:
    """Daily Papers listings fetched from the HF API, one partition per listing date, kept in
    PAPERS_HOME/fetched/<run>.jsonl for raw/api_fetched_papers to load in the same run.

    This step never opens the warehouse and holds no writer slot: however long the API makes it wait
    (each date within PAPERS_API_DEADLINE_SECONDS), landing runs go on.
    """
    home, run_id = warehouse.home, context.run.run_id
    dates = [date.fromisoformat(key) for key in context.partition_keys]
    path = home.fetched / f"{run_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with path.open("w", encoding="utf-8") as out:
        for got in _fetch(warehouse, dates, context):
            out.write(got.to_json() + "\n")
            failed += got.failed
    return dg.MaterializeResult(metadata={"dates": len(dates), "dates_failed": failed})


@_raw_assets(hf_api_source(), "hf_api", "hf_api_raw",
             partitions_def=listing_dates, backfill_policy=dg.BackfillPolicy.single_run())
def hf_api_raw(context: dg.AssetExecutionContext, dlt: DagsterDltResource, warehouse: dg.ResourceParam[Warehouse]):
    """Daily Papers listings from the HF API loaded into raw, one partition per listing date.

    A backfill over a range is one run: every date of the range is fetched once, in one dlt load.
    What api/listing_fetches fetched in this run is loaded; when that step is not part of the run
    (this asset materialized alone), the dates are fetched here first — the warehouse is opened only
    afterwards, but this step's writer slot is held meanwhile (each date within its deadline).
    """
    home, run_id = warehouse.home, context.run.run_id
    dates = [date.fromisoformat(key) for key in context.partition_keys]
    outcomes: list[FetchOutcome] = []
    path = home.fetched / f"{run_id}.jsonl"
    fetched = ([Fetched.from_json(line) for line in path.read_text(encoding="utf-8").splitlines()]
               if path.exists() else
               list(_fetch(warehouse, dates, context)))
    with warehouse.connect() as con:
        repair(context.log, con, home, run_id)
        already = frozenset(r[0] for r in con.execute(
            "select snapshot_id from ops.snapshot_files where status = 'loaded' and source = 'api' "
            "and listing_date in (select unnest(?::date[]))", [dates],
        ).fetchall()) if table_exists(con, "ops.snapshot_files") else frozenset()
        audit = RawAudit(con)
        source = hf_api_source(fetched, already_loaded=already, outcomes=outcomes, audit=audit)
        loaded = list(dlt.run(context=context, dlt_source=source,
                              dlt_pipeline=raw_pipeline("hf_api", con, home.dlt_runs / run_id)))
        audit.finish(run_id=run_id, report_dir=home.reports)
        settle_fetches(con, outcomes, home, run_id)
        counts = status_counts(con, run_id)
        results = _with_metadata(con, loaded, {"dates": len(dates), **{f"fetches_{s}": n for s, n in counts.items()}})
    shutil.rmtree(home.dlt_runs / run_id, ignore_errors=True)
    path.unlink(missing_ok=True)
    for fetch in outcomes:
        context.log.info(f"{fetch.listing_date}: {fetch.status}, {fetch.rows} rows over {fetch.pages} page(s)"
                         + (f" ({fetch.reason})" if fetch.reason else ""))
    failed = [fetch for fetch in outcomes if fetch.failed]
    warehouse.report(context.log, f"api: {len(outcomes)} listing date(s): {counts['loaded']} loaded, "
                                  f"{counts['duplicate']} duplicate, "
                                  f"{counts['quarantined'] - len(failed)} quarantined, {len(failed)} not fetched")
    _tag_quarantines(context, counts["quarantined"] - len(failed), len(failed))
    if outcomes and len(failed) == len(outcomes):
        # nothing came: building the marts again would only validate what they already hold
        raise dg.Failure(description=f"no listing date could be fetched ({len(failed)} asked for): "
                                     + failed[0].reason.removeprefix("fetch failed: "),
                         metadata={"dates_not_fetched": len(failed)})
    log_release(context.log, "after the raw load")
    yield from results


def _tag_quarantines(context, quarantined: int, not_fetched: int = 0) -> None:
    """Mark the run itself (its tags show in the run list and on the run page) when it quarantined
    files or could not fetch dates: the run succeeds, but someone should look."""
    tags = {name: str(n) for name, n in (("papers/quarantined", quarantined), ("papers/not_fetched", not_fetched)) if n}
    if tags:
        context.instance.add_run_tags(context.run.run_id, tags)

