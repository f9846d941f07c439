"""Great Expectations runner: validate DuckDB tables against the suites in ``expectations/``.

Importing this module is cheap: Great Expectations, pandas and pyarrow are imported only
when :func:`validate` (or ``suites.build_suite``) runs, and GX only when some target has rows to
validate (a run that added nothing never imports it).

Every expectation runs in GX on pandas frames of the target's rows holding only the columns the
suite references, at most ``chunk_rows`` rows a frame (default CHUNK_ROWS,
``PAPERS_VALIDATION_CHUNK_ROWS``), whose outcomes are merged into those of one pass (see
validate): memory does not grow with the number of rows validated. A view, and a suite with a
uniqueness rule (the raw suites, run on each parsed batch before it loads), get one frame. Outcomes carry the split
(``fetch_seconds``, ``gx_seconds``), ``chunks`` (frames) and ``scope`` (which rows). Which mart
rows a run validates, and the per-mart watermarks: scope.py; the audit of parsed batches before
they load: audit.py."""

from __future__ import annotations

import contextlib
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

from .suites import (
    SUITES_DIR,
    build_suite,
    load_suite,
    needs_one_frame,
    referenced_columns,
)

if TYPE_CHECKING:
    import duckdb

    from . import _gx


# public mart -> key column reported in failing_keys
MART_KEYS = {
    "papers": "paper_id",
    "paper_observations": "snapshot_id",
    "authors_count": "author_count",
    "authors_daily": "listing_date",
    "authors": "author_name",
    "paper_topics": "paper_id",
    "topics_daily": "listing_date",
}
MAX_KEYS_IN_REPORT = 20
# Great Expectations gets the validated rows of a target this many at a time (pandas frames of
# ~150-250 MiB at this size for the raw table), so that validation memory does not grow with the
# number of rows a run validates (Settings.validation_chunk_rows; 0: one frame).
CHUNK_ROWS = Settings.__dataclass_fields__["validation_chunk_rows"].default


