"""The marts follow a raw update that did not rebuild them, exactly once, whatever else updated them
in the same automation tick (FOLLOW_RAW evaluated on a real instance)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.automation import BUILDS_MODELS, BUILDS_MODELS_TAGS, FOLLOW_RAW
from orchestration.definitions import defs as project_defs


@dg.asset
def raw() -> None:
    pass


@dg.asset(deps=[raw], automation_condition=FOLLOW_RAW)
def model() -> None:
    pass


@dg.asset(deps=[model], automation_condition=FOLLOW_RAW)
def published() -> None:
    pass


ASSETS = [raw, model, published]


class Ticks:
    """Successive ticks of the automation sensor over ``ASSETS`` on one instance, whose first tick
    comes after a first run built everything (Dagster compares later ticks' events to its last one)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance, self.cursor = instance, None
        materialize(instance, ASSETS, BUILDS_MODELS_TAGS)
        assert self.requested() == set()

    def requested(self) -> set[str]:
        result = dg.evaluate_automation_conditions(defs=ASSETS, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {a.key.to_user_string() for a in ASSETS if result.get_num_requested(a.key)}


def materialize(instance, selection, tags=None) -> None:
    assert dg.materialize(ASSETS, selection=selection, instance=instance, tags=tags).success


def test_runs_that_build_the_models_trigger_nothing():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, [raw, model, published], BUILDS_MODELS_TAGS)
        assert ticks.requested() == set()
        materialize(instance, [raw, model, published], BUILDS_MODELS_TAGS)
        materialize(instance, [raw, model, published], BUILDS_MODELS_TAGS)
        assert ticks.requested() == set()


def test_a_raw_only_run_requests_the_models_once():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, [raw])
        assert ticks.requested() == {"model", "published"}
        assert ticks.requested() == set()


def test_a_raw_only_run_is_followed_even_when_a_landing_run_built_the_models_in_the_same_tick():
    """The race of a backfill finishing while a landing run rebuilt the models: Dagster's eager()
    let the models' own update cancel the request, and the backfill never reached the marts."""
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        materialize(instance, [raw, model, published], BUILDS_MODELS_TAGS)
        assert ticks.requested() == set()
        materialize(instance, [raw, model, published], BUILDS_MODELS_TAGS)
        materialize(instance, [raw])  # the backfill wrote raw after the landing run's dbt step read it
        assert ticks.requested() == {"model", "published"}


def test_every_job_of_the_project_builds_the_models_and_says_so():
    """A job without the tag would have each of its runs followed by a redundant rebuild; one that
    carries it without building the models would leave its raw updates unfollowed."""
    models = {k for k in project_defs.resolve_all_asset_keys() if k.path[0] in ("staging", "intermediate", "marts")}
    jobs = [job for job in project_defs.resolve_all_job_defs() if not job.name.startswith("__")]
    assert {job.name for job in jobs} == {"ingest_landing", "fetch_api", "build_marts"}
    for job in jobs:
        assert models <= set(job.asset_layer.selected_asset_keys), job.name
        assert job.run_tags.get(BUILDS_MODELS) == "true", job.name
