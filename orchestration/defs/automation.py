"""When the marts follow raw by themselves: after a raw update made by a run that did not rebuild them.

Every job that rebuilds the models after writing raw (landing, `fetch_api`, `build_marts`) tags its
runs ``BUILDS_MODELS``; a raw table whose latest update came from such a run needs nothing more (the
run's dbt step read it, and every earlier write). An update from any other run — a raw-only backfill
launched from the asset graph — requests one run of every model and the publish step once no raw
table is being written. Every model carries the same condition, on the raw tables rather than on its
own parents, so all of them are requested in the same tick: one dbt build of the whole project (a
partial one would leave models out of the change window). The request is remembered until it is
made: unlike Dagster's ``eager()``, a model update by a landing run in the same tick does not cancel
it.
"""

import functools
import operator

import dagster as dg

from orchestration.ops.ledger import RAW_TABLES

BUILDS_MODELS = "papers/builds_models"
BUILDS_MODELS_TAGS = {BUILDS_MODELS: "true"}
RAW_KEYS = [dg.AssetKey(["raw", table]) for table in RAW_TABLES]

_updated_without_models = (
    dg.AutomationCondition.newly_updated()
    & ~dg.AutomationCondition.executed_with_root_target()
    & ~dg.AutomationCondition.executed_with_tags(tag_keys={BUILDS_MODELS})
).with_label("updated by a run that did not rebuild the models")


def _any_raw(condition: dg.AutomationCondition) -> dg.AutomationCondition:
    return functools.reduce(operator.or_, [dg.AutomationCondition.asset_matches(key, condition) for key in RAW_KEYS])


FOLLOW_RAW = (
    _any_raw(_updated_without_models)
    .since(dg.AutomationCondition.newly_requested() | dg.AutomationCondition.initial_evaluation())
    & ~_any_raw(dg.AutomationCondition.in_progress())
).with_label("follow raw updates that did not rebuild the models")

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30)
