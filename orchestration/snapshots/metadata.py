"""Metadata derived from a snapshot's file name and bytes (pure functions)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from pathlib import Path

from .errors import SnapshotRejected

_CAPTURED = re.compile(r"captured-(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z)?(?![0-9A-Za-z])")
_LEADING_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?!\d)")


def leading_date_text(name: str) -> str | None:
    """The ``YYYY-MM-DD`` a file name starts with (not checked to be a real date), else ``None``."""
    match = _LEADING_DATE.match(name)
    return match.group(0) if match else None


def capture_time_from_name(name: str) -> datetime | None:
    """UTC capture time from ``captured-YYYYMMDD`` (midnight) or ``captured-YYYYMMDDTHHMMSSZ`` in
    ``name``; None when absent or not a real date/time."""
    match = _CAPTURED.search(name)
    if match is None:
        return None
    try:
        return datetime(*(int(part or 0) for part in match.groups()), tzinfo=UTC)
    except ValueError:
        return None


def listing_date_from_name(name: str) -> date | None:
    """The listing date from a LEADING ``YYYY-MM-DD`` of ``name``, else None (also when that is not
    a calendar date, e.g. ``2025-02-30``)."""
    try:
        return date.fromisoformat(text) if (text := leading_date_text(name)) else None
    except ValueError:
        return None


def api_listing_date(name: str) -> date | None:
    """The listing date an API file's name gives (None: its name has no leading date); a leading
    ``YYYY-MM-DD`` that is not a calendar date is rejected."""
    listing_date = listing_date_from_name(name)
    if listing_date is None and (bad_date := leading_date_text(name)):
        raise SnapshotRejected(f"the file name starts with {bad_date}, which is not a date: name API "
                               "files after their listing date (YYYY-MM-DD)")
    return listing_date


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data`` (the snapshot id)."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """Lower-case hex SHA-256 of a file, read as a stream (never held whole)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
