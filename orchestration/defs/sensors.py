"""The landing sensor: stable new files in PAPERS_HOME/landing become a few batched runs.

The sensor never opens the warehouse (a reader would block the writer): its cursor remembers what it
saw and requested (see ``orchestration.warehouse.landing_watch``). Each run ingests its batch of
files; listing dates are checked by the run itself, so a bad date quarantines the file instead of
failing the tick.
"""

import os

import dagster as dg

from orchestration.defs.jobs import ingest_landing_job
from orchestration.warehouse.landing_watch import WatchSettings, plan_batches
from orchestration.warehouse.settings import papers_home

SENSOR_INTERVAL_SECONDS = int(os.environ.get("PAPERS_SENSOR_INTERVAL_SECONDS", "5"))


def watch_settings() -> WatchSettings:
    return WatchSettings(
        max_files=int(os.environ.get("PAPERS_SENSOR_MAX_FILES_PER_RUN", "5000")),
        settle_seconds=float(os.environ.get("PAPERS_LANDING_SETTLE_SECONDS", "30")),
    )


def batch_run_request(batch) -> dg.RunRequest:
    tags = {"papers/files": str(len(batch.files))}
    if batch.listing_dates:
        tags["papers/listing_dates"] = "..".join(batch.listing_dates)
    return dg.RunRequest(
        run_key=batch.run_key,
        run_config={"ops": {"landing_raw": {"config": {"files": list(batch.files)}}}},
        tags=tags,
    )


@dg.sensor(job=ingest_landing_job, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.RUNNING)
def landing_sensor(context: dg.SensorEvaluationContext):
    """Turns stable files dropped into PAPERS_HOME/landing into batched ingestion runs."""
    batches, cursor = plan_batches(papers_home().landing, context.cursor, watch_settings())
    context.update_cursor(cursor)
    if not batches:
        return dg.SkipReason("no new stable files in landing")
    return [batch_run_request(b) for b in batches]
