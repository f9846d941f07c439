"""Great Expectations runner: validate DuckDB tables against the suites in ``expectations/``.

Importing this module is cheap: GX, pandas and pyarrow are imported only when :func:`validate`
runs, and GX only when some target has rows to validate (a run that added nothing never imports it).

GX checks pandas frames of a target's rows holding only the columns its suite references, at most
``chunk_rows`` rows a frame (``Settings.validation_chunk_rows``): consecutive ``rowid`` ranges, whose
outcomes are merged into those of one pass (_gx.merge_outcomes), so memory does not grow with the
number of rows validated. A view (no ``rowid``) and a suite with a uniqueness rule
(suites.needs_one_frame) get one frame. Which mart rows a run validates: scope.py; the audit of
parsed batches before they load: audit.py."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from orchestration.config import Settings
from orchestration.ops.results import append_results
from orchestration.project import REPO_ROOT
from orchestration.sql import quote_ident

from .suites import SUITES_DIR, build_suite, load_suite, needs_one_frame, referenced_columns

if TYPE_CHECKING:
    import duckdb

    from . import _gx


# public mart -> key column reported in failing_keys
MART_KEYS = {"papers": "paper_id", "paper_observations": "snapshot_id", "authors_count": "author_count",
             "authors_daily": "listing_date", "authors": "author_name", "paper_topics": "paper_id",
             "topics_daily": "listing_date"}
MAX_KEYS_IN_REPORT = 20
CHUNK_ROWS = Settings.__dataclass_fields__["validation_chunk_rows"].default


@dataclass
class SuiteTarget:
    """Validate the rows of ``{table} [where {where}]`` against ``expectations/{suite}.json``.

    ``key_column``: values of this column among unexpected rows are collected into
    ``ValidationOutcome.failing_keys`` (e.g. ``snapshot_id`` to tell which snapshot broke).
    ``scope``: a readable description of which rows ``where`` selects (report, ops table).
    """

    suite: str
    table: str
    where: str | None = None
    key_column: str | None = None
    scope: str | None = None

    def query(self, columns: Iterable[str], rowids: tuple[int, int | None] | None = None) -> str:
        """The ``columns`` of the validated rows; ``rowids=(first, end)``: only those with
        ``first <= rowid < end`` (``end`` None: to the last)."""
        # no column at all: one constant column, so the frame still has the rows
        cols = ", ".join(quote_ident(c) for c in columns) or '1 as "_row"'
        conds = [self.where] if self.where else []
        if rowids is not None:
            conds.append(f"rowid >= {int(rowids[0])}")
            if rowids[1] is not None:
                conds.append(f"rowid < {int(rowids[1])}")
        return f"select {cols} from {self.table}" + (
            " where " + " and ".join(f"({c})" for c in conds) if conds else "")


@dataclass
class ValidationOutcome:
    suite: str
    table: str
    evaluated: int
    failed: int
    success: bool
    failed_expectations: list[str]
    rows: int
    failing_keys: set[str] = field(default_factory=set)
    key_column: str | None = None
    seconds: float = 0.0
    report_path: str | None = None
    scope: str = "all rows"  # which rows were validated (SuiteTarget.scope)
    # where the time went: fetching rows into pandas, GX on them
    fetch_seconds: float = 0.0
    gx_seconds: float = 0.0
    columns: list[str] = field(default_factory=list)  # columns fetched for GX
    chunks: int = 0  # frames GX checked
    # each failed expectation's name and the key_column values of its unexpected rows
    keys_by_expectation: list[tuple[str, set[str]]] = field(default_factory=list)


def validate(con: "duckdb.DuckDBPyConnection", targets: list[SuiteTarget], *, run_id: str, report_dir: Path,
             chunk_rows: int = CHUNK_ROWS) -> list[ValidationOutcome]:
    """Validate each target (at most ``chunk_rows`` rows a frame) and record the outcomes
    (:func:`record_outcomes`). Raises nothing for failed suites: callers decide."""
    validated_at = datetime.now(timezone.utc)
    outcomes = evaluate(con, targets, chunk_rows=chunk_rows)
    record_outcomes(con, outcomes, run_id=run_id, report_dir=report_dir, validated_at=validated_at)
    return outcomes


def evaluate(con: "duckdb.DuckDBPyConnection", targets: list[SuiteTarget], *, chunk_rows: int = CHUNK_ROWS,
             validator: "_gx.Validator | None" = None) -> list[ValidationOutcome]:
    """The outcome of each target, recorded nowhere. ``validator``: a GX validator to reuse across calls
    (its context costs seconds to make; the caller closes it), else one is made and closed here."""
    from . import _gx

    plans = {name: _SuitePlan(name) for name in dict.fromkeys(t.suite for t in targets)}
    with _gx.Validator() if validator is None else contextlib.nullcontext(validator) as gx_validator:
        return [_validate_one(con, target, plans[target.suite], gx_validator, chunk_rows) for target in targets]


def record_outcomes(con, outcomes: list[ValidationOutcome], *, run_id: str, report_dir: Path,
                    validated_at: datetime | None = None) -> None:
    """Append one row per outcome to ``ops.validation_results`` and a section to the run's report
    ``validation-<run>.md`` (a run validates in several steps, e.g. the raw audit and the marts)."""
    validated_at = validated_at or datetime.now(timezone.utc)
    path = Path(report_dir) / ("validation-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
                               + ".md")
    for o in outcomes:
        o.report_path = str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    exists = path.is_file() and path.stat().st_size > 0
    with path.open("a", encoding="utf-8") as fh:
        fh.write(("\n" if exists else "") + render_report(outcomes, run_id=run_id, validated_at=validated_at,
                                                          header=not exists))
    append_results(con, [(run_id, o.suite, o.table, o.evaluated, o.failed, o.success,
                          json.dumps(o.failed_expectations), validated_at, o.report_path, o.rows, o.scope)
                         for o in outcomes])


class _SuitePlan:
    """A suite's expectations, the columns they reference, whether they need every validated row
    in one frame, and its GX suite (built on first use)."""

    def __init__(self, name: str) -> None:
        self.doc = load_suite(name)
        self.expectations = self.doc["expectations"]
        self.one_frame = any([needs_one_frame(e) for e in self.expectations])
        self.columns = list(dict.fromkeys(c for e in self.expectations for c in referenced_columns(e)))

    @functools.cached_property
    def gx_suite(self):
        return build_suite(self.doc)


def _chunks(con, target: SuiteTarget, chunk_rows: int) -> tuple[int, list[tuple[int, int | None]] | None]:
    """The number of validated rows and the ``rowid`` ranges holding ``chunk_rows`` of them each
    (None: one frame, the plain query)."""
    import duckdb

    where = f" where {target.where}" if target.where else ""
    try:  # the first rowid of every chunk_rows-th validated row, and how many rows there are
        starts = con.sql(
            f"select rowid, count(*) over () from {target.table}{where} "
            f"qualify (row_number() over (order by rowid) - 1) % {int(chunk_rows)} = 0 "
            "order by rowid").fetchall() if chunk_rows > 0 else None
    except duckdb.BinderException:  # a view (or a table function) has no rowid
        starts = None
    if starts is None:
        return con.sql(f"select count(*) from {target.table}{where}").fetchall()[0][0], None
    firsts = [r for r, _ in starts]
    return (starts[0][1] if starts else 0), (list(zip(firsts, [*firsts[1:], None])) if len(starts) > 1 else None)


def _validate_one(con, target: SuiteTarget, plan: _SuitePlan, validator, chunk_rows: int) -> ValidationOutcome:
    import duckdb

    from . import _gx

    t0 = time.perf_counter()
    try:
        columns = list(con.sql(f"select * from {target.table} limit 0").columns)
    except duckdb.Error as exc:
        return _unreadable(target, exc, missing=isinstance(exc, duckdb.CatalogException), t0=t0)
    wanted = [c for c in columns if c in plan.columns or c == target.key_column]
    out = ValidationOutcome(suite=target.suite, table=target.table, evaluated=len(plan.expectations), failed=0,
                            success=True, failed_expectations=[], rows=0, key_column=target.key_column,
                            scope=target.scope or ("rows where " + target.where if target.where else "all rows"),
                            columns=wanted)
    results: list[_gx.ExpectationOutcome] = []
    try:
        out.rows, chunks = _chunks(con, target, 0 if plan.one_frame else chunk_rows)
        out.fetch_seconds = time.perf_counter() - t0
        # no rows (and every referenced column there): every expectation holds vacuously, as GX says
        if out.rows or not set(plan.columns) <= set(columns):
            runs = []
            for bounds in chunks or [None]:
                t1 = time.perf_counter()
                df = _gx.frame_from_duckdb(con, target.query(wanted, bounds))
                t2 = time.perf_counter()
                out.fetch_seconds += t2 - t1
                runs.append(validator.run(plan.gx_suite, df, key_column=target.key_column))
                del df  # the Validator keeps no reference: the frame goes now
                out.gx_seconds += time.perf_counter() - t2
                out.chunks += 1
            results = [_gx.merge_outcomes(list(parts), e.get("kwargs"))
                       for parts, e in zip(zip(*runs), plan.expectations)]
    except duckdb.Error as exc:
        return _unreadable(target, exc, missing=False, t0=t0)
    failed = [r for r in results if not r.success]
    out.failed, out.success = len(failed), not failed
    out.failed_expectations = [e.line for e in failed]
    out.failing_keys = set().union(*(e.failing_keys for e in failed))
    out.keys_by_expectation = [(e.name, set(e.failing_keys)) for e in failed]
    out.seconds = time.perf_counter() - t0
    return out


def _unreadable(target: SuiteTarget, exc: Exception, *, missing: bool, t0: float) -> ValidationOutcome:
    """A target whose table is missing or unreadable: one failed check that names the table."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    what = "table_exists" if missing else "table_readable"
    return ValidationOutcome(
        suite=target.suite, table=target.table, evaluated=1, failed=1, success=False,
        failed_expectations=[f"{what}(table={target.table}): {first_line}"], rows=0,
        key_column=target.key_column, seconds=time.perf_counter() - t0, scope=target.scope or "all rows")


