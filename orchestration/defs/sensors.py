"""The landing sensor: stable new files in PAPERS_HOME/landing become a few batched runs.

The sensor never opens the warehouse (a reader would block the writer): its cursor remembers what it
saw and requested (see ``orchestration.sources.landing_plan``). Each run ingests its batch of
files; listing dates are checked by the run itself, so a bad date quarantines the file instead of
failing the tick.
"""

import dagster as dg

from orchestration.config import Settings
from orchestration.defs.jobs import ingest_landing_job
from orchestration.sources.landing_plan import WatchSettings, plan_batches


def landing_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sensor watching ``settings.home``'s landing folder."""
    landing = settings.layout.landing
    watch = WatchSettings(max_files=settings.sensor_max_files_per_run, settle_seconds=settings.landing_settle_seconds)

    @dg.sensor(job=ingest_landing_job, minimum_interval_seconds=settings.sensor_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING, name="landing_sensor")
    def _sensor(context: dg.SensorEvaluationContext):
        """Turns stable files dropped into PAPERS_HOME/landing into batched ingestion runs."""
        batches, cursor = plan_batches(landing, context.cursor, watch)
        context.update_cursor(cursor)
        if not batches:
            return dg.SkipReason(f"no new stable files in {landing}")
        return [dg.RunRequest(run_key=batch.run_key,
                              run_config={"ops": {"landing_raw": {"config": {"files": list(batch.files)}}}},
                              tags={"papers/files": str(len(batch.files)),
                                    **({"papers/listing_dates": "..".join(batch.listing_dates)}
                                       if batch.listing_dates else {})})
                for batch in batches]

    return _sensor
