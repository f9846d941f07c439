"""Whole-table expectations evaluated by DuckDB (one aggregate query each), not by pandas/GX.

Used for the expectations a suite marks ``"meta": {"scope": "table"}`` (see suites.py): a key's
uniqueness and the row count are properties of the whole table, so validating only the rows a run
touched cannot decide them, while DuckDB answers them over millions of rows in milliseconds
without moving any data into Python. Names, details and failing keys have the same shape as
Great Expectations' (``_gx.ExpectationOutcome``), so reports and messages do not change.

Also used for the uniqueness expectations a suite leaves to the validated rows (``"scope":
"rows"``, e.g. a snapshot's ``(snapshot_id, rank)``): evaluated by DuckDB over ``{table} where
{where}`` (``where=``), so that they see every validated row at once while Great Expectations
checks the row-by-row expectations a chunk of rows at a time (runner.py). There the outcome is the
one GX gives on a frame of those rows: examples are the first unexpected values in table order
(``rowid``, the order of the frame) and every failing key is listed (raw checks quarantine the
failing snapshots: all of them).

No pandas, pyarrow or GX import here.
"""

from __future__ import annotations

from typing import Any

from ._gx import EXAMPLES, ExpectationOutcome, _fmt, expectation_name

from orchestration.sql import quote_ident as q

MAX_FAILING_KEYS = 1000  # whole-table checks only; rows checks list every failing key (like GX)
_IGNORED_KWARGS = {"result_format", "catch_exceptions", "include_config", "batch_id", "meta"}
ROWS_EXPECTATIONS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
_ROWS_KWARGS = {"column", "column_list", "ignore_row_if", "mostly"}
_IGNORE_ROW_IF = ("all_values_are_missing", "any_value_is_missing", "never")
_ROWID = "__papers_rowid"


def supports_rows(exp: dict[str, Any]) -> bool:
    """Whether a rows-scope expectation can be evaluated here over the validated rows."""
    kwargs = {k: v for k, v in (exp.get("kwargs") or {}).items() if k not in _IGNORED_KWARGS}
    if exp.get("type") not in ROWS_EXPECTATIONS or not set(kwargs) <= _ROWS_KWARGS:
        return False
    if exp["type"] == "expect_column_values_to_be_unique":
        return isinstance(kwargs.get("column"), str) and "column_list" not in kwargs \
            and "ignore_row_if" not in kwargs
    return (isinstance(kwargs.get("column_list"), list) and "column" not in kwargs
            and kwargs.get("ignore_row_if", "all_values_are_missing") in _IGNORE_ROW_IF)


def evaluate(con, table: str, exp: dict[str, Any], *, key_column: str | None,
             columns: list[str], rows_where: str | None = None, rows: bool = False,
             rowid: bool = True) -> ExpectationOutcome:
    """Evaluate one whole-table expectation of a suite on ``table``; with ``rows``, a rows-scope
    uniqueness expectation (supports_rows) on the rows ``rows_where`` selects (all when None),
    examples in ``rowid`` order (by value when ``rowid`` is False: a view has no rowid)."""
    type_ = exp["type"]
    kwargs = {k: v for k, v in (exp.get("kwargs") or {}).items() if k not in _IGNORED_KWARGS}
    out = ExpectationOutcome(name=expectation_name(type_, dict(exp.get("kwargs") or {})),
                             success=True)
    if key_column not in columns:
        key_column = None
    source = table
    if rows:
        source = (f"(select {'rowid as ' + _ROWID + ', ' if rowid else ''}* from {table}"
                  + (f" where {rows_where}" if rows_where else "") + ")")
    order = _ROWID if rows and rowid else None
    try:
        if type_ == "expect_table_row_count_to_be_between" and not rows:
            _row_count(con, table, kwargs, out)
        elif type_ == "expect_column_values_to_be_unique":
            _unique(con, source, [kwargs.pop("column")], kwargs, "any_value_is_missing",
                    key_column, out, columns, order=order, all_keys=rows)
        elif type_ == "expect_compound_columns_to_be_unique":
            cols = list(kwargs.pop("column_list"))
            ignore = kwargs.pop("ignore_row_if", "all_values_are_missing")
            _unique(con, source, cols, kwargs, ignore, key_column, out, columns, order=order,
                    all_keys=rows)
        else:  # suites.evaluation_mode only lets the types above through
            raise ValueError(f"{type_} cannot be evaluated as a whole-table aggregate")
    except _Unsupported as exc:
        out.success, out.detail = False, f"error: {exc}"
    return out


class _Unsupported(Exception):
    pass