# --------------------------------------------------------------------------- text output


def render_report(outcomes: list[ValidationOutcome], *, run_id: str, validated_at: datetime,
                  header: bool = True) -> str:
    """Markdown for one ``validate`` call; ``header`` adds the file's title (first call of a run)."""
    ok = all(o.success for o in outcomes)
    out = []
    if header:
        out += [f"# Validation report — run `{run_id}`", "",
                f"Suites: `{SUITES_DIR.relative_to(REPO_ROOT)}/`. One section per validation step of the run.", ""]
    out += [f"## {validated_at.isoformat(timespec='seconds')} — {'PASS' if ok else 'FAIL'} "
            f"({sum(not o.success for o in outcomes)} of {len(outcomes)} suite runs failed)", "",
            "| status | suite | table | rows | expectations | failed | seconds | rows validated |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for o in outcomes:
        scope = o.scope.replace("|", "\\|")
        out.append(f"| {'PASS' if o.success else '**FAIL**'} | {o.suite} | `{o.table}` | {o.rows} | {o.evaluated} "
                   f"| {o.failed} | {o.seconds:.2f} | {scope} |")
    for o in [o for o in outcomes if not o.success]:
        out += ["", f"### FAIL: {o.suite} on `{o.table}`", ""]
        out += [f"- `{f.split(': ', 1)[0]}`" + (f" — {f.split(': ', 1)[1]}" if ": " in f else "")
                for f in o.failed_expectations]
        if o.failing_keys:
            keys = sorted(o.failing_keys)
            shown = ", ".join(f"`{k}`" for k in keys[:MAX_KEYS_IN_REPORT])
            more = f" and {len(keys) - MAX_KEYS_IN_REPORT} more" if len(keys) > MAX_KEYS_IN_REPORT else ""
            out += ["", f"Failing `{o.key_column}` values: {shown}{more}"]
    return "\n".join(out) + "\n"
