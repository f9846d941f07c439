"""``ops.validation_results``: one row per suite run — what the validation step checked, when, and
how it ended (dbt's quality views publish it; ``papers status`` reads the latest)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

RESULTS = "ops.validation_results"

DDL = f"""
create schema if not exists ops;
create table if not exists {RESULTS} (
    run_id varchar,
    suite varchar,
    table_name varchar,
    evaluated integer,
    failed integer,
    success boolean,
    failed_expectations varchar,  -- JSON array of the failed expectations, readable
    validated_at timestamptz,
    report_path varchar,
    rows bigint,
    scope varchar                 -- which rows were checked ('all rows', or the touched ones)
);
"""


def ensure_results(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def append_results(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple]) -> None:
    """Append rows (tuples in the order of the columns of :data:`DDL`), creating the table when missing."""
    ensure_results(con)
    if rows:
        con.executemany(f"insert into {RESULTS} values ({', '.join('?' * len(rows[0]))})", list(rows))
