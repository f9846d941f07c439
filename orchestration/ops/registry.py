"""The file registry ``ops.snapshot_files``: every file or fetch ever seen, and how it ended.

Each row records one arrival (a landed file or an API fetch of one listing date) with its sha256 and
status: ``loaded`` (its rows are in raw), ``duplicate`` (same bytes seen before: no new rows) or
``quarantined`` (rejected, with the reason and where the file went). The registry is what makes
ingestion exactly-once: a snapshot whose sha256 is already ``loaded`` is never loaded again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone

import duckdb
import pyarrow as pa

LOADED = "loaded"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"
STATUSES = (LOADED, DUPLICATE, QUARANTINED)

DDL = """
create schema if not exists ops;
create table if not exists ops.snapshot_files (
    snapshot_id   varchar   not null,  -- sha256 of the snapshot bytes
    source        varchar   not null,  -- 'landing' (a dropped file) or 'api' (a fetch)
    source_uri    varchar   not null,  -- original file name, or the request URL
    stored_path   varchar,             -- where the bytes are now (archive/ or quarantine/)
    format        varchar,             -- 'api_json', 'page_text', or null when unrecognised
    listing_date  date,
    captured_at   timestamptz,
    rows          integer   not null,  -- rows added to raw by this arrival
    status        varchar   not null check (status in ('loaded', 'duplicate', 'quarantined')),
    reason        varchar,             -- why it was quarantined / what it duplicates
    run_id        varchar,
    recorded_at   timestamptz not null,
    file_pending  boolean not null default false  -- the file still has to go where stored_path says
);
"""


@dataclass(frozen=True)
class SnapshotFileRecord:
    """One arrival and how it ended."""

    snapshot_id: str
    source: str
    source_uri: str
    status: str
    rows: int = 0
    stored_path: str | None = None
    format: str | None = None
    listing_date: date | None = None
    captured_at: datetime | None = None
    reason: str | None = None
    run_id: str | None = None
    recorded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    file_pending: bool = False


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def seen_snapshots(con: duckdb.DuckDBPyConnection, candidates: Iterable[str]) -> dict[str, str]:
    """Which of ``candidates`` (sha256 hex) were seen before, and how they ended (loaded/quarantined):
    the same bytes again are a duplicate whatever their fate."""
    wanted = sorted(set(candidates))
    if not wanted:
        return {}
    ensure_registry(con)
    return dict(con.execute(
        "select snapshot_id, min(status) from ops.snapshot_files "
        "where status in ('loaded', 'quarantined') and snapshot_id in (select unnest(?)) group by 1",
        [wanted]).fetchall())


def record(con: duckdb.DuckDBPyConnection, records: Sequence[SnapshotFileRecord]) -> None:
    """Append arrivals to the registry: one columnar insert for the whole batch."""
    if not records:
        return
    ensure_registry(con)
    columns = ", ".join(f.name for f in fields(SnapshotFileRecord))
    batch = pa.table({f.name: [getattr(r, f.name) for r in records] for f in fields(SnapshotFileRecord)})  # noqa: F841
    con.execute(f"insert into ops.snapshot_files ({columns}) select {columns} from batch")


def status_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """Files per status of one run."""
    ensure_registry(con)
    rows = con.execute(
        "select status, count(*) from ops.snapshot_files where run_id = ? group by status", [run_id]).fetchall()
    return {**dict.fromkeys(STATUSES, 0), **dict(rows)}
