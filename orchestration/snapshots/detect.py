"""Format detection: snapshot bytes + file name -> a parsed snapshot or SnapshotRejected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from .api import ApiBody, parse_api_bodies
from .api_reasons import load_json, read_api
from .decoding import decode_text
from .errors import SnapshotRejected, preview, unparsable
from .metadata import api_listing_date, as_utc, capture_time_from_name, sha256_hex
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


def parse_snapshots(
    files: Sequence[tuple[bytes, str, datetime | None]],
    snapshot_ids: Sequence[str] | None = None,
) -> list[ParsedSnapshot | SnapshotRejected]:
    """Each ``(body, name, mtime)`` parsed in its format, or the :class:`SnapshotRejected` saying why
    not. The capture time comes from ``captured-…`` in ``name``, else ``mtime`` (as UTC); an API file's
    listing date is the leading ``YYYY-MM-DD`` of ``name``, else per row ``paper.submittedOnDailyAt``.
    ``snapshot_ids``: the bodies' sha256 when the caller already computed them (not hashed again).
    """
    outcomes: list[ParsedSnapshot | SnapshotRejected | ApiBody] = []
    for n, (body, name, mtime) in enumerate(files):
        try:
            known = snapshot_ids[n] if snapshot_ids is not None else None
            outcomes.append(_detect(body, name=name, mtime=mtime, snapshot_id=known))
        except SnapshotRejected as rejected:
            outcomes.append(rejected)
        except Exception as error:  # a parser bug or a value no parser expects: this file only
            outcomes.append(unparsable(error))
    api = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, ApiBody)]
    for (i, item), table in zip(api, parse_api_bodies([item for _, item in api])):
        outcomes[i] = table if isinstance(table, SnapshotRejected) else _api_snapshot(item, table)
    return outcomes  # type: ignore[return-value]


def _detect(body: bytes, *, name: str, mtime: datetime | None,
            snapshot_id: str | None = None) -> ParsedSnapshot | ApiBody:
    snapshot_id = snapshot_id or sha256_hex(body)
    captured_at = capture_time_from_name(name) or (as_utc(mtime) if mtime is not None else None)
    if captured_at is None:
        raise SnapshotRejected("no capture time: name has no captured-YYYYMMDD[THHMMSSZ] and no file mtime was given")
    text = decode_text(body)
    head = text.lstrip()
    if head.startswith("<"):
        lowered = head[:200].lower()
        html = lowered.startswith(("<!doctype html", "<head", "<body")) or "<html" in lowered
        raise SnapshotRejected(f"{'HTML page' if html else 'markup'} (starts with {preview(head, 40)}), not a snapshot")
    if head.startswith(("[", "{")):
        return ApiBody(body, snapshot_id, name, captured_at, api_listing_date(name))
    if _is_json_scalar(head):
        read_api(text)  # raises: a lone scalar is never the API's shape
    cards = read_page_cards(text, capture_year=captured_at.year)
    table = cards_to_table(cards.cards, snapshot_id=snapshot_id, source_uri=name, captured_at=captured_at)
    return ParsedSnapshot(format="page_text", snapshot_id=snapshot_id, source_uri=name, captured_at=captured_at,
                          listing_date=None, table=table, rows=table.num_rows, warnings=cards.warnings)


def _api_snapshot(meta: ApiBody, table: pa.Table) -> ParsedSnapshot:
    listing_date = meta.listing_date
    if listing_date is None:  # the rows' own date when they all have one
        dates = pc.unique(table.column("listing_date")).to_pylist()
        listing_date = dates[0] if len(dates) == 1 else None
    return ParsedSnapshot(format="api_json", snapshot_id=meta.snapshot_id, source_uri=meta.source_uri,
                          captured_at=meta.captured_at, listing_date=listing_date, table=table, rows=table.num_rows)


def _is_json_scalar(head: str) -> bool:
    """True when the whole text is one JSON number, string, boolean or null."""
    if head[:1] not in _JSON_SCALAR_STARTS and head.split(None, 1)[0] not in _JSON_LITERALS:
        return False
    try:
        load_json(head)
    except SnapshotRejected:
        return False  # e.g. a page text whose first title starts with a digit
    return True
