"""Format detection: snapshot bytes + file name -> a parsed snapshot or SnapshotRejected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import pyarrow as pa

from .api_json import api_records, records_to_table
from .decoding import decode_text
from .errors import SnapshotRejected, preview
from .json_body import load_json
from .metadata import as_utc, capture_time_from_name, listing_date_from_name, sha256_hex
from .page_text import cards_to_table, read_page_cards

SnapshotFormat = Literal["api_json", "page_text"]

_JSON_SCALAR_STARTS = frozenset('"-0123456789')
_JSON_LITERALS = frozenset({"true", "false", "null"})


@dataclass(frozen=True)
class ParsedSnapshot:
    """A snapshot that parsed: its identity, capture metadata and raw-table rows."""

    format: SnapshotFormat
    snapshot_id: str
    source_uri: str
    captured_at: datetime
    listing_date: date | None
    table: pa.Table
    rows: int
    warnings: tuple[str, ...] = ()


def parse_snapshot(body: bytes, *, name: str, mtime: datetime | None = None) -> ParsedSnapshot:
    """Detect the format of ``body`` and parse it; raise :class:`SnapshotRejected` otherwise.

    The capture time comes from ``captured-…`` in ``name``, else ``mtime`` (as UTC). An API
    file's listing date is the leading ``YYYY-MM-DD`` of ``name``, else per row
    ``paper.submittedOnDailyAt``.
    """
    snapshot_id = sha256_hex(body)
    captured_at = _capture_time(name, mtime)
    text = decode_text(body)
    head = text.lstrip()
    if head.startswith("<"):
        raise SnapshotRejected(
            f"HTML page (starts with {preview(head, 40)}), not a snapshot"
            if _looks_like_html(head)
            else f"markup (starts with {preview(head, 40)}), not a snapshot"
        )
    if head.startswith(("[", "{")):
        return _parse_api(text, name=name, snapshot_id=snapshot_id, captured_at=captured_at)
    if _is_json_scalar(head):
        api_records(load_json(text))  # always raises: a lone scalar is never the API's shape
    cards = read_page_cards(text, capture_year=captured_at.year)
    table = cards_to_table(
        cards.cards, snapshot_id=snapshot_id, source_uri=name, captured_at=captured_at
    )
    return ParsedSnapshot(
        format="page_text",
        snapshot_id=snapshot_id,
        source_uri=name,
        captured_at=captured_at,
        listing_date=None,
        table=table,
        rows=table.num_rows,
        warnings=cards.warnings,
    )


def _parse_api(text: str, *, name: str, snapshot_id: str, captured_at: datetime) -> ParsedSnapshot:
    named_date = listing_date_from_name(name)
    table = records_to_table(
        api_records(load_json(text)),
        snapshot_id=snapshot_id,
        source_uri=name,
        captured_at=captured_at,
        listing_date=named_date,
    )
    listing_dates = set(table.column("listing_date").to_pylist())
    listing_date = named_date or (listing_dates.pop() if len(listing_dates) == 1 else None)
    return ParsedSnapshot(
        format="api_json",
        snapshot_id=snapshot_id,
        source_uri=name,
        captured_at=captured_at,
        listing_date=listing_date,
        table=table,
        rows=table.num_rows,
    )


def _capture_time(name: str, mtime: datetime | None) -> datetime:
    captured = capture_time_from_name(name)
    if captured is not None:
        return captured
    if mtime is not None:
        return as_utc(mtime)
    raise SnapshotRejected(
        "no capture time: name has no captured-YYYYMMDD[THHMMSSZ] and no file mtime was given"
    )


def _is_json_scalar(head: str) -> bool:
    """True when the whole text is one JSON number, string, boolean or null."""
    if head[:1] not in _JSON_SCALAR_STARTS and head.split(None, 1)[0] not in _JSON_LITERALS:
        return False
    try:
        load_json(head)
    except SnapshotRejected:
        return False  # e.g. a page text whose first title starts with a digit
    return True


def _looks_like_html(head: str) -> bool:
    lowered = head[:200].lower()
    return lowered.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in lowered
