"""The release's Parquet files, ``parquet/<table>.parquet``: an unchanged table's file is reused from
the previous release (:func:`link_from_previous`), the others are exported by DuckDB with dbt's
descriptions as metadata (:func:`export_parquet`)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.publish.describe import parquet_copy_options
from orchestration.publish.fingerprints import Built, Previous
from orchestration.publish.releases import link_or_copy
from orchestration.publish.tables import Target
from orchestration.sql import quote_literal


def link_from_previous(previous: Previous | None, t: Target, building: Path, b: Built) -> bool:
    """Hard-link (or copy) an unchanged table's Parquet file from the previous release and carry its
    sha256 over instead of re-hashing; False when the previous release has no such file."""
    entry = previous.table(t.qualified) if previous else None
    if not entry or entry.get("parquet") != t.parquet:
        return False
    source = previous.dir / t.parquet
    try:
        if source.stat().st_size != entry["bytes"]:
            return False
    except (OSError, KeyError):
        return False
    if not link_or_copy(source, building / t.parquet):
        return False
    b.reused_parquet, b.parquet_sha256 = True, entry["sha256"]
    return True


def export_parquet(con: duckdb.DuckDBPyConnection, t: Target, building: Path) -> None:
    """Write the warehouse's table (``src``) as the release's Parquet file."""
    source = t.relation("src")
    con.execute(
        f"COPY {source} TO {quote_literal(building / t.parquet)} (FORMAT parquet"
        f"{parquet_copy_options(con, source, t.qualified)})"
    )
