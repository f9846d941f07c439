"""Wire assets, checks, jobs, sensors and resources into one Definitions object for one Settings."""

from collections.abc import Callable

import dagster as dg
from dagster_dlt import DagsterDltResource

from orchestration.config import Settings
from orchestration.defs.automation import automation_sensor
from orchestration.defs.dbt.assets import warehouse_dbt_models
from orchestration.defs.dlt.assets import api_listing_fetches, hf_api_raw, landing_raw
from orchestration.defs.jobs import build_marts_job, fetch_api_job, ingest_landing_job
from orchestration.defs.publish.assets import published_marts_asset
from orchestration.defs.resources import Warehouse
from orchestration.defs.schedules import rolling_refetch_schedule
from orchestration.defs.sensors import landing_sensor
from orchestration.defs.validation.checks import api_raw_checks, landing_raw_checks, mart_checks


def build_definitions(settings: Settings, progress: Callable[[str], None] | None = None) -> dg.Definitions:
    """All definitions, for the deployment ``settings`` describe (its home, API, bounds, schedules);
    ``progress`` receives the runs' one-line progress reports (see :class:`Warehouse`)."""
    return dg.Definitions(
        assets=[landing_raw, api_listing_fetches, hf_api_raw, warehouse_dbt_models, published_marts_asset(settings)],
        asset_checks=[landing_raw_checks, api_raw_checks, mart_checks],
        jobs=[ingest_landing_job, fetch_api_job, build_marts_job],
        sensors=[landing_sensor(settings), automation_sensor(settings)],
        schedules=[rolling_refetch_schedule(settings)],
        resources={"warehouse": Warehouse(settings, progress), "dlt": DagsterDltResource()},
        executor=dg.in_process_executor,
    )
