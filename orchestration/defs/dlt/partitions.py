"""Daily partitions of the API listing, from the listing's first day."""

import dagster as dg

from orchestration.project import FIRST_LISTING_DATE

listing_dates = dg.DailyPartitionsDefinition(start_date=FIRST_LISTING_DATE, timezone="UTC", end_offset=1)
