"""The marts follow a raw update that did not rebuild them, with one whole build, whatever else
updated them in the same automation tick (FOLLOW_RAW evaluated on a real instance)."""

from __future__ import annotations

import threading

import dagster as dg

from orchestration.defs.automation import BUILDS_MODELS, BUILDS_MODELS_TAGS, FOLLOW_RAW
from orchestration.definitions import defs as project_defs


DAYS = dg.DailyPartitionsDefinition(start_date="2025-10-01", end_date="2025-10-05")


@dg.asset(key=["raw", "api_fetched_papers"], partitions_def=DAYS)
def api_raw() -> None:
    pass


@dg.asset(key=["raw", "landed_api_papers"])
def landed_api() -> None:
    pass


WRITING = threading.Event()  # set: raw/landed_page_cards is being written ...
WRITTEN = threading.Event()  # ... until this is set
WRITTEN.set()


@dg.asset(key=["raw", "landed_page_cards"])
def landed_cards() -> None:
    WRITING.set()
    assert WRITTEN.wait(60)


@dg.asset(deps=[api_raw, landed_api], automation_condition=FOLLOW_RAW)
def stg_api() -> None:
    pass


@dg.asset(deps=[landed_cards], automation_condition=FOLLOW_RAW)
def stg_cards() -> None:
    pass


@dg.asset(deps=[stg_api, stg_cards], automation_condition=FOLLOW_RAW)
def mart() -> None:
    pass


@dg.asset(deps=[mart], automation_condition=FOLLOW_RAW)
def published() -> None:
    pass


MODELS = [stg_api, stg_cards, mart, published]
LANDING = [landed_api, landed_cards, *MODELS]  # what a landing run materializes
ASSETS = [api_raw, landed_api, landed_cards, *MODELS]
EVERY_MODEL = {"stg_api", "stg_cards", "mart", "published"}


class Ticks:
    """Successive ticks of the automation sensor over ``ASSETS`` on one instance, whose first tick
    comes after a first run built everything (Dagster compares later ticks' events to its last one)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance, self.cursor = instance, None
        materialize(instance, LANDING, BUILDS_MODELS_TAGS)
        materialize(instance, [api_raw, *MODELS], BUILDS_MODELS_TAGS, partition="2025-10-01")
        assert self.requested() == set()

    def requested(self) -> set[str]:
        result = dg.evaluate_automation_conditions(defs=ASSETS, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {a.key.to_user_string() for a in ASSETS if result.get_num_requested(a.key)}


def materialize(instance, selection, tags=None, partition=None) -> None:
    assert dg.materialize(ASSETS, selection=selection, instance=instance, tags=tags, partition_key=partition).success


def test_runs_that_build_the_models_trigger_nothing():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, LANDING, BUILDS_MODELS_TAGS)
        assert ticks.requested() == set()
        materialize(instance, LANDING, BUILDS_MODELS_TAGS)
        materialize(instance, [api_raw, *MODELS], BUILDS_MODELS_TAGS, partition="2025-10-02")
        assert ticks.requested() == set()


def test_a_raw_only_run_requests_every_model_once_in_one_tick():
    """A backfill of the API raw table alone: the models that do not read it are requested too (one
    whole dbt build, not a subset that would leave them out of the change window)."""
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, [api_raw], partition="2025-10-03")
        assert ticks.requested() == EVERY_MODEL
        assert ticks.requested() == set()
        materialize(instance, [landed_cards])
        assert ticks.requested() == EVERY_MODEL


def test_a_raw_only_run_is_followed_even_when_a_landing_run_built_the_models_in_the_same_tick():
    """A backfill finishing while a landing run rebuilt the models: the models' update does not
    cancel the request."""
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, [api_raw], partition="2025-10-03")  # the backfill wrote raw ...
        materialize(instance, LANDING, BUILDS_MODELS_TAGS)  # ... while a landing run built the models
        assert ticks.requested() == EVERY_MODEL


def test_a_raw_table_last_written_by_a_run_that_then_built_the_models_needs_nothing():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, [api_raw], partition="2025-10-03")
        materialize(instance, [api_raw, *MODELS], BUILDS_MODELS_TAGS, partition="2025-10-03")
        assert ticks.requested() == set()


def test_a_date_range_fetch_run_that_built_the_models_needs_nothing():
    """`fetch_api` over 14 dates (the hourly refetch schedule): every date it wrote is its own."""
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        tags = {**BUILDS_MODELS_TAGS, "dagster/asset_partition_range_start": "2025-10-02",
                "dagster/asset_partition_range_end": "2025-10-04"}
        assert dg.materialize(ASSETS, selection=[api_raw, *MODELS], instance=instance, tags=tags).success
        assert ticks.requested() == set()


def test_a_raw_only_run_right_after_a_request_is_requested_again():
    """The run requested in the previous tick may have read raw before this update."""
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, [api_raw], partition="2025-10-03")
        assert ticks.requested() == EVERY_MODEL
        materialize(instance, [landed_cards])
        assert ticks.requested() == EVERY_MODEL
        assert ticks.requested() == set()


def test_the_request_waits_while_raw_is_being_written():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, [api_raw], partition="2025-10-03")
        WRITING.clear()
        WRITTEN.clear()
        writer = threading.Thread(target=materialize, args=(instance, [landed_cards]))
        try:
            writer.start()
            assert WRITING.wait(60)
            assert ticks.requested() == set()  # raw/landed_page_cards in progress
            assert ticks.requested() == set()
        finally:
            WRITTEN.set()
            writer.join(60)
        assert ticks.requested() == EVERY_MODEL  # both raw updates, in one request
        assert ticks.requested() == set()


def test_every_job_of_the_project_builds_the_models_and_says_so():
    """A job without the tag would have each of its runs followed by a redundant rebuild; one that
    carries it without building the models would leave its raw updates unfollowed."""
    models = {k for k in project_defs.resolve_all_asset_keys() if k.path[0] in ("staging", "intermediate", "marts")}
    jobs = [job for job in project_defs.resolve_all_job_defs() if not job.name.startswith("__")]
    assert {job.name for job in jobs} == {"ingest_landing", "fetch_api", "build_marts"}
    for job in jobs:
        assert models <= set(job.asset_layer.selected_asset_keys), job.name
        assert job.run_tags.get(BUILDS_MODELS) == "true", job.name