def _row_count(con, table: str, kwargs: dict, out: ExpectationOutcome) -> None:
    lo, hi = kwargs.pop("min_value", None), kwargs.pop("max_value", None)
    strict_min, strict_max = kwargs.pop("strict_min", False), kwargs.pop("strict_max", False)
    _no_more(kwargs)
    [(n,)] = con.sql(f"select count(*) from {table}").fetchall()
    ok = True
    if lo is not None:
        ok &= n > lo if strict_min else n >= lo
    if hi is not None:
        ok &= n < hi if strict_max else n <= hi
    out.success = bool(ok)
    if not ok:
        out.detail = f"observed {_fmt(n)}"


def _unique(con, table: str, cols: list[str], kwargs: dict, ignore_row_if: str,
            key_column: str | None, out: ExpectationOutcome, columns: list[str], *,
            order: str | None = None, all_keys: bool = False) -> None:
    """Rows whose value (combination) occurs more than once are unexpected, like GX's
    ``expect_column_values_to_be_unique`` (NULLs ignored) and
    ``expect_compound_columns_to_be_unique`` (rows ignored per ``ignore_row_if``).

    ``table`` may be a subquery. ``order``: a column giving the rows' order: the examples are
    then the first unexpected rows' values in that order (as GX's ``partial_unexpected_list``),
    else the smallest duplicated values. ``all_keys``: every failing key, not the first
    MAX_FAILING_KEYS."""
    mostly = kwargs.pop("mostly", None)
    _no_more(kwargs)
    missing = [c for c in cols if c not in columns]
    if missing:
        raise _Unsupported(f"column(s) missing: {', '.join(missing)}")
    qc = [q(c) for c in cols]
    if ignore_row_if == "all_values_are_missing":
        considered = "not (" + " and ".join(f"{c} is null" for c in qc) + ")"
    elif ignore_row_if == "any_value_is_missing":
        considered = " and ".join(f"{c} is not null" for c in qc)
    elif ignore_row_if == "never":
        considered = "true"
    else:
        raise _Unsupported(f"ignore_row_if={ignore_row_if!r}")
    group = ", ".join(qc)
    dups = (f"select {group}, count(*) as n from {table} where {considered} "
            f"group by {group} having count(*) > 1")
    # one scan: rows per value (combination), whether it is considered, how many are duplicated
    total, considered_n, unexpected = con.sql(
        "select coalesce(sum(n), 0), coalesce(sum(n) filter (where c), 0), "
        "coalesce(sum(n) filter (where c and n > 1), 0) "
        f"from (select ({considered}) as c, count(*) as n from {table} group by {group}, c)"
    ).fetchall()[0]
    total, considered_n, unexpected = int(total), int(considered_n), int(unexpected)
    if mostly is None:
        ok = unexpected == 0
    else:
        ok = considered_n == 0 or (1 - unexpected / considered_n) >= mostly
    out.success = bool(ok)
    if unexpected == 0 and ok:
        return
    out.unexpected_count = unexpected
    match = " and ".join(f"t.{c} is not distinct from d.{c}" for c in qc)
    if order:
        examples = con.sql(
            # a row outside the considered ones matches no duplicated group (is not distinct
            # from: a NULL only matches a NULL, and no group of ``dups`` is ignored)
            f"select {', '.join('t.' + c for c in qc)} from {table} as t semi join ({dups}) as d "
            f"on {match} order by t.{q(order)} limit {EXAMPLES}").fetchall()
    else:
        examples = con.sql(
            f"select {group} from ({dups}) order by {group} limit {EXAMPLES}").fetchall()
    if len(cols) == 1:
        values = [row[0] for row in examples]
    else:
        values = [dict(zip(cols, row)) for row in examples]
    seen: dict[str, Any] = {}  # GX's partial list holds one value per row: name each once
    for v in values:
        seen.setdefault(_fmt(v), v)
    out.examples = list(seen.values())[:EXAMPLES]
    pct = 100.0 * unexpected / considered_n if considered_n else 0.0
    out.detail = f"{unexpected} unexpected of {total} rows ({pct:.3g}%)"
    if out.examples:
        out.detail += ", e.g. " + ", ".join(_fmt(x) for x in out.examples)
    if key_column and not out.success:
        keys = con.sql(
            f"select distinct cast(t.{q(key_column)} as varchar) from {table} as t "
            f"semi join ({dups}) as d on {match} where t.{q(key_column)} is not null"
            + ("" if all_keys else f" limit {MAX_FAILING_KEYS}")
        ).fetchall()
        out.failing_keys = {k for (k,) in keys}


def _no_more(kwargs: dict) -> None:
    if kwargs:
        raise _Unsupported(f"unsupported argument(s) for a whole-table check: {sorted(kwargs)}")
