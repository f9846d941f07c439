"""Pure snapshot parsers: bytes -> pyarrow.Table (raw-table columns) or SnapshotRejected.

No dagster or dlt imports here: stdlib and pyarrow only.
"""

from __future__ import annotations

from .api import ApiBody, parse_api_bodies
from .detect import ParsedSnapshot, parse_snapshots
from .errors import SnapshotRejected
from .metadata import as_utc, capture_time_from_name, listing_date_from_name, sha256_hex
from .page_text import cards_to_table, read_page_cards
from .schemas import API_PAPERS_SCHEMA, PAGE_CARDS_SCHEMA

__all__ = ["API_PAPERS_SCHEMA", "ApiBody", "PAGE_CARDS_SCHEMA", "ParsedSnapshot", "SnapshotRejected", "as_utc",
           "capture_time_from_name", "cards_to_table", "listing_date_from_name", "parse_api_bodies", "parse_snapshots",
           "read_page_cards", "sha256_hex"]
