"""Great Expectations glue: everything that touches GX, pandas or pyarrow lives here and is imported
lazily (``import great_expectations`` costs seconds). GX 1.x's SQL datasource does not work against
DuckDB, so tables are pulled into pandas via Arrow (see ../shared/docs/PITFALLS.md)."""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

# Keys of an expectation's kwargs shown first in its readable name, in this order.
_KWARG_ORDER = ("column", "column_list", "column_A", "column_B", "min_value", "max_value")
_HIDDEN_KWARGS = {"batch_id", "result_format", "catch_exceptions", "include_config"}
EXAMPLES = 5  # unexpected values quoted per failed expectation
POSITION_META = "papers_position"  # an expectation's position in its suite (suites.build_suite)


@functools.cache
def import_gx():
    """Import great_expectations once, with its logging quiet (Validator's context turns analytics off)."""
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # GX fingerprints every pandas batch below this size (hash_pandas_object over the whole frame,
    # twice per validation: ~2 s for 100k rows x 15 columns); nobody here reads the fingerprint
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx


def frame_from_duckdb(con, query: str):
    """Run ``query`` on DuckDB and return a pandas DataFrame shaped for GX's pandas engine."""
    import pandas as pd
    import pyarrow as pa

    table = con.sql(query).to_arrow_table()
    text = []
    for i, fld in enumerate(table.schema):
        t, col = fld.type, table.column(i)
        # DATE (date32) stays: to_pandas() yields datetime.date objects, comparable with the
        # datetime.date bounds GX parses from the suites' ISO strings (datetime64 columns are not)
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            text.append((i, fld.name, col))
        elif pa.types.is_timestamp(t) and t.unit != "ns":  # GX's vectorized path
            try:  # a safe cast raises instead of overflowing (years beyond 2262): keep those as they are
                table = table.set_column(i, fld.name, col.cast(pa.timestamp("ns", tz=t.tz)))
            except pa.ArrowException:
                pass
        elif pa.types.is_decimal(t):  # HUGEINT sums etc.: compare as numbers, not Decimal objects
            table = table.set_column(i, fld.name, col.cast(pa.float64(), safe=False))
        # expect_column_values_to_be_between is vectorized only for 64-bit numbers: any other width
        # (DuckDB INTEGER -> int32) runs a Python function per value (~1 s per 1M rows)
        elif pa.types.is_integer(t) and t != pa.int64() and t != pa.uint64():
            table = table.set_column(i, fld.name, col.cast(pa.int64()))
        elif pa.types.is_floating(t) and t != pa.float64():
            table = table.set_column(i, fld.name, col.cast(pa.float64()))
    # Text columns become object columns (Python str, None for NULL): GX copies the whole frame
    # once or twice per expectation (its null filter), and an object column copies pointers where
    # pandas' Arrow-backed str dtype copies every string's bytes.
    df = table.drop_columns([name for _, name, _ in text]).to_pandas()
    for i, name, col in text:
        df.insert(i, name, pd.Series(col.to_numpy(zero_copy_only=False), dtype=object, index=df.index))
    return df


@dataclass
class ExpectationOutcome:
    """One expectation's outcome: GX's figures for the frame(s) it saw; the keys of its unexpected
    rows (read by callers only when it failed without an error)."""

    name: str
    success: bool
    unexpected_count: int | None = None
    failing_keys: set[str] = field(default_factory=set)
    element_count: int | None = None
    missing_count: int | None = None  # None: GX reported no missing count (e.g. not_null)
    partial: list[Any] = field(default_factory=list, repr=False)  # first unexpected values, raw
    errors: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        """The name, and for a failure what went wrong: ``name: 3 unexpected of 40 rows (7.5%), e.g. -1``."""
        if self.success or (self.unexpected_count is None and not self.errors):
            return self.name
        if self.errors:
            return f"{self.name}: error: " + "; ".join(self.errors)
        detail = f"{self.unexpected_count} unexpected of {self.element_count} rows"
        # GX's unexpected_percent: of the non-missing rows when GX counts missing ones, else of all rows
        considered = (self.element_count or 0) - (self.missing_count or 0)
        if self.element_count and considered > 0:
            detail += f" ({self.unexpected_count / considered * 100:.3g}%)"
        examples = dict.fromkeys(_fmt(x) for x in self.partial)  # each shown once
        if examples:
            detail += ", e.g. " + ", ".join(examples)
        return f"{self.name}: {detail}"


