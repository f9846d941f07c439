"""The rolling re-fetch: listings grow and upvotes rise for ~2 weeks, so recent dates are re-fetched.

Every hour (``PAPERS_REFETCH_CRON``) one run fetches the last ``PAPERS_REFETCH_DAYS`` listing dates
(default 14) — a single run over the partition range — and rebuilds the marts once. Each fetch is a
new observation; an unchanged listing is a duplicate and adds nothing.
"""

import os
from datetime import date, timedelta

import dagster as dg

from orchestration.defs.jobs import fetch_api_job
from orchestration.warehouse.settings import FIRST_LISTING_DATE

REFETCH_CRON = os.environ.get("PAPERS_REFETCH_CRON", "0 * * * *")
REFETCH_DAYS = int(os.environ.get("PAPERS_REFETCH_DAYS", "14"))


def rolling_window(today: date, days: int = REFETCH_DAYS) -> tuple[date, date]:
    """The last ``days`` listing dates up to ``today`` (never before the listing's first day)."""
    first = date.fromisoformat(FIRST_LISTING_DATE)
    return max(first, today - timedelta(days=days - 1)), today


def partition_range_tags(start: date, end: date) -> dict[str, str]:
    """Tags that make one run cover a range of listing-date partitions (a single-run backfill)."""
    return {"dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat()}


@dg.schedule(job=fetch_api_job, cron_schedule=REFETCH_CRON, execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def rolling_refetch_schedule(context: dg.ScheduleEvaluationContext):
    """Re-fetch the recent listing dates from the API in one run."""
    start, end = rolling_window(context.scheduled_execution_time.date())
    return dg.RunRequest(tags={**partition_range_tags(start, end), "papers/trigger": "rolling_refetch"})
