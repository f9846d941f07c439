"""The audit of a built release, before it is described, hashed and swapped in: what was written is
re-opened as a reader would open it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.publish.duckdb_file import STORAGE_VERSION, STORAGE_VERSION_NUMBER, read_storage_version_number
from orchestration.publish.fingerprints import Built
from orchestration.publish.layout import Layout
from orchestration.publish.quality import SCHEMA as QUALITY_SCHEMA
from orchestration.publish.releases import DUCKDB_FILE, PARQUET_DIR, PublishError
from orchestration.publish.tables import Columns, table_columns
from orchestration.sql import quote_literal


def audit_release(building: Path, layouts: dict[str, Layout], built: dict[str, Built],
                  columns: dict[str, Columns]) -> None:
    """No write-ahead log left behind; the storage format; no table but the published ones, each
    with the warehouse's columns and row count in the DuckDB file; no Parquet file but the listed
    ones, and each part (partition, or one-file table) holding its table's rows: the files written
    now re-opened (row counts from their footers, their columns and types), those linked from the
    previous release by the rows its manifest recorded for the same fingerprint and size.
    (Re-fingerprinting the patched tables would cost a full read of each.)"""
    db_path = building / DUCKDB_FILE
    if db_path.with_name(db_path.name + ".wal").exists():
        raise PublishError(f"{DUCKDB_FILE} left a write-ahead log behind")
    version = read_storage_version_number(db_path)
    if version != STORAGE_VERSION_NUMBER:
        raise PublishError(
            f"{db_path.name} has storage version number {version}, expected {STORAGE_VERSION_NUMBER} "
            f"({STORAGE_VERSION})"
        )
    listed = {f.path for b in built.values() for f in b.files}
    on_disk = {str(p.relative_to(building)) for p in (building / PARQUET_DIR).rglob("*") if not p.is_dir()}
    if on_disk != listed:
        raise PublishError(f"{PARQUET_DIR}/ holds {sorted(on_disk - listed)[:3]} not listed, "
                           f"lacks {sorted(listed - on_disk)[:3]}")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {quote_literal(db_path)} AS pub (READ_ONLY)")
        present = {(s, n) for s, n in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'pub'").fetchall()}
        # the quality schema of a file linked from the previous release is rewritten after the audit
        targets = [layout.target for layout in layouts.values()]
        extra = present - {(t.schema, t.table) for t in targets} - {p for p in present if p[0] == QUALITY_SCHEMA}
        if extra:
            raise PublishError(f"{DUCKDB_FILE} holds tables not published: {sorted(extra)}")
        for t in targets:
            b = built[t.qualified]
            if table_columns(con, "pub", t) != columns[t.qualified]:
                raise PublishError(f"{t.qualified}: columns in {DUCKDB_FILE} differ from the warehouse")
            in_db = con.execute(f"SELECT count(*) FROM {t.relation('pub')}").fetchall()[0][0]
            new = [f for f in b.files if not f.reused]
            if new:
                _audit_files(con, building, t.qualified, new, columns[t.qualified])
            for key, part in b.parts.items():
                in_files = sum(f.rows for f in part.files)
                if in_files != part.rows:
                    where = layouts[t.qualified].partition_dir(key) if key is not None else "its Parquet file"
                    raise PublishError(f"{t.qualified}: {part.rows} rows copied, {in_files} in {where}")
            if not in_db == b.rows:
                raise PublishError(f"{t.qualified}: {b.rows} rows copied, {in_db} in {DUCKDB_FILE}")
    finally:
        con.close()


def _audit_files(con: duckdb.DuckDBPyConnection, building: Path, qualified: str, files: list, columns: Columns) -> None:
    """The files written now, re-opened: each footer's row count is the one recorded, and the
    files' columns (no partition column: that is in the folder names) are the table's."""
    paths = {str(building / f.path): f for f in files}
    listing = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
    counts = dict(con.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata({listing})").fetchall())
    for path, f in paths.items():
        if counts.get(path) != f.rows:
            raise PublishError(f"{qualified}: {f.path} holds {counts.get(path)} rows, {f.rows} written")
    read = con.execute(f"DESCRIBE SELECT * FROM read_parquet({listing}, hive_partitioning = false)").fetchall()
    if [(name, type_) for name, type_, *_ in read] != columns:
        raise PublishError(f"{qualified}: columns in its Parquet files differ from the warehouse")
