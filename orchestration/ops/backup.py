"""A consistent copy of a PAPERS_HOME, and putting one back (``papers backup`` / ``papers restore``).

The copy is taken while this process holds the warehouse's DuckDB lock: every step of a run that
writes opens the warehouse first, so none can run meanwhile and what :data:`KEPT` names is copied as
of one moment (the warehouse checkpointed first, then copied as a file). Scratch (``dlt/``,
``fetched/``, ``logs/``, dbt's per-run folders) and Dagster's instance are not part of it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from orchestration.config import PapersHome
from orchestration.snapshots.metadata import file_sha256
from orchestration.sources.landing_files import exists

MANIFEST = "backup.json"
#: what a backup holds, relative to the home (``published`` is a relative link into ``releases/``)
KEPT = ("warehouse.duckdb", "archive", "quarantine", "releases", "published", "reports", "landing",
        "dbt/target/partial_parse.msgpack")


class BackupError(RuntimeError):
    """The backup or restore did not happen; says why in one line."""


@dataclass(frozen=True)
class Backup:
    folder: Path
    files: int
    bytes: int
    seconds: float


def _lock(warehouse: Path, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """A read-write connection (DuckDB's exclusive lock on the file), waiting for a run to finish."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(warehouse))
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() >= deadline:
                raise BackupError(f"the warehouse is in use (a run, or an open SQL client) and stayed so for "
                                  f"{wait_seconds:.0f} s: {str(error).splitlines()[0]}") from None
            time.sleep(1)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        shutil.copytree(source, target, symlinks=True,
                        ignore=shutil.ignore_patterns("*.lock", ".building-*", ".prepared-*"))
    elif source.is_file():
        shutil.copy2(source, target)


def _empty(folder: Path) -> bool:
    """Missing, or holding nothing but empty folders (what ``papers init`` makes)."""
    return not folder.exists() or (folder.is_dir() and all(p.is_dir() for p in folder.rglob("*")))


def backup(home: PapersHome, dest: Path, wait_seconds: float = 60.0) -> Backup:
    """Copy ``home`` into the new folder ``dest``, consistent as of one moment (see the module)."""
    started = time.monotonic()
    if not home.warehouse.is_file():
        raise BackupError(f"nothing to back up: no warehouse at {home.warehouse}")
    if not _empty(dest):
        raise BackupError(f"{dest} exists and is not empty: give a new folder")
    con = _lock(home.warehouse, wait_seconds)
    try:
        con.execute("checkpoint")
        tables = {f"{schema}.{name}": con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
                  for schema, name in con.execute(
                      "select table_schema, table_name from information_schema.tables "
                      "where table_type = 'BASE TABLE' order by all").fetchall()}
        dest.mkdir(parents=True, exist_ok=True)
        for name in KEPT:
            if exists(home.root / name):
                _copy(home.root / name, dest / name)
    finally:
        con.close()
    files = [p for p in dest.rglob("*") if p.is_file() and not p.is_symlink()]
    manifest = {"made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "home": str(home.root),
                "warehouse_sha256": file_sha256(dest / "warehouse.duckdb"), "tables": tables, "files": len(files)}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return Backup(dest, len(files), sum(p.stat().st_size for p in files), time.monotonic() - started)


def restore(source: Path, home: PapersHome) -> dict:
    """Make the backup ``source`` the home ``home`` (which must be empty); returns its manifest."""
    manifest_path = source / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{source} is not a backup made by `papers backup` (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if file_sha256(source / "warehouse.duckdb") != manifest["warehouse_sha256"]:
        raise BackupError(f"{source / 'warehouse.duckdb'} differs from the one backed up (sha256): not restored")
    if not _empty(home.root):
        raise BackupError(f"the home {home.root} is not empty: restore into a new or empty home")
    home.root.mkdir(parents=True, exist_ok=True)
    for name in KEPT:
        if exists(source / name):
            target = home.root / name
            if target.is_dir() and not target.is_symlink():
                target.rmdir()  # an empty folder `papers init` made
            _copy(source / name, target)
    home.ensure()
    return manifest
