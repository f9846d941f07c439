"""Whole-table expectations evaluated by DuckDB (one aggregate query each), not by pandas/GX.

Used for the expectations a suite marks ``"meta": {"scope": "table"}`` (see suites.py): a key's
uniqueness and the row count are properties of the whole table, so validating only the rows a run
touched cannot decide them, while DuckDB answers them over millions of rows in milliseconds
without moving any data into Python. Names, details and failing keys have the same shape as
Great Expectations' (``_gx.ExpectationOutcome``), so reports and messages do not change.

No pandas, pyarrow or GX import here.
"""

from __future__ import annotations

from typing import Any

from ._gx import EXAMPLES, ExpectationOutcome, _fmt, expectation_name

MAX_FAILING_KEYS = 1000
_IGNORED_KWARGS = {"result_format", "catch_exceptions", "include_config", "batch_id", "meta"}


def q(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def evaluate(con, table: str, exp: dict[str, Any], *, key_column: str | None,
             columns: list[str]) -> ExpectationOutcome:
    """Evaluate one whole-table expectation of a suite on ``table``."""
    type_ = exp["type"]
    kwargs = {k: v for k, v in (exp.get("kwargs") or {}).items() if k not in _IGNORED_KWARGS}
    out = ExpectationOutcome(name=expectation_name(type_, dict(exp.get("kwargs") or {})),
                             success=True)
    if key_column not in columns:
        key_column = None
    try:
        if type_ == "expect_table_row_count_to_be_between":
            _row_count(con, table, kwargs, out)
        elif type_ == "expect_column_values_to_be_unique":
            _unique(con, table, [kwargs.pop("column")], kwargs, "any_value_is_missing",
                    key_column, out, columns)
        elif type_ == "expect_compound_columns_to_be_unique":
            cols = list(kwargs.pop("column_list"))
            ignore = kwargs.pop("ignore_row_if", "all_values_are_missing")
            _unique(con, table, cols, kwargs, ignore, key_column, out, columns)
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
            key_column: str | None, out: ExpectationOutcome, columns: list[str]) -> None:
    """Rows whose value (combination) occurs more than once are unexpected, like GX's
    ``expect_column_values_to_be_unique`` (NULLs ignored) and
    ``expect_compound_columns_to_be_unique`` (rows ignored per ``ignore_row_if``)."""
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
    total, considered_n = con.sql(
        f"select count(*), count(*) filter (where {considered}) from {table}").fetchall()[0]
    found = con.sql(f"select coalesce(sum(n), 0), count(*) from ({dups})").fetchall()[0]
    unexpected = int(found[0])
    if mostly is None:
        ok = unexpected == 0
    else:
        ok = considered_n == 0 or (1 - unexpected / considered_n) >= mostly
    out.success = bool(ok)
    if unexpected == 0 and ok:
        return
    out.unexpected_count = unexpected
    examples = con.sql(f"select {group} from ({dups}) order by {group} limit {EXAMPLES}").fetchall()
    if len(cols) == 1:
        out.examples = [row[0] for row in examples]
    else:
        out.examples = [dict(zip(cols, row)) for row in examples]
    pct = 100.0 * unexpected / considered_n if considered_n else 0.0
    out.detail = f"{unexpected} unexpected of {total} rows ({pct:.3g}%)"
    if out.examples:
        out.detail += ", e.g. " + ", ".join(_fmt(x) for x in out.examples)
    if key_column and not out.success:
        keys = con.sql(
            f"select distinct cast(t.{q(key_column)} as varchar) from {table} as t "
            f"semi join ({dups}) as d on " + " and ".join(
                f"t.{c} is not distinct from d.{c}" for c in qc)
            + f" where t.{q(key_column)} is not null limit {MAX_FAILING_KEYS}"
        ).fetchall()
        out.failing_keys = {k for (k,) in keys}


def _no_more(kwargs: dict) -> None:
    if kwargs:
        raise _Unsupported(f"unsupported argument(s) for a whole-table check: {sorted(kwargs)}")
