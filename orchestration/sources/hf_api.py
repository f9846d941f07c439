"""dlt source for the Hugging Face Daily Papers API: ``GET /api/daily_papers?date=D``.

Pages with ``limit=100&p=N`` until an empty page, through dlt's REST client (retries with backoff on
429/5xx, honouring Retry-After). Every fetched date is one snapshot: its id is the sha256 of the
date and the listing as returned; a fetch whose bytes equal an already loaded snapshot adds no rows (duplicate).
What happened to each date is appended to ``outcomes`` for the registry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

import dlt
import pyarrow as pa
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator

from orchestration.snapshots import API_PAPERS_SCHEMA, SnapshotRejected, api_records, records_to_table

API_FETCHED_TABLE = "api_fetched_papers"
PAGE_SIZE = 100
MAX_PAGES = 50  # a server that ignores `p` must not page forever (5,000 papers a day is far above real)


@dataclass(frozen=True)
class FetchOutcome:
    """What one date's fetch produced: rows to load, a duplicate, or a rejected body."""

    listing_date: date
    url: str
    snapshot_id: str
    captured_at: datetime
    status: str  # 'loaded' | 'duplicate' | 'quarantined'
    rows: int
    pages: int
    reason: str | None = None
    body: bytes | None = None  # kept for quarantine


def listing_url(base_url: str, listing_date: date) -> str:
    return f"{base_url}/api/daily_papers?date={listing_date.isoformat()}"


def fetch_listing(client: RESTClient, listing_date: date) -> list:
    """The decoded pages of one listing date, paging until an empty page (not included)."""
    pages: list = []
    paginator = PageNumberPaginator(base_page=0, page_param="p", total_path=None, stop_after_empty_page=True,
                                    maximum_page=MAX_PAGES)
    for page in client.paginate(
        "/api/daily_papers",
        params={"date": listing_date.isoformat(), "limit": PAGE_SIZE},
        paginator=paginator,
        data_selector="$",
    ):
        if page:  # the empty page that ends paging is not kept
            pages.append(list(page) if isinstance(page, list) else page)
    return pages


def listing_rows(pages: list) -> list:
    """The paper objects of all pages; a page that is not the API's shape rejects the fetch."""
    rows: list = []
    for number, page in enumerate(pages):
        try:
            rows.extend(api_records(page))
        except SnapshotRejected as rejected:
            raise SnapshotRejected(f"page p={number}: {rejected.reason}") from None
    return rows


@dlt.source(name="hf_api", max_table_nesting=0)
def hf_api_source(
    listing_dates: Sequence[date] = (),
    base_url: str = "https://hf.barry1.top",
    already_loaded: frozenset[str] = frozenset(),
    outcomes: list[FetchOutcome] | None = None,
    audit: Callable[[str, pa.Table], dict[str, str]] | None = None,
) -> dlt.sources.DltResource:
    """Daily Papers listings fetched from the API for ``listing_dates`` (append-only observations).

    ``audit``: checks a date's rows before they are yielded (``(table name, rows)`` -> snapshot ids to
    reject, with reasons); a rejected listing is quarantined like a body that did not parse.
    """
    log = outcomes if outcomes is not None else []

    @dlt.resource(name=API_FETCHED_TABLE, write_disposition="append")
    def api_fetched_papers() -> Iterator[pa.Table]:
        """Papers fetched from /api/daily_papers, one row per paper per fetch."""
        client = RESTClient(base_url=base_url, headers={"Accept": "application/json"})
        yielded = False
        for listing_date in listing_dates:
            url = listing_url(base_url, listing_date)
            pages = fetch_listing(client, listing_date)
            body = json.dumps(pages, sort_keys=True, separators=(",", ":")).encode()
            # The date is part of the id: two empty listings (weekends) are different snapshots.
            snapshot_id = hashlib.sha256(listing_date.isoformat().encode() + b"\n" + body).hexdigest()
            captured_at = datetime.now(timezone.utc)
            common = dict(listing_date=listing_date, url=url, snapshot_id=snapshot_id,
                          captured_at=captured_at, pages=len(pages))
            if snapshot_id in already_loaded:
                log.append(FetchOutcome(status="duplicate", rows=0, reason="listing unchanged since an earlier fetch", **common))
                continue
            try:
                table = records_to_table(listing_rows(pages), snapshot_id=snapshot_id, source_uri=url,
                                         captured_at=captured_at, listing_date=listing_date)
            except SnapshotRejected as rejected:
                log.append(FetchOutcome(status="quarantined", rows=0, reason=rejected.reason, body=body, **common))
                continue
            problems = audit(API_FETCHED_TABLE, table) if audit is not None else {}
            if problems:
                log.append(FetchOutcome(status="quarantined", rows=0, reason=problems.get(snapshot_id)
                                        or next(iter(problems.values())), body=body, **common))
                continue
            log.append(FetchOutcome(status="loaded", rows=table.num_rows, **common))
            yielded = True
            yield table
        if not yielded:
            yield API_PAPERS_SCHEMA.empty_table()

    return api_fetched_papers
