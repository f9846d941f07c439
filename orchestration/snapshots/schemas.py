"""Arrow schemas of the raw tables the parsers produce (see the interface spec)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP_UTC = pa.timestamp("us", tz="UTC")

#: Columns of ``raw.api_fetched_papers`` and ``raw.landed_api_papers`` (identical).
API_PAPERS_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("listing_date", pa.date32(), nullable=False),
        pa.field("captured_at", TIMESTAMP_UTC, nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("arxiv_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("summary", pa.string()),
        pa.field("authors_json", pa.string()),
        pa.field("author_count", pa.int32()),
        pa.field("published_at", TIMESTAMP_UTC),
        pa.field("upvotes", pa.int32()),
        pa.field("num_comments", pa.int32()),
        pa.field("github_repo", pa.string()),
        pa.field("github_stars", pa.int32()),
        pa.field("project_page", pa.string()),
        pa.field("organization", pa.string()),
        pa.field("ai_keywords_json", pa.string()),
        pa.field("ai_summary", pa.string()),
        pa.field("submitted_on_daily_at", TIMESTAMP_UTC),
        pa.field("submitted_by", pa.string()),
    ]
)

#: Columns of ``raw.landed_page_cards``.
PAGE_CARDS_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("captured_at", TIMESTAMP_UTC, nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("summary", pa.string()),
        pa.field("author_count", pa.int32()),
        pa.field("published_on", pa.date32()),
        pa.field("num_comments", pa.int32()),
    ]
)


@dataclass(frozen=True)
class RawTable:
    """What a raw table holds: where its snapshots come from (``landing`` files or ``api``
    fetches), their format, the suite that audits each parsed batch before it loads
    (``expectations/<suite>.json``) and the Arrow schema of its rows (dlt adds ``_dlt_load_id``)."""

    source: str
    format: str
    suite: str
    schema: pa.Schema


#: The raw tables, by name in schema ``raw``.
RAW_TABLES = {
    "landed_api_papers": RawTable("landing", "api_json", "raw_api_papers", API_PAPERS_SCHEMA),
    "landed_page_cards": RawTable("landing", "page_text", "raw_page_cards", PAGE_CARDS_SCHEMA),
    "api_fetched_papers": RawTable("api", "api_json", "raw_api_papers", API_PAPERS_SCHEMA),
}
