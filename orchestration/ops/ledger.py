"""The change ledger: what is new since a consumer last took raw in.

Every raw row carries the ``_dlt_load_id`` of the load that wrote it (``raw._dlt_loads`` lists the
loads dlt completed; :func:`bookkeeping.reconcile` rolls back the rows of any other), and load ids
grow with time: "new since X" is ``_dlt_load_id > X``.

Each consumer records in ``ops.watermarks`` the newest load it has taken in and the md5 of the code
it did so with: ``dbt`` (the models and seeds that built the marts), ``validation:<table>`` (a
mart's suite, and the dbt code its rows were built with) and ``publish`` (the dbt build the last
release holds). A consumer without a row, or whose code changed since, takes in everything again
(:func:`plan`); it advances its row only after it succeeded. A full dbt rebuild drops the validation
watermarks (:func:`forget`). dbt reads its own window from this table (``macros/incremental_state.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb

from orchestration.snapshots.schemas import RAW_TABLES
from orchestration.sql import quote_literal, schema_columns, table_exists

#: the column dlt stamps every raw row with: the load that wrote it
LOAD_ID = "_dlt_load_id"
#: a raw row of a load dlt completed
COMPLETE = f"{LOAD_ID} in (select load_id from raw._dlt_loads)"
#: the dbt model of every paper observation, with the load that (re)computed it
OBSERVATIONS = "intermediate.int_paper_observations"

WATERMARKS = "ops.watermarks"
DBT = "dbt"
PUBLISH = "publish"

DDL = f"""
create schema if not exists ops;
create table if not exists {WATERMARKS} (
    consumer        varchar primary key,  -- 'dbt', 'validation:marts.papers', ...
    loaded_through  varchar not null,     -- the newest _dlt_load_id taken in ('' = none)
    code_md5        varchar not null,     -- md5 of the code that took it in
    run_id          varchar,              -- the run that took it in (publish: the run of the dbt build it holds)
    recorded_at     timestamptz not null
);
"""


@dataclass(frozen=True)
class Window:
    """The loads a consumer takes in now: ``_dlt_load_id > loaded_after`` (everything when
    ``full``), up to ``loaded_through``; ``reason`` says why in words."""

    loaded_after: str
    loaded_through: str
    full: bool
    reason: str

    @property
    def empty(self) -> bool:
        """Nothing to take in: no load after the watermark and the code is unchanged."""
        return not self.full and self.loaded_through <= self.loaded_after


def after_load(load_id: str) -> str:
    """A window's start in words: ``loads after 2026-12-01 05:24:41 UTC`` (a dlt load id is the Unix
    time it started), ``every load`` for none."""
    if not load_id:
        return "every load"
    try:
        return f"loads after {datetime.fromtimestamp(float(load_id), timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    except (ValueError, OverflowError, OSError):
        return f"loads after {load_id}"


def touched_papers_sql(since: str, database: str | None = None) -> str:
    """A query of the papers observed in the loads after ``since`` (every paper for ''): the papers
    an incremental dbt build since then recomputed (``touched_papers_sql`` in
    macros/incremental_state.sql), read from the warehouse (attached as ``database``)."""
    new = f"{LOAD_ID} > {quote_literal(since)}" if since else "true"
    return f"select paper_id from {database + '.' if database else ''}{OBSERVATIONS} where {new}"


def published_through(con: duckdb.DuckDBPyConnection) -> str | None:
    """The newest load the published release holds when the marts changed since only by
    incremental builds of later loads (the ``publish`` watermark, with the code of the last build;
    a full build drops it); else None."""
    published, built = _row(con, PUBLISH), _row(con, DBT)
    return published[0] if published and built and published[1] == built[1] else None


def _loaded_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The raw tables that exist with dlt's load column (none without dlt's list of loads)."""
    columns = schema_columns(con, "raw")
    return [t for t in RAW_TABLES if LOAD_ID in columns.get(t, ())] if "_dlt_loads" in columns else []


