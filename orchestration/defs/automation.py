"""When the marts follow raw by themselves: after a raw update made by a run that did not rebuild them.

Every job that rebuilds the models after writing raw (landing, `fetch_api`, `build_marts`) tags its
runs ``BUILDS_MODELS``; raw updates from such runs need nothing more (the run's dbt step reads them,
and every earlier write). A raw update from any other run — a raw-only backfill launched from the
asset graph, or raw and some models materialized together from the UI — requests one run of every
model and the publish step, once no raw table is being written. Every model carries the same
condition, on the raw tables rather than on its own parents, so all of them are requested in the
same tick: one whole dbt build. A request stays pending until it is made, and a raw update seen in
the tick after a request is requested again (the queued run may have read raw before it).
"""

import functools
import operator

import dagster as dg

from orchestration.config import Settings
from orchestration.ops.ledger import RAW_TABLES

BUILDS_MODELS = "papers/builds_models"
BUILDS_MODELS_TAGS = {BUILDS_MODELS: "true"}
RAW_KEYS = [dg.AssetKey(["raw", table]) for table in RAW_TABLES]

# not by a model-building run: neither every new update of this raw table (judged per partition: a
# date-range `fetch_api` run writes many) nor its latest one came from a tagged run
_updated_without_models = (
    dg.AutomationCondition.newly_updated()
    & ~dg.AutomationCondition.all_new_updates_have_run_tags(tag_keys={BUILDS_MODELS})
    & ~dg.AutomationCondition.executed_with_tags(tag_keys={BUILDS_MODELS})
).with_label("updated by a run that did not rebuild the models")


def _any_raw(condition: dg.AutomationCondition) -> dg.AutomationCondition:
    return functools.reduce(operator.or_, [dg.AutomationCondition.asset_matches(key, condition) for key in RAW_KEYS])


_RAW_UPDATED = _any_raw(_updated_without_models)

FOLLOW_RAW = (
    _RAW_UPDATED.since((dg.AutomationCondition.newly_requested() & ~_RAW_UPDATED)
                       | dg.AutomationCondition.initial_evaluation())
    & ~_any_raw(dg.AutomationCondition.in_progress())
).with_label("follow raw updates that did not rebuild the models")


def automation_sensor(settings: Settings) -> dg.AutomationConditionSensorDefinition:
    """The sensor evaluating every asset's automation condition, every ``automation_interval_seconds``."""
    return dg.AutomationConditionSensorDefinition(
        "automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.automation_interval_seconds)
