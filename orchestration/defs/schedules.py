"""The rolling re-fetch: listings grow and upvotes rise for ~2 weeks, so recent dates are re-fetched.

On ``settings.refetch_cron`` (default hourly) one run fetches the last ``settings.refetch_days``
listing dates (default 14) — a single run over the partition range — and rebuilds the marts once.
It needs the network; ``settings.refetch_enabled`` decides whether it starts running.
Each fetch is a new observation; an unchanged listing is a duplicate and adds nothing.
"""

from datetime import date, timedelta

import dagster as dg

from orchestration.config import Settings
from orchestration.defs.jobs import fetch_api_job
from orchestration.project import FIRST_LISTING_DATE
from orchestration.sources.hf_api import redact


def rolling_window(today: date, days: int) -> tuple[date, date]:
    """The last ``days`` listing dates up to ``today`` (never before the listing's first day)."""
    first = date.fromisoformat(FIRST_LISTING_DATE)
    return max(first, today - timedelta(days=days - 1)), today


def partition_range_tags(start: date, end: date) -> dict[str, str]:
    """Tags that make one run cover a range of listing-date partitions (a single-run backfill)."""
    return {"dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat()}


def rolling_refetch_schedule(settings: Settings) -> dg.ScheduleDefinition:
    days = settings.refetch_days

    @dg.schedule(job=fetch_api_job, cron_schedule=settings.refetch_cron, execution_timezone="UTC",
                 default_status=(dg.DefaultScheduleStatus.RUNNING if settings.refetch_enabled
                                 else dg.DefaultScheduleStatus.STOPPED),
                 name="rolling_refetch_schedule",
                 description=f"Re-fetches the last {days} listing dates from {redact(settings.api_base_url)} "
                             f"in one run ({settings.refetch_cron}, UTC). Needs the network: offline, every run "
                             "fails naming the cause. Started by default; `refetch_enabled = false` in "
                             "papers.toml (PAPERS_REFETCH_ENABLED=false) leaves it stopped, as does stopping "
                             "it here.")
    def _schedule(context: dg.ScheduleEvaluationContext):
        start, end = rolling_window(context.scheduled_execution_time.date(), days)
        return dg.RunRequest(tags={**partition_range_tags(start, end), "papers/trigger": "rolling_refetch"})

    return _schedule
