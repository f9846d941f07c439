"""After a load: record every arrival in ``ops.snapshot_files`` and move files to where they end.

Also the way back: snapshots whose rows fail validation are removed from raw and quarantined, so bad
data never reaches the marts and the next run starts clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb

from orchestration.sources.hf_api import FetchOutcome
from orchestration.warehouse import intake as landing
from orchestration.warehouse.registry import (
    DUPLICATE,
    LOADED,
    QUARANTINED,
    SnapshotFileRecord,
    mark_quarantined,
    record,
    status_counts,
)
from orchestration.warehouse.settings import PapersHome

RAW_TABLES = ("raw.landed_api_papers", "raw.landed_page_cards", "raw.api_fetched_papers")


def settle_landing(
    con: duckdb.DuckDBPyConnection, found: landing.Intake, home: PapersHome, run_id: str
) -> list[SnapshotFileRecord]:
    """Archive loaded files, quarantine rejects, drop duplicate copies, and record each one."""
    records: list[SnapshotFileRecord] = []
    for item in found.to_load:
        stored = landing.archive(item.path, home.archive)
        records.append(SnapshotFileRecord(
            snapshot_id=item.sha256, source="landing", source_uri=item.path.name, status=LOADED,
            rows=item.rows, stored_path=str(stored), format=item.format, listing_date=item.listing_date,
            captured_at=item.captured_at, run_id=run_id,
            reason="; ".join(item.warnings) or None,  # e.g. page cards skipped for lack of a meta block
        ))
    for item in found.duplicates:
        # The same bytes are already kept (archive/ or quarantine/): the arrival is recorded, the copy dropped.
        item.path.unlink()
        records.append(SnapshotFileRecord(
            snapshot_id=item.sha256, source="landing", source_uri=item.path.name, status=DUPLICATE,
            reason=item.reason, run_id=run_id,
        ))
    for item in found.rejected:
        stored = landing.quarantine(item.path, item.reason, home.quarantine)
        records.append(SnapshotFileRecord(
            snapshot_id=item.sha256, source="landing", source_uri=item.path.name, status=QUARANTINED,
            stored_path=str(stored), reason=item.reason, run_id=run_id,
        ))
    record(con, records)
    return records


def settle_fetches(
    con: duckdb.DuckDBPyConnection, outcomes: Sequence[FetchOutcome], home: PapersHome, run_id: str
) -> list[SnapshotFileRecord]:
    """Record each fetched date; keep rejected response bodies in quarantine."""
    records: list[SnapshotFileRecord] = []
    for fetch in outcomes:
        stored = None
        if fetch.status == QUARANTINED and fetch.body is not None:
            name = f"{fetch.listing_date.isoformat()}_captured-{fetch.captured_at:%Y%m%dT%H%M%SZ}.json"
            stored = str(landing.write_quarantined_body(fetch.body, name, fetch.reason or "", home.quarantine))
        records.append(SnapshotFileRecord(
            snapshot_id=fetch.snapshot_id, source="api", source_uri=fetch.url, status=fetch.status,
            rows=fetch.rows, stored_path=stored, format="api_json", listing_date=fetch.listing_date,
            captured_at=fetch.captured_at, reason=fetch.reason, run_id=run_id,
        ))
    record(con, records)
    return records


def loaded_in_run(con: duckdb.DuckDBPyConnection, run_id: str, fmt: str | None = None,
                  source: str | None = None) -> list[str]:
    """Snapshot ids this run loaded (optionally of one format / source)."""
    sql = "select snapshot_id from ops.snapshot_files where run_id = ? and status = 'loaded'"
    params: list = [run_id]
    if fmt:
        sql += " and format = ?"
        params.append(fmt)
    if source:
        sql += " and source = ?"
        params.append(source)
    return [row[0] for row in con.execute(sql + " order by snapshot_id", params).fetchall()]


def _existing_raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables where table_schema = 'raw'"
    ).fetchall()
    present = {row[0] for row in rows}
    return [t for t in RAW_TABLES if t in present]


def reject_loaded_snapshots(
    con: duckdb.DuckDBPyConnection, snapshot_ids: Iterable[str], reason: str, home: PapersHome
) -> list[str]:
    """Take snapshots back out of raw after failed validation and quarantine their files.

    Returns where each file went. Raw stays append-only in spirit: rows of a rejected snapshot never
    counted as observations, so removing them restores the state before the run.
    """
    ids = sorted(set(snapshot_ids))
    moved: list[str] = []
    for table in _existing_raw_tables(con):
        con.execute(f"delete from {table} where snapshot_id in (select unnest(?))", [ids])
    for snapshot_id in ids:
        row = con.execute(
            "select stored_path from ops.snapshot_files where snapshot_id = ? and status = 'loaded'",
            [snapshot_id],
        ).fetchall()
        stored = None
        if row and row[0][0] and Path(row[0][0]).exists() and home.archive in Path(row[0][0]).parents:
            stored = str(landing.quarantine(Path(row[0][0]), reason, home.quarantine))
            moved.append(stored)
        mark_quarantined(con, snapshot_id, reason=reason, stored_path=stored)
    return moved


__all__ = [
    "RAW_TABLES", "loaded_in_run", "reject_loaded_snapshots", "settle_fetches", "settle_landing",
    "status_counts",
]
