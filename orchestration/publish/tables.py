"""The tables a release publishes, and the one connection that reads them from the warehouse: it
attaches the warehouse ``READ_ONLY`` as ``src`` in one transaction, so fingerprints and copies see the
same snapshot, and the release's DuckDB file as ``pub``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.publish.releases import PublishError, rmtree
from orchestration.sql import quote_ident, quote_literal

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: A table's columns as (name, type), in order.
Columns = list[tuple[str, str]]


@dataclass(frozen=True, order=True)
class Target:
    """One published table, e.g. ``marts.papers``."""

    schema: str
    table: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"

    def relation(self, database: str) -> str:
        """The table in an attached database (``src``: the warehouse, ``pub``: the release's file)."""
        return f"{database}.{quote_ident(self.schema)}.{quote_ident(self.table)}"


def parse_tables(tables: Sequence[str]) -> list[Target]:
    if isinstance(tables, str):
        raise TypeError("tables must be a sequence of qualified names, not one string")
    if not tables:
        raise ValueError("no tables to publish")
    targets: list[Target] = []
    for qualified in tables:
        parts = qualified.split(".")
        if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
            raise ValueError(f"table {qualified!r} is not a qualified name like 'marts.papers'")
        if parts[1] in {t.table for t in targets}:
            raise ValueError(f"table name {parts[1]!r} listed twice (Parquet files and folders are named by table)")
        targets.append(Target(*parts))
    return targets


def table_columns(con: duckdb.DuckDBPyConnection, database: str, t: Target) -> Columns:
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
        "AND table_name = ? ORDER BY column_index", [database, t.schema, t.table],
    ).fetchall()
    if not columns:
        raise PublishError(f"{t.qualified}: no such table in the "
                           f"{'warehouse' if database == 'src' else 'published file'}")
    return columns


@contextmanager
def read_warehouse(warehouse: Path, building: Path, memory_limit: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with ``warehouse`` attached read-only as ``src`` in a transaction, spilling near ``building``."""
    spill = building.parent / f"{building.name}.spill"
    con = duckdb.connect(":memory:")
    try:
        spill.mkdir(exist_ok=True)
        con.execute(f"SET temp_directory = {quote_literal(spill)}")
        con.execute("SET enable_progress_bar = false")  # long scans at 1M rows would draw one on a tty
        # bounded like every pipeline connection (``memory_limit``: Settings.duckdb_memory_limit); no row-order
        # guarantee is needed (marts have none), so DuckDB writes Parquet on every thread
        con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"ATTACH {quote_literal(warehouse)} AS src (READ_ONLY)")
        con.execute("BEGIN TRANSACTION")
        yield con
        con.execute("DETACH src")
    finally:
        con.close()
        rmtree(spill)


def parquet_columns(con: duckdb.DuckDBPyConnection, paths: list[str]) -> Columns:
    """The columns of the Parquet files ``paths``, without Hive partitions."""
    read = con.execute("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)", [paths]).fetchall()
    return [(name, type_) for name, type_, *_ in read]


def tables_in(con: duckdb.DuckDBPyConnection, database: str) -> set[Target]:
    return {Target(*row) for row in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [database]).fetchall()}
