"""When the marts follow raw by themselves: after any raw update that did not already rebuild them.

Dagster's ``eager()`` waits until no upstream partition is missing, which never holds below a
daily-partitioned raw asset (most of its ~1,300 dates are never fetched), so the "deps missing"
clause is dropped. A run that already rebuilt the models (landing, `fetch_api`) does not trigger
another; a raw-only backfill launched from the asset graph triggers one follow-up run.
"""

import dagster as dg

FOLLOW_RAW = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing()).with_label(
    "eager, partly-missing partitioned deps allowed")

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30)
