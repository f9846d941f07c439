"""Great Expectations glue. Everything that touches GX, pandas or pyarrow lives here and
is imported lazily (``import great_expectations`` costs several seconds).

Known GX 1.x facts this module works around (see docs/PITFALLS.md):
- the SQL datasource does not work against DuckDB, so tables are pulled into pandas via Arrow;
- GX turns ISO-date bounds in a suite ("2023-05-04") into ``datetime.date``; pandas'
  ``.df()`` would give DuckDB DATEs as ``datetime64[us]``, which GX cannot compare with them.
  Via Arrow, DATE columns arrive as ``datetime.date`` objects, which compare fine; timestamps
  are cast to ``datetime64[ns]`` (GX's vectorized path) when in range;
- progress bars are switched off through the context config (``TQDM_DISABLE`` is ignored);
- GX fingerprints every pandas batch (``hash_pandas_object`` over the whole frame, twice per
  validation: ~2 s for 100k rows x 15 columns, more with list/object columns) unless the frame's
  ``memory_usage()`` exceeds ``pandas_execution_engine.HASH_THRESHOLD``. The fingerprint is batch
  metadata nobody here reads, so the threshold is set to 0 (:func:`import_gx`);
- ``expect_column_values_to_be_between`` is vectorized only for int64/float64 (and datetime64[ns])
  columns: any other integer width (DuckDB INTEGER -> int32) runs a Python function per value
  (~1 s per 1M rows per expectation). Integer and float columns are widened to 64 bits here.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

_GX = None

# Keys of an expectation's kwargs shown first in its readable name, in this order.
_KWARG_ORDER = ("column", "column_list", "column_A", "column_B", "min_value", "max_value")
_HIDDEN_KWARGS = {"batch_id", "result_format", "catch_exceptions", "include_config"}
EXAMPLES = 5  # unexpected values quoted per failed expectation


def import_gx():
    """Import great_expectations once, with usage statistics off and its logging quiet."""
    global _GX
    if _GX is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.execution_engine import pandas_execution_engine

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        pandas_execution_engine.HASH_THRESHOLD = 0  # no batch fingerprint (see module docstring)
        _GX = gx
    return _GX


def make_context():
    """An ephemeral, in-memory GX context: no ``gx/`` folder, no progress bars, no analytics."""
    gx = import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def frame_from_duckdb(con, query: str):
    """Run ``query`` on DuckDB and return a pandas DataFrame shaped for GX's pandas engine."""
    import pyarrow as pa

    data = con.sql(query).arrow()
    table = data.read_all() if hasattr(data, "read_all") else data
    columns = []
    for i, fld in enumerate(table.schema):
        col = table.column(i)
        t = fld.type
        # DATE (date32) stays: to_pandas() yields datetime.date objects, comparable with the
        # datetime.date bounds GX parses from the suites' ISO strings.
        if pa.types.is_timestamp(t) and t.unit != "ns":
            try:  # a safe cast raises instead of overflowing (years beyond 2262)
                col = col.cast(pa.timestamp("ns", tz=t.tz))
            except pa.ArrowException:  # invalid or unsupported cast: keep the column as it is
                pass
        elif pa.types.is_decimal(t):  # HUGEINT sums etc.: compare as numbers, not Decimal objects
            col = col.cast(pa.float64(), safe=False)
        elif pa.types.is_integer(t) and t != pa.int64() and t != pa.uint64():
            col = col.cast(pa.int64())  # GX's vectorized path (see module docstring)
        elif pa.types.is_floating(t) and t != pa.float64():
            col = col.cast(pa.float64())
        columns.append(col)
    table = pa.Table.from_arrays(columns, names=table.column_names)
    return table.to_pandas()


@dataclass
class ExpectationOutcome:
    name: str
    success: bool
    detail: str = ""
    unexpected_count: int | None = None
    examples: list[Any] = field(default_factory=list)
    failing_keys: set[str] = field(default_factory=set)

    @property
    def line(self) -> str:
        return f"{self.name}: {self.detail}" if self.detail else self.name


