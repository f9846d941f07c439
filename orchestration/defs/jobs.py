"""Jobs: what a run materializes. Steps share one DuckDB file, so they run in-process, one at a time
(the executor of the Definitions, orchestration/defs/definitions.py)."""

import dagster as dg

from orchestration.defs.automation import BUILDS_MODELS_TAGS
from orchestration.defs.dbt.assets import warehouse_dbt_models
from orchestration.defs.publish.assets import PUBLISHED_MARTS
from orchestration.defs.dlt.assets import api_listing_fetches, hf_api_raw, landing_raw

# dbt models, then the publish step that runs only once their blocking checks passed.
dbt_models = dg.AssetSelection.assets(warehouse_dbt_models, PUBLISHED_MARTS)

ingest_landing_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets(landing_raw) | dbt_models,
    description="Landing files -> raw -> dbt marts -> Great Expectations -> published (the main job: `papers run`).",
    tags=BUILDS_MODELS_TAGS,
)

fetch_api_job = dg.define_asset_job(
    "fetch_api",
    selection=dg.AssetSelection.assets(api_listing_fetches, hf_api_raw) | dbt_models,
    description="Fetch API listing dates (a date range is one run; no writer slot held while fetching) -> raw -> "
                "dbt marts (once per run) -> published. A run that could fetch no date fails, naming the cause.",
    # each date's fetch already retries within its deadline: a run that failed at a step is not
    # started again (a run whose worker died still is)
    tags={**BUILDS_MODELS_TAGS, "dagster/retry_on_asset_or_op_failure": "false"},
)

build_marts_job = dg.define_asset_job(
    "build_marts",
    selection=dbt_models,
    description="Rebuild, validate and publish the dbt models from what raw holds.",
    tags=BUILDS_MODELS_TAGS,
)