class Validator:
    """One GX context (made on first use) and one dataframe asset for every frame it validates.

    GX's execution engine caches each batch's data (``BatchManager``, in a reference cycle only a
    full garbage collection would break) and there is no public call that releases it, so each
    frame is dropped from those caches once validated. The context is the process-wide current
    project while it runs; :meth:`close` (or leaving the ``with`` block) unregisters it.
    """

    def __init__(self) -> None:
        self.context = self._datasource = self._batch_def = None

    def __enter__(self) -> "Validator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _forget_frames(self) -> None:
        manager = self._datasource.get_execution_engine().batch_manager
        manager.batch_data_cache.clear()
        manager.reset_batch_cache()

    def close(self) -> None:
        if self.context is not None:
            from great_expectations.data_context import set_context

            self._forget_frames()
            set_context(None)
        self.context = self._datasource = self._batch_def = None

    def run(self, suite, df, *, key_column: str | None = None) -> list[ExpectationOutcome]:
        """The outcome of each expectation of ``suite`` on the frame ``df``, in the suite's order;
        with ``key_column``, each failed one names the keys of its unexpected rows."""
        if self.context is None:
            from great_expectations.data_context.types.base import (DataContextConfig, InMemoryStoreBackendDefaults,
                                                                     ProgressBarsConfig)

            # ephemeral and in memory: no gx/ folder, no progress bars (TQDM_DISABLE is ignored), no analytics
            self.context = import_gx().get_context(mode="ephemeral", project_config=DataContextConfig(
                analytics_enabled=False, progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
                store_backend_defaults=InMemoryStoreBackendDefaults()))
            self._datasource = self.context.data_sources.add_pandas(name="duckdb_frames")
            self._batch_def = self._datasource.add_dataframe_asset(name="frame") \
                .add_batch_definition_whole_dataframe("whole")
        from great_expectations.data_context import set_context

        set_context(self.context)  # another validator may have closed meanwhile
        # BASIC gives every figure but the unexpected rows' keys, at about half the fixed cost per
        # expectation of COMPLETE: the keys are asked for (a second pass) only when a row was unexpected
        results = self._validate(suite, df, {"result_format": "BASIC", "partial_unexpected_count": EXAMPLES})
        if key_column and key_column in df.columns and any(
                not r.success or (r.result or {}).get("unexpected_count") for r in results):
            results = self._validate(suite, df, {
                "result_format": "COMPLETE", "unexpected_index_column_names": [key_column],
                "return_unexpected_index_query": False, "partial_unexpected_count": EXAMPLES})
        else:
            key_column = None
        # GX does not keep the suite's order (e.g. expectations that raised come first)
        results = sorted(results, key=lambda r: (r.expectation_config.meta or {}).get(POSITION_META, 0))
        return [_outcome(r, key_column) for r in results]

    def _validate(self, suite, df, result_format: dict[str, Any]) -> list:
        try:
            batch = self._batch_def.get_batch(batch_parameters={"dataframe": df})
            return batch.validate(suite, result_format=result_format).results
        finally:
            self._forget_frames()


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
    """The first line of each exception GX reports (one, or one per metric id), once each."""
    if not isinstance(info, dict):
        return []
    infos = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    return list(dict.fromkeys(str(i["exception_message"]).strip().splitlines()[0][:300] for i in infos
                              if i.get("exception_message") and i.get("raised_exception", True)))


def _outcome(r, key_column: str | None) -> ExpectationOutcome:
    import pandas as pd

    res = r.result or {}
    out = ExpectationOutcome(name=expectation_name(r.expectation_config.type, dict(r.expectation_config.kwargs)),
                             success=bool(r.success))
    if not out.success:
        out.errors = _exception_messages(r.exception_info)
    if "unexpected_count" in res:
        out.unexpected_count = int(res.get("unexpected_count") or 0)
        out.element_count = res.get("element_count")
        out.missing_count = res.get("missing_count")
        out.partial = list(res.get("partial_unexpected_list") or [])[:EXAMPLES]
    # kept also when it passed (``mostly``): merged with other chunks' counts it may fail
    if key_column and not out.errors and out.unexpected_count:
        out.failing_keys = {str(item[key_column]) for item in res.get("unexpected_index_list") or []
                            if isinstance(item, dict) and not pd.isna(item.get(key_column))}
    return out


def merge_outcomes(parts: list[ExpectationOutcome], kwargs: dict[str, Any] | None = None) -> ExpectationOutcome:
    """The outcome of one row-wise expectation on a frame, from its outcomes on consecutive chunks
    of that frame (in frame order): what GX reports on the whole frame. Counts add up; success is
    GX's ``mostly`` over the summed counts; keys are the union; errors are listed once."""
    if len(parts) == 1:
        return parts[0]
    out = ExpectationOutcome(name=parts[0].name, success=False)
    out.errors = list(dict.fromkeys(e for p in parts for e in p.errors))
    if not out.errors:
        out.unexpected_count = sum(p.unexpected_count or 0 for p in parts)
        out.element_count = sum(p.element_count or 0 for p in parts)
        missing = [p.missing_count for p in parts]
        out.missing_count = None if None in missing else sum(missing)
        considered = out.element_count - (out.missing_count or 0)
        mostly = 1.0 if (kwargs or {}).get("mostly") is None else float(kwargs["mostly"])
        # GX: vacuously true without rows to consider; a part that failed without counts to merge
        # keeps the whole failed rather than passing on the others' counts
        out.success = all(p.success or p.unexpected_count is not None for p in parts) and (
            out.unexpected_count == 0 or considered <= 0
            or (considered - out.unexpected_count) / considered >= mostly)
        out.partial = [x for p in parts for x in p.partial][:EXAMPLES]
        out.failing_keys = set().union(*(p.failing_keys for p in parts))
    return out
