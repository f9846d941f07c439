"""When the marts follow raw by themselves: after a raw update made by a run that did not rebuild them.

Every job that rebuilds the models itself (landing, `fetch_api`, `build_marts`) tags its runs
``BUILDS_MODELS``; updates from those runs never trigger a follow-up. An update from any other run (a
raw-only backfill launched from the asset graph) requests one run of the models and the publish
step, once no dependency is in progress. The request is remembered until it is made: unlike
Dagster's ``eager()``, a model update by a landing run evaluated in the same tick does not cancel it
(that run may have read raw before the backfill wrote it). Partly missing partitioned deps are
allowed (most of the ~1,300 dates of the daily-partitioned raw asset are never fetched).
"""

import dagster as dg

BUILDS_MODELS = "papers/builds_models"
BUILDS_MODELS_TAGS = {BUILDS_MODELS: "true"}

_updated_without_models = (
    dg.AutomationCondition.newly_updated()
    & ~dg.AutomationCondition.executed_with_root_target()
    & ~dg.AutomationCondition.all_new_updates_have_run_tags(tag_keys={BUILDS_MODELS})
).with_label("updated by a run that did not build this")

FOLLOW_RAW = (
    dg.AutomationCondition.any_deps_match(_updated_without_models | dg.AutomationCondition.will_be_requested())
    .since(dg.AutomationCondition.newly_requested() | dg.AutomationCondition.initial_evaluation())
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("follow raw updates that did not build the models")

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30)
