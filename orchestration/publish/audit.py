"""The audit of a built release, before it is described, hashed and swapped in: what was written is
re-opened as a reader would open it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.publish.duckdb_file import STORAGE_VERSION, STORAGE_VERSION_NUMBER, read_storage_version_number
from orchestration.publish.fingerprints import Built
from orchestration.publish.quality import SCHEMA as QUALITY_SCHEMA
from orchestration.publish.releases import DUCKDB_FILE, PARQUET_DIR, PublishError
from orchestration.publish.tables import parquet_columns, table_columns, tables_in
from orchestration.sql import quote_literal


def audit_release(building: Path, built: dict[str, Built]) -> None:
    """No write-ahead log left behind; the storage format; in the DuckDB file no table but the published
    ones, each with the warehouse's columns and row count; no Parquet file but the listed ones, each
    part holding its rows (files written now re-opened; linked ones as the previous manifest recorded).
    (Re-fingerprinting the patched tables would cost a full read of each.)"""
    db_path = building / DUCKDB_FILE
    if db_path.with_name(db_path.name + ".wal").exists():
        raise PublishError(f"{DUCKDB_FILE} left a write-ahead log behind")
    if (version := read_storage_version_number(db_path)) != STORAGE_VERSION_NUMBER:
        raise PublishError(f"{db_path.name} has storage version number {version}, expected {STORAGE_VERSION_NUMBER} "
                           f"({STORAGE_VERSION})")
    listed = {f.path for b in built.values() for f in b.files}
    on_disk = {str(p.relative_to(building)) for p in (building / PARQUET_DIR).rglob("*") if not p.is_dir()}
    if on_disk != listed:
        raise PublishError(f"{PARQUET_DIR}/ holds {sorted(on_disk - listed)[:3]} not listed, "
                           f"lacks {sorted(listed - on_disk)[:3]}")
    with duckdb.connect(":memory:") as con:
        con.execute(f"ATTACH {quote_literal(db_path)} AS pub (READ_ONLY)")
        # the quality schema of a file linked from the previous release is rewritten after the audit
        targets = [b.layout.target for b in built.values()]
        extra = {t for t in tables_in(con, "pub") if t.schema != QUALITY_SCHEMA} - set(targets)
        if extra:
            raise PublishError(f"{DUCKDB_FILE} holds tables not published: "
                               f"{sorted((t.schema, t.table) for t in extra)}")
        for t in targets:
            b = built[t.qualified]
            if table_columns(con, "pub", t) != b.columns:
                raise PublishError(f"{t.qualified}: columns in {DUCKDB_FILE} differ from the warehouse")
            in_db = con.execute(f"SELECT count(*) FROM {t.relation('pub')}").fetchall()[0][0]
            # the files written now, re-opened: row counts as recorded, columns (no partition column) the table's
            if new := {str(building / f.path): f for f in b.files if not f.reused}:
                counts = dict(con.execute("SELECT file_name, num_rows FROM parquet_file_metadata(?)",
                                          [list(new)]).fetchall())
                for path, f in new.items():
                    if counts.get(path) != f.rows:
                        raise PublishError(f"{t.qualified}: {f.path} holds {counts.get(path)} rows, {f.rows} written")
                if parquet_columns(con, list(new)) != b.columns:
                    raise PublishError(f"{t.qualified}: columns in its Parquet files differ from the warehouse")
            for key, part in b.parts.items():
                in_files = sum(f.rows for f in part.files)
                if in_files != part.rows:
                    where = b.layout.partition_dir(key) if key is not None else "its Parquet file"
                    raise PublishError(f"{t.qualified}: {part.rows} rows copied, {in_files} in {where}")
            if in_db != b.rows:
                raise PublishError(f"{t.qualified}: {b.rows} rows copied, {in_db} in {DUCKDB_FILE}")