@dataclass
class SuiteRun:
    evaluated: int
    failed: int
    success: bool
    expectations: list[ExpectationOutcome]


class Validator:
    """One GX context per ``validate`` call; one dataframe asset per target."""

    def __init__(self) -> None:
        self.context = make_context()
        self._datasource = self.context.data_sources.add_pandas(name="duckdb_frames")
        self._n = 0

    def run(self, suite, df, *, key_column: str | None = None) -> SuiteRun:
        self._n += 1
        asset = self._datasource.add_dataframe_asset(name=f"frame_{self._n}")
        batch_def = asset.add_batch_definition_whole_dataframe(f"whole_{self._n}")
        batch = batch_def.get_batch(batch_parameters={"dataframe": df})
        if key_column and key_column in df.columns:
            result_format: dict[str, Any] = {
                "result_format": "COMPLETE",
                "unexpected_index_column_names": [key_column],
                "return_unexpected_index_query": False,
                "partial_unexpected_count": EXAMPLES,
            }
        else:
            key_column = None
            result_format = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES}
        result = batch.validate(suite, result_format=result_format)
        outcomes = [_outcome(r, key_column) for r in result.results]
        failed = sum(not o.success for o in outcomes)
        return SuiteRun(
            evaluated=len(outcomes), failed=failed, success=failed == 0, expectations=outcomes
        )


def _fmt(v: Any) -> str:
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return str(int(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def expectation_name(type_: str, kwargs: dict[str, Any]) -> str:
    """``expect_column_values_to_be_between(column=upvotes, min_value=0)``."""
    shown = {k: v for k, v in kwargs.items() if k not in _HIDDEN_KWARGS and v is not None}
    keys = [k for k in _KWARG_ORDER if k in shown] + [k for k in shown if k not in _KWARG_ORDER]
    return f"{type_}(" + ", ".join(f"{k}={_fmt(shown[k])}" for k in keys) + ")"


def _exception_messages(info: Any) -> list[str]:
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        infos = [info]
    else:  # keyed by metric id
        infos = [v for v in info.values() if isinstance(v, dict)]
    msgs = []
    for i in infos:
        msg = i.get("exception_message")
        if msg and (i.get("raised_exception", True)):
            msgs.append(str(msg).strip().splitlines()[0][:300])
    return msgs


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(v != v)  # NaN / NaT
    except Exception:  # noqa: BLE001 - arrays etc.
        return False


def _outcome(r, key_column: str | None) -> ExpectationOutcome:
    cfg = r.expectation_config
    type_ = cfg.type
    kwargs = dict(cfg.kwargs)
    name = expectation_name(type_, kwargs)
    res = r.result or {}
    out = ExpectationOutcome(name=name, success=bool(r.success))
    if out.success:
        return out
    errors = _exception_messages(r.exception_info)
    if errors:
        out.detail = "error: " + "; ".join(dict.fromkeys(errors))
        return out
    if "unexpected_count" in res:
        n = res.get("unexpected_count") or 0
        total = res.get("element_count")
        pct = res.get("unexpected_percent")
        out.unexpected_count = int(n)
        seen: dict[str, Any] = {}
        for x in res.get("partial_unexpected_list") or []:
            seen.setdefault(_fmt(x), x)
        examples = list(seen.values())[:EXAMPLES]
        out.examples = examples
        detail = f"{n} unexpected of {total} rows"
        if pct is not None:
            detail += f" ({pct:.3g}%)"
        if examples:
            detail += ", e.g. " + ", ".join(_fmt(x) for x in examples)
        out.detail = detail
    elif "observed_value" in res:
        out.detail = f"observed {_fmt(res['observed_value'])}"
    elif type_ == "expect_column_to_exist":
        out.detail = "column is missing"
    if key_column:
        for item in res.get("unexpected_index_list") or []:
            if isinstance(item, dict):
                v = item.get(key_column)
                if not _is_missing(v):
                    out.failing_keys.add(str(v))
    return out
