"""Small SQL helpers every layer uses on a DuckDB connection: quoting, tables and their columns."""

from __future__ import annotations

import os


def quote_ident(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def quote_literal(value: str | os.PathLike[str]) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def table_exists(con, qualified: str) -> bool:
    """Whether ``schema.table`` exists in the connection's current database."""
    schema, table = qualified.split(".", 1)
    return bool(con.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table]).fetchall())


def schema_columns(con, schema: str) -> dict[str, set[str]]:
    """The tables of ``schema`` in the connection's current database, each with its column names."""
    columns: dict[str, set[str]] = {}
    for table, column in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema = ?", [schema]).fetchall():
        columns.setdefault(table, set()).add(column)
    return columns