def newest_load(con: duckdb.DuckDBPyConnection) -> str:
    """The newest completed load that wrote raw rows ('' when none; a load that wrote nothing is not
    news, and the rows of one dlt did not complete are not arrivals: the next load rolls them back)."""
    tables = _loaded_tables(con)
    if not tables:
        return ""
    newest = " union all ".join(f"select max({LOAD_ID}) as load_id from raw.{t} where {COMPLETE}" for t in tables)
    return con.execute(f"select coalesce(max(load_id), '') from ({newest})").fetchall()[0][0]


def touched(con: duckdb.DuckDBPyConnection, window: Window) -> list[str]:
    """The raw tables holding rows of a completed load in ``window`` (for a full window, every raw
    table that has rows)."""
    bounds = "" if window.full else f" and {LOAD_ID} > ? and {LOAD_ID} <= ?"
    params = [] if window.full else [window.loaded_after, window.loaded_through]
    return [table for table in _loaded_tables(con)
            if con.execute(f"select 1 from raw.{table} where {COMPLETE}{bounds} limit 1", params).fetchall()]


def read(con: duckdb.DuckDBPyConnection, consumer: str) -> tuple[str, str] | None:
    """(loaded_through, code_md5) recorded for ``consumer``, or None."""
    mark = _row(con, consumer)
    return mark[:2] if mark else None


def _row(con: duckdb.DuckDBPyConnection, consumer: str) -> tuple[str, str, str | None] | None:
    if not table_exists(con, WATERMARKS):
        return None
    rows = con.execute(f"select loaded_through, code_md5, run_id from {WATERMARKS} where consumer = ?",
                       [consumer]).fetchall()
    return rows[0] if rows else None


def plan(con: duckdb.DuckDBPyConnection, consumer: str, code_md5: str, *,
         through: str | None = None, full: bool = False) -> Window:
    """The window ``consumer`` takes in now, up to ``through`` (default: the newest load)."""
    newest = newest_load(con) if through is None else through
    mark = _row(con, consumer)
    if full:
        return Window("", newest, True, "asked for")
    if mark is None:
        return Window("", newest, True, "first time: no watermark")
    if mark[1] != code_md5:
        return Window("", newest, True, "its code changed since")
    return Window(mark[0], newest, False, after_load(mark[0]))


def published_is_current(con: duckdb.DuckDBPyConnection, code_md5: str) -> bool:
    """Nothing arrived since the last dbt build, the project is the one it was built with, and that
    very build (its run) is the one published: a run has nothing to do after loading."""
    built = _row(con, DBT)
    return plan(con, DBT, code_md5).empty and built is not None and _row(con, PUBLISH) == built


def record_published(con: duckdb.DuckDBPyConnection) -> None:
    """The release just published holds the last dbt build: ``publish`` takes its row (load,
    code and the run that built it)."""
    built = _row(con, DBT)
    if built:
        advance(con, PUBLISH, Window("", built[0], False, ""), built[1], built[2])


def advance(con: duckdb.DuckDBPyConnection, consumer: str, window: Window, code_md5: str,
            run_id: str | None) -> None:
    """Record that ``consumer`` took in everything up to ``window.loaded_through`` with ``code_md5``."""
    con.execute(DDL)
    con.execute(
        f"insert or replace into {WATERMARKS} (consumer, loaded_through, code_md5, run_id, recorded_at) "
        "values (?, ?, ?, ?, now())", [consumer, window.loaded_through, code_md5, run_id])


def forget(con: duckdb.DuckDBPyConnection, prefix: str) -> None:
    """Drop the watermarks of the consumers named ``prefix...``: they take everything in next time
    (after a full rebuild rewrote every row they had taken in)."""
    if table_exists(con, WATERMARKS):
        con.execute(f"delete from {WATERMARKS} where starts_with(consumer, ?)", [prefix])
