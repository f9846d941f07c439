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
    """Append rows (run_id, suite, table_name, evaluated, failed, success, failed_expectations,
    validated_at, report_path, rows, scope), creating the table when missing."""
    ensure_results(con)
    if rows:
        con.executemany(f"insert into {RESULTS} (run_id, suite, table_name, evaluated, failed, success, "
                        "failed_expectations, validated_at, report_path, rows, scope) "
                        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(rows))