@dataclass
class SuiteTarget:
    """Validate the rows of ``{table} [where {where}]`` against ``expectations/{suite}.json``.

    Great Expectations checks ``select <the columns the suite references> from {table} where
    {where}`` (see :meth:`query`) as pandas frames.

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
        """The ``columns`` of the validated rows; ``rowids=(first, end)``: those with ``first <= rowid
        < end`` (``end`` None: to the last), one chunk of them (see validate's ``chunk_rows``)."""
        # no column at all: one constant column, so the frame still has the rows
        cols = ", ".join(quote_ident(c) for c in columns) or '1 as "_row"'
        q = f"select {cols} from {self.table}"
        if rowids is None:
            return f"{q} where {self.where}" if self.where else q
        first, end = rowids
        conds = [f"rowid >= {int(first)}"] + ([f"rowid < {int(end)}"] if end is not None else [])
        if self.where:
            conds.append(f"({self.where})")
        return f"{q} where " + " and ".join(conds)


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
    chunks: int = 0  # frames GX checked (validate's chunk_rows)
    # each failed expectation's name and the key_column values of its unexpected rows
    keys_by_expectation: list[tuple[str, set[str]]] = field(default_factory=list)


def validate(
    con: "duckdb.DuckDBPyConnection",
    targets: list[SuiteTarget],
    *,
    run_id: str,
    report_dir: Path,
    chunk_rows: int | None = None,
) -> list[ValidationOutcome]:
    """Validate each target, record one row per target in ``ops.validation_results`` and
    write a Markdown report to ``report_dir / f"validation-{run_id}.md"``.

    ``chunk_rows`` (default: :data:`CHUNK_ROWS`): Great Expectations checks at most this many
    rows at a time: the target's rows are cut into consecutive ``rowid`` ranges of that many
    validated rows, each fetched and checked as its own frame, and the outcomes of the chunks are
    merged into what one frame of all the rows gives (_gx.merge_outcomes: counts, examples in
    table order, failing keys). A target without ``rowid`` (a view), and one whose suite holds a
    uniqueness expectation (suites.needs_one_frame), is checked in one frame.

    Returns the outcomes (each carries ``report_path``); raises nothing for failed suites:
    callers decide.
    """
    validated_at = datetime.now(timezone.utc)
    outcomes = evaluate(con, targets, chunk_rows=chunk_rows)
    record_outcomes(con, outcomes, run_id=run_id, report_dir=report_dir, validated_at=validated_at)
    return outcomes


def evaluate(
    con: "duckdb.DuckDBPyConnection",
    targets: list[SuiteTarget],
    *,
    chunk_rows: int | None = None,
    validator: "_gx.Validator | None" = None,
) -> list[ValidationOutcome]:
    """The outcome of each target, recorded nowhere (:func:`validate` records them).

    ``validator``: the GX validator to reuse across calls (its context is made on first need: it
    costs seconds); the caller closes it. Without it, one is made and closed within this call.
    """
    from . import _gx

    plans = {name: _SuitePlan(name) for name in dict.fromkeys(t.suite for t in targets)}
    with _gx.Validator() if validator is None else contextlib.nullcontext(validator) as gx_validator:
        return [_validate_one(con, target, plans[target.suite], gx_validator,
                              CHUNK_ROWS if chunk_rows is None else chunk_rows) for target in targets]


def record_outcomes(con, outcomes: list[ValidationOutcome], *, run_id: str, report_dir: Path,
                    validated_at: datetime | None = None) -> None:
    """Record the outcomes in ``ops.validation_results`` and in the run's report: a section
    appended to ``validation-<run>.md`` (a run validates in several steps, e.g. raw checks before
    dbt and mart checks after)."""
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
    record_results(con, outcomes, run_id=run_id, validated_at=validated_at)


class _SuitePlan:
    """A suite's expectations, the columns they reference, whether they need every validated row
    in one frame, and its GX suite (built on first use)."""

    def __init__(self, name: str) -> None:
        self.doc = load_suite(name)
        self.expectations = [dict(e) for e in self.doc["expectations"]]
        self.one_frame = any([needs_one_frame(e) for e in self.expectations])
        self.columns = list(dict.fromkeys(c for e in self.expectations for c in referenced_columns(e)))
        self._gx_suite = None

    def gx_suite(self):
        """The GX suite, each expectation's position in its meta (GX reorders results:
        _gx.Validator puts them back)."""
        if self._gx_suite is None:
            from ._gx import POSITION_META

            self._gx_suite = build_suite({
                "name": self.doc["name"], "meta": self.doc.get("meta"),
                "expectations": [{**e, "meta": {**(e.get("meta") or {}), POSITION_META: i}}
                                 for i, e in enumerate(self.expectations)],
            })
        return self._gx_suite


def _has_rowid(con, table: str) -> bool:
    import duckdb

    try:
        con.sql(f"select rowid from {table} limit 0").fetchall()
        return True
    except duckdb.Error:  # a view (or a table function) has no rowid
        return False


def _chunks(con, target: SuiteTarget, chunk_rows: int, rowid: bool
            ) -> tuple[int, list[tuple[int, int | None]] | None]:
    """The number of validated rows and the ``rowid`` ranges holding ``chunk_rows`` of them each
    (None: one chunk, the plain query)."""
    where = f" where {target.where}" if target.where else ""
    if not rowid or chunk_rows <= 0:
        return con.sql(f"select count(*) from {target.table}{where}").fetchall()[0][0], None
    # the first rowid of every chunk_rows-th validated row, and how many rows there are
    starts = con.sql(
        f"select rowid, count(*) over () from {target.table}{where} "
        f"qualify (row_number() over (order by rowid) - 1) % {int(chunk_rows)} = 0 "
        "order by rowid").fetchall()
    rows = starts[0][1] if starts else 0
    if len(starts) <= 1:
        return rows, None
    firsts = [r for r, _ in starts]
    return rows, list(zip(firsts, [*firsts[1:], None]))


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
    try:
        rowid = _has_rowid(con, target.table)
        out.rows, chunks = _chunks(con, target, 0 if plan.one_frame else chunk_rows, rowid)
        out.fetch_seconds = time.perf_counter() - t0
        if out.rows == 0 and set(plan.columns) <= set(columns):
            # nothing to validate: every expectation holds vacuously (as GX says)
            results = [_gx.ExpectationOutcome(name=_gx.expectation_name(e["type"], dict(e.get("kwargs") or {})),
                                              success=True) for e in plan.expectations]
        else:
            # GX on the validated rows, only the columns the expectations reference, a chunk at a time
            parts: list[list] = [[] for _ in plan.expectations]
            for bounds in chunks or [None]:
                t1 = time.perf_counter()
                df = _gx.frame_from_duckdb(con, target.query(wanted, bounds))
                t2 = time.perf_counter()
                out.fetch_seconds += t2 - t1
                found_parts = validator.run(plan.gx_suite(), df, key_column=target.key_column)
                del df  # the Validator keeps no reference: the frame goes now
                for found, part in zip(parts, found_parts):
                    found.append(part)
                out.gx_seconds += time.perf_counter() - t2
                out.chunks += 1
            results = [_gx.merge_outcomes(found, e.get("kwargs")) for found, e in zip(parts, plan.expectations)]
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


# --------------------------------------------------------------------------- ops table

def record_results(con, outcomes: list[ValidationOutcome], *, run_id: str,
                   validated_at: datetime) -> None:
    """Append one row per outcome to ``ops.validation_results``; ``failed_expectations`` is a JSON
    array of strings."""
    append_results(con, [(run_id, o.suite, o.table, o.evaluated, o.failed, o.success,
                          json.dumps(o.failed_expectations), validated_at, o.report_path, o.rows, o.scope)
                         for o in outcomes])


# --------------------------------------------------------------------------- text output


def render_report(outcomes: list[ValidationOutcome], *, run_id: str,
                  validated_at: datetime, header: bool = True) -> str:
    """Markdown for one ``validate`` call; ``header`` adds the file's title (first call of a run)."""
    ok = all(o.success for o in outcomes)
    out = []
    if header:
        out += [f"# Validation report — run `{run_id}`", "",
                f"Suites: `{SUITES_DIR.relative_to(REPO_ROOT)}/`. One section per validation step "
                "of the run.", ""]
    out += [
        f"## {validated_at.isoformat(timespec='seconds')} — {'PASS' if ok else 'FAIL'} "
        f"({sum(not o.success for o in outcomes)} of {len(outcomes)} suite runs failed)",
        "",
        "| status | suite | table | rows | expectations | failed | seconds | rows validated |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for o in outcomes:
        status = "PASS" if o.success else "**FAIL**"
        scope = o.scope.replace("|", "\\|")
        out.append(
            f"| {status} | {o.suite} | `{o.table}` | {o.rows} | {o.evaluated} | {o.failed} "
            f"| {o.seconds:.2f} | {scope} |"
        )
    for o in outcomes:
        if o.success:
            continue
        out += ["", f"### FAIL: {o.suite} on `{o.table}`", ""]
        out += [f"- `{f.split(': ', 1)[0]}`" + (f" — {f.split(': ', 1)[1]}" if ": " in f else "")
                for f in o.failed_expectations]
        if o.failing_keys:
            keys = sorted(o.failing_keys)
            shown = ", ".join(f"`{k}`" for k in keys[:MAX_KEYS_IN_REPORT])
            more = (f" and {len(keys) - MAX_KEYS_IN_REPORT} more"
                    if len(keys) > MAX_KEYS_IN_REPORT else "")
            out += ["", f"Failing `{o.key_column}` values: {shown}{more}"]
    return "\n".join(out) + "\n"
