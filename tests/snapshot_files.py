"""Parsing one snapshot (the pipeline parses batches of them: snapshots.parse_snapshots, via
sources.landing_files)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from orchestration.snapshots import (ParsedSnapshot, SnapshotRejected, as_utc, cards_to_table, parse_snapshots,
                                     read_page_cards)
from orchestration.snapshots.decoding import decode_text


def parse_snapshot(body: bytes, *, name: str, mtime: datetime | None = None) -> ParsedSnapshot:
    """Detect the format of ``body`` and parse it; raise :class:`SnapshotRejected` otherwise (the
    capture time from ``captured-…`` in ``name``, else ``mtime``)."""
    outcome = parse_snapshots([(body, name, mtime)])[0]
    if isinstance(outcome, SnapshotRejected):
        raise outcome
    return outcome


def parse_page_text(body: bytes, *, snapshot_id: str, source_uri: str, captured_at: datetime) -> pa.Table:
    """A page-text snapshot as a table of the raw cards' columns (dates without a year get the
    capture's year); rejects the file when no card is found."""
    cards = read_page_cards(decode_text(body), capture_year=as_utc(captured_at).year)
    return cards_to_table(cards.cards, snapshot_id=snapshot_id, source_uri=source_uri, captured_at=captured_at)


def parse_snapshot_file(path: Path) -> ParsedSnapshot:
    """Parse the file at ``path`` (its name and mtime supply the capture metadata).

    Raises :class:`~orchestration.snapshots.errors.SnapshotRejected` for bad content and
    ``OSError`` when the file cannot be read.
    """
    path = Path(path)
    body = path.read_bytes()
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return parse_snapshot(body, name=path.name, mtime=mtime)
