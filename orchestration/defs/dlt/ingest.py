"""What the ``landing_raw`` asset does, without Dagster (the benchmark's ingest stage calls it too).

Repair what an interrupted run left, read/hash/parse/audit the landing files in bounded batches
while dlt loads them through the run's connection, record the raw audit, then settle every file
(registry rows, archive/quarantine). The caller passes how to run the dlt load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dlt
import duckdb

from orchestration.config import PapersHome
from orchestration.ops.bookkeeping import reconcile, remove_stale_working_folders, settle_landing
from orchestration.ops.registry import seen_snapshots
from orchestration.sources import landing_files as landing
from orchestration.sources.landing import FORMAT_TABLES, landing_source, raw_pipeline
from orchestration.validation.audit import RawAudit

#: runs a dlt source through a pipeline (the asset: dagster-dlt's resource; the bench: ``pipeline.run``)
Load = Callable[[Any, dlt.Pipeline], Any]


@dataclass
class LandingIngest:
    found: landing.Intake
    loaded: Any  # what ``load`` returned


def repair(log, con: duckdb.DuckDBPyConnection, home: PapersHome, run_id: str) -> None:
    """What an interrupted run left behind is repaired before anything new is loaded."""
    repaired = reconcile(con, home, run_id)
    remove_stale_working_folders(home, keep=run_id)
    if repaired.anything:
        log.warning(f"recovered from an interrupted run: {repaired.describe()}")


def ingest_landing(con: duckdb.DuckDBPyConnection, home: PapersHome, run_id: str, load: Load, log,
                   files: Iterable[str] | None = None,
                   report: Callable[[str], None] | None = None) -> LandingIngest:
    """Load the landing files (all, or the named ones) into raw through ``con`` and settle them.
    ``report`` gets one line of progress per batch (default: the log)."""
    report = report or log.info
    repair(log, con, home, run_id)
    paths = landing.list_landing(home.landing, files)
    report(f"landing: reading {len(paths)} file(s)")
    audit = RawAudit(con)

    def batch_read(number: int, count: int, intake: landing.Intake) -> None:
        report(f"landing: batch {number} read ({count} file(s); so far {len(intake.to_load)} new, "
               f"{len(intake.duplicates)} duplicate, {len(intake.rejected)} rejected)")

    # a snapshot that breaks its raw suite is rejected before anything is written
    stream = landing.LandingStream(paths, lambda digests: seen_snapshots(con, digests),
                                   audit=lambda fmt, table: audit(FORMAT_TABLES[fmt], table), on_batch=batch_read)
    loaded = load(landing_source(stream), raw_pipeline("landing", con, home.dlt_runs / run_id))
    found = stream.finish()
    audit.finish(run_id=run_id, report_dir=home.reports)
    report(f"landing: {found.files} file(s) in {stream.batches_read} batch(es): {len(found.to_load)} loaded, "
           f"{len(found.duplicates)} duplicate, {len(found.rejected)} rejected")
    for item in found.rejected:
        log.warning(f"quarantining {item.path.name}: {item.reason}")
    settle_landing(con, found, home, run_id)
    return LandingIngest(found, loaded)
