"""The audit of a built release, before it is described, hashed and swapped in: what was written is
re-opened as a reader would open it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.publish.duckdb_file import STORAGE_VERSION, STORAGE_VERSION_NUMBER, read_storage_version_number
from orchestration.publish.fingerprints import Built
from orchestration.publish.quality import SCHEMA as QUALITY_SCHEMA
from orchestration.publish.releases import DUCKDB_FILE, PublishError
from orchestration.publish.tables import Columns, Target, table_columns
from orchestration.sql import quote_literal


def audit_release(building: Path, targets: list[Target], built: dict[str, Built], columns: dict[str, Columns]) -> None:
    """No write-ahead log left behind; the storage format; no table but the published ones, each
    with the warehouse's columns and row count, in the DuckDB and the Parquet file.
    (Re-fingerprinting the patched tables would cost a full read of each: 2.4 s at 1M papers.)"""
    db_path = building / DUCKDB_FILE
    if db_path.with_name(db_path.name + ".wal").exists():
        raise PublishError(f"{DUCKDB_FILE} left a write-ahead log behind")
    version = read_storage_version_number(db_path)
    if version != STORAGE_VERSION_NUMBER:
        raise PublishError(
            f"{db_path.name} has storage version number {version}, expected {STORAGE_VERSION_NUMBER} "
            f"({STORAGE_VERSION})"
        )
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {quote_literal(db_path)} AS pub (READ_ONLY)")
        present = {(s, n) for s, n in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'pub'").fetchall()}
        # the quality schema of a file linked from the previous release is rewritten after the audit
        extra = present - {(t.schema, t.table) for t in targets} - {p for p in present if p[0] == QUALITY_SCHEMA}
        if extra:
            raise PublishError(f"{DUCKDB_FILE} holds tables not published: {sorted(extra)}")
        for t in targets:
            rows = built[t.qualified].rows
            if table_columns(con, "pub", t) != columns[t.qualified]:
                raise PublishError(f"{t.qualified}: columns in {DUCKDB_FILE} differ from the warehouse")
            in_db = con.execute(f"SELECT count(*) FROM {t.relation('pub')}").fetchall()[0][0]
            in_parquet = con.execute(
                f"SELECT count(*) FROM read_parquet({quote_literal(building / t.parquet)})"
            ).fetchall()[0][0]
            if not in_db == in_parquet == rows:
                raise PublishError(
                    f"{t.qualified}: {rows} rows copied, {in_db} in {DUCKDB_FILE}, {in_parquet} in {t.parquet}"
                )
    finally:
        con.close()
