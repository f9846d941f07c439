"""After a load: record every arrival in ``ops.snapshot_files``, then move files to where they end;
before a load: reconcile what an interrupted run left behind.

Every step is one-way and can be repeated:

1. dlt commits the raw rows of a load (each row carries its ``_dlt_load_id``; dlt marks the load
   complete in ``raw._dlt_loads`` once every table of it is in).
2. The arrivals are recorded in one statement, each with where its file goes (``stored_path``,
   relative to PAPERS_HOME) and ``file_pending`` set.
3. The files are moved (archive/, quarantine/ with a reason file, duplicate copies removed), then
   ``file_pending`` is cleared for all of them in one statement.

:func:`reconcile` runs before every load and repairs any death between those steps: rows of a load
dlt did not complete are rolled back (their files are still in landing: the run reads them again);
snapshots in raw with no registry row are recorded as loaded (never loaded twice, never
quarantined); pending moves are finished. A crash at any point followed by a run gives the state of
a run that never crashed.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.config import PapersHome
from orchestration.ops import filing
from orchestration.ops.ledger import LOAD_ID, RAW_TABLES
from orchestration.ops.registry import DUPLICATE, LOADED, QUARANTINED, SnapshotFileRecord, ensure_registry, record
from orchestration.snapshots.metadata import file_sha256
from orchestration.sources.hf_api import FetchOutcome
from orchestration.sources.landing_files import Intake, exists
from orchestration.sql import schema_columns


def _relative(home: PapersHome, path: Path) -> str:
    return str(path.relative_to(home.root))


def settle_landing(con: duckdb.DuckDBPyConnection, found: Intake, home: PapersHome, run_id: str) -> None:
    """Record each file of the intake (where it goes), then move it there: loaded files to
    archive/, rejects to quarantine/ with a reason file, duplicate copies removed."""
    planned: set[Path] = set()

    def arrival(item, status: str, folder: Path | None = None, **fields) -> SnapshotFileRecord:
        stored = _relative(home, filing.free_name(folder, item.path.name, planned)) if folder else None
        return SnapshotFileRecord(snapshot_id=item.sha256, source="landing", source_uri=item.path.name, status=status,
                                  stored_path=stored, run_id=run_id, file_pending=True, **fields)

    records = [arrival(item, LOADED, home.archive, rows=item.rows, format=item.format, listing_date=item.listing_date,
                       captured_at=item.captured_at,
                       reason="; ".join(item.warnings) or None)  # e.g. page cards skipped for lack of a meta block
               for item in found.to_load]
    # the same bytes are already kept (archive/ or quarantine/): the arrival is recorded, the copy dropped
    records += [arrival(item, DUPLICATE, reason=item.reason) for item in found.duplicates]
    records += [arrival(item, QUARANTINED, home.quarantine, format=item.format, reason=item.reason)
                for item in found.rejected]
    record(con, records)
    move_pending_files(con, home)


def settle_fetches(con: duckdb.DuckDBPyConnection, outcomes: Sequence[FetchOutcome], home: PapersHome,
                   run_id: str) -> None:
    """Record each fetched date; keep rejected response bodies in quarantine."""
    records: list[SnapshotFileRecord] = []
    for fetch in outcomes:
        stored = None
        if fetch.status == QUARANTINED and fetch.body is not None:
            name = f"{fetch.listing_date.isoformat()}_captured-{fetch.captured_at:%Y%m%dT%H%M%SZ}.json"
            stored = _relative(home, filing.write_quarantined_body(
                fetch.body, name, fetch.reason or "", home.quarantine))
        records.append(SnapshotFileRecord(
            snapshot_id=fetch.snapshot_id, source="api", source_uri=fetch.url, status=fetch.status,
            rows=fetch.rows, stored_path=stored, format="api_json", listing_date=fetch.listing_date,
            captured_at=fetch.captured_at, reason=fetch.reason, run_id=run_id))
    record(con, records)


def move_pending_files(con: duckdb.DuckDBPyConnection, home: PapersHome, *, verify: bool = False) -> int:
    """Move every file the registry says is still pending to where its row says; returns how many
    rows were settled. ``verify``: a landing file whose bytes are not the recorded snapshot (a new
    file dropped under the same name since) stays in landing for the next run. A row whose file is
    no longer in landing (moved before a crash) is only settled."""
    ensure_registry(con)
    pending = con.execute(
        "select rowid, snapshot_id, source_uri, status, stored_path, reason from ops.snapshot_files "
        "where file_pending and source = 'landing' order by recorded_at, rowid").fetchall()
    for _rowid, snapshot_id, name, status, stored, reason in pending:
        source = home.landing / name
        if not exists(source) or verify and not _same_bytes(source, snapshot_id):
            continue
        target = home.root / stored if stored else None
        if status == DUPLICATE or target is None:
            source.unlink()
        elif status == QUARANTINED:
            filing.quarantine(source, reason or "", target)
        elif not target.exists():
            filing.archive(source, target)
    if pending:
        con.execute("update ops.snapshot_files set file_pending = false where rowid in (select unnest(?))",
                    [[row[0] for row in pending]])
    return len(pending)


def _same_bytes(path: Path, snapshot_id: str) -> bool:
    """Whether ``path`` holds the bytes of ``snapshot_id`` (what cannot be read is taken as the same:
    its id was never a hash of its bytes)."""
    if path.is_symlink() or not path.is_file():
        return True
    try:
        return file_sha256(path) == snapshot_id
    except OSError:
        return True


@dataclass
class Reconciled:
    """What :func:`reconcile` repaired."""

    rolled_back: dict[str, int] = field(default_factory=dict)  # raw table -> rows of incomplete loads
    registered: list[str] = field(default_factory=list)  # snapshots found in raw without a registry row
    moves_finished: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.rolled_back or self.registered or self.moves_finished)

    def describe(self) -> str:
        parts = []
        if self.rolled_back:
            parts.append("rolled back the rows of an incomplete load ("
                         + ", ".join(f"raw.{t}: {n}" for t, n in sorted(self.rolled_back.items())) + ")")
        if self.registered:
            parts.append(f"recorded {len(self.registered)} snapshot(s) loaded by a run that stopped "
                         "before recording them")
        if self.moves_finished:
            parts.append(f"finished moving {self.moves_finished} file(s) out of landing")
        return "; ".join(parts) or "nothing to repair"


def reconcile(con: duckdb.DuckDBPyConnection, home: PapersHome, run_id: str) -> Reconciled:
    """Bring raw, the registry and the folders back into agreement after an interrupted run."""
    ensure_registry(con)
    done = Reconciled(moves_finished=move_pending_files(con, home, verify=True))
    columns = schema_columns(con, "raw")
    complete = "select load_id from raw._dlt_loads" if "_dlt_loads" in columns else "select null where false"
    planned: set[Path] = set()
    records: list[SnapshotFileRecord] = []
    for table, raw in RAW_TABLES.items():
        if table not in columns:
            continue
        if LOAD_ID in columns[table]:  # the rows of a load dlt did not complete are rolled back
            (n,) = con.execute(
                f"delete from raw.{table} where {LOAD_ID} is not null and {LOAD_ID} not in ({complete})").fetchone()
            if n:
                done.rolled_back[table] = n
        listing = ("case when count(distinct listing_date) = 1 then min(listing_date) end"
                   if "listing_date" in columns[table] else "null::date")
        for snapshot_id, uri, listing_date, captured_at, rows in con.execute(
            f"select snapshot_id, min(source_uri), {listing}, min(captured_at), count(*) from raw.{table} "
            "where snapshot_id not in (select snapshot_id from ops.snapshot_files where status = 'loaded') "
            "group by snapshot_id order by min(source_uri), snapshot_id"
        ).fetchall():
            stored, pending = None, False
            file = home.landing / uri
            if raw.source == "landing" and file.is_file() and not file.is_symlink() and _same_bytes(file, snapshot_id):
                stored, pending = _relative(home, filing.free_name(home.archive, uri, planned)), True
            records.append(SnapshotFileRecord(
                snapshot_id=snapshot_id, source=raw.source, source_uri=uri, status=LOADED, rows=rows,
                stored_path=stored, format=raw.format, listing_date=listing_date, captured_at=captured_at,
                reason="recorded after an interrupted run (its rows were loaded, the run stopped before "
                       "recording them)", run_id=run_id, file_pending=pending))
            done.registered.append(snapshot_id)
    record(con, records)
    move_pending_files(con, home, verify=True)
    return done


def remove_stale_working_folders(home: PapersHome, keep: str) -> None:
    """dlt working folders of earlier runs (a run that died keeps its own): runs are one at a time."""
    if not home.dlt_runs.is_dir():
        return
    for folder in home.dlt_runs.iterdir():
        if folder.name not in (keep, "definitions") and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
