"""Targets the validation tests check: both raw API tables, the page-card table and every public mart."""

from __future__ import annotations

from orchestration.validation.runner import MART_KEYS, SuiteTarget

RAW_API_TABLES = ("raw.api_fetched_papers", "raw.landed_api_papers")


def default_targets(*, raw_where: str | None = None, include_raw: bool = True,
                    include_marts: bool = True) -> list[SuiteTarget]:
    """``raw_where`` restricts the raw tables; raw tables that do not exist are skipped; marts are
    validated whole and must exist."""
    targets: list[SuiteTarget] = []
    if include_raw:
        targets += [SuiteTarget("raw_api_papers", table, raw_where, "snapshot_id", missing_ok=True)
                    for table in RAW_API_TABLES]
        targets.append(SuiteTarget("raw_page_cards", "raw.landed_page_cards", raw_where, "snapshot_id",
                                   missing_ok=True))
    if include_marts:
        targets += [SuiteTarget(mart, f"marts.{mart}", None, key) for mart, key in MART_KEYS.items()]
    return targets
