"""Great Expectations runner: validate DuckDB tables against the suites in ``expectations/``.

Importing this module is cheap: Great Expectations, pandas and pyarrow are imported only
when :func:`validate` (or ``suites.build_suite``) runs.

    outcomes = validate(con, default_targets(), run_id=run_id, report_dir=home / "reports")
    print(summarize(outcomes))
    if not all(o.success for o in outcomes):
        raise ValidationFailed(outcomes)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .suites import REPO_ROOT, SUITES_DIR, build_suite, load_suite, suite_names

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "REPO_ROOT",
    "SUITES_DIR",
    "SuiteTarget",
    "ValidationOutcome",
    "ValidationFailed",
    "default_targets",
    "load_suite",
    "report_path_for",
    "summarize",
    "suite_names",
    "validate",
]

RAW_API_TABLES = ("raw.api_fetched_papers", "raw.landed_api_papers")
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


@dataclass
class SuiteTarget:
    """Validate ``select * from {table} [where {where}]`` against ``expectations/{suite}.json``.

    ``key_column``: values of this column among unexpected rows are collected into
    ``ValidationOutcome.failing_keys`` (e.g. ``snapshot_id`` to tell which snapshot broke).
    ``missing_ok``: a table that does not exist yet is skipped (a passing outcome with 0
    expectations evaluated) instead of failing; e.g. ``raw.api_fetched_papers`` before the
    first fetch.
    """

    suite: str
    table: str
    where: str | None = None
    key_column: str | None = None
    missing_ok: bool = False

    @property
    def query(self) -> str:
        q = f"select * from {self.table}"
        return f"{q} where {self.where}" if self.where else q


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
    skipped: str | None = None  # reason when the target was not validated (missing_ok)
    seconds: float = 0.0
    report_path: str | None = None


class ValidationFailed(Exception):
    """Raised by callers when any suite failed; the message names suites and expectations."""

    def __init__(self, outcomes: Iterable[ValidationOutcome]) -> None:
        self.outcomes = list(outcomes)
        self.failed = [o for o in self.outcomes if not o.success]
        parts = []
        for o in self.failed:
            keys = ""
            if o.failing_keys:
                shown = sorted(o.failing_keys)[:5]
                more = f" (+{len(o.failing_keys) - 5} more)" if len(o.failing_keys) > 5 else ""
                keys = f" [{o.key_column or 'key'}: {', '.join(shown)}{more}]"
            parts.append(
                f"{o.suite} on {o.table}: {'; '.join(o.failed_expectations) or 'failed'}{keys}"
            )
        report = next((o.report_path for o in self.outcomes if o.report_path), None)
        msg = f"validation failed: {len(self.failed)} suite(s): " + " | ".join(parts)
        if report:
            msg += f" (report: {report})"
        super().__init__(msg)


def default_targets(
    *,
    raw_where: str | None = None,
    include_raw: bool = True,
    include_marts: bool = True,
) -> list[SuiteTarget]:
    """The standard targets: both raw API tables, the page-card table and every public mart.

    ``raw_where`` restricts the raw tables (e.g. ``"snapshot_id in ('…')"`` or
    ``"_dlt_load_id in ('…')"``) to what this run added; raw tables that do not exist yet are
    skipped. Marts are validated whole and must exist.
    """
    targets: list[SuiteTarget] = []
    if include_raw:
        for table in RAW_API_TABLES:
            targets.append(
                SuiteTarget("raw_api_papers", table, raw_where, "snapshot_id", missing_ok=True)
            )
        targets.append(
            SuiteTarget("raw_page_cards", "raw.landed_page_cards", raw_where, "snapshot_id",
                        missing_ok=True)
        )
    if include_marts:
        for mart, key in MART_KEYS.items():
            targets.append(SuiteTarget(mart, f"marts.{mart}", None, key))
    return targets


def report_path_for(report_dir: Path, run_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return Path(report_dir) / f"validation-{safe}.md"


def validate(
    con: "duckdb.DuckDBPyConnection",
    targets: list[SuiteTarget],
    *,
    run_id: str,
    report_dir: Path,
) -> list[ValidationOutcome]:
    """Validate each target, record one row per target in ``ops.validation_results`` and
    write a Markdown report to ``report_dir / f"validation-{run_id}.md"``.

    Returns the outcomes (each carries ``report_path``); raises nothing for failed suites:
    callers decide (``ValidationFailed(outcomes)``).
    """
    import duckdb

    from . import _gx

    validator = _gx.Validator()
    suites: dict[str, object] = {}
    outcomes: list[ValidationOutcome] = []
    validated_at = datetime.now(timezone.utc)
    for target in targets:
        t0 = time.perf_counter()
        if target.suite not in suites:
            suites[target.suite] = build_suite(target.suite)
        try:
            df = _gx.frame_from_duckdb(con, target.query)
        except duckdb.CatalogException as exc:
            outcomes.append(_unreadable(target, exc, missing=True, t0=t0))
            continue
        except duckdb.Error as exc:
            outcomes.append(_unreadable(target, exc, missing=False, t0=t0))
            continue
        run = validator.run(suites[target.suite], df, key_column=target.key_column)
        failed = [e for e in run.expectations if not e.success]
        keys: set[str] = set()
        for e in failed:
            keys |= e.failing_keys
        outcomes.append(
            ValidationOutcome(
                suite=target.suite,
                table=target.table,
                evaluated=run.evaluated,
                failed=run.failed,
                success=run.success,
                failed_expectations=[e.line for e in failed],
                rows=len(df),
                failing_keys=keys,
                key_column=target.key_column,
                seconds=time.perf_counter() - t0,
            )
        )
    path = report_path_for(report_dir, run_id)
    for o in outcomes:
        o.report_path = str(path)
    write_report(path, outcomes, run_id=run_id, validated_at=validated_at)
    record_results(con, outcomes, run_id=run_id, validated_at=validated_at)
    return outcomes


def _unreadable(target: SuiteTarget, exc: Exception, *, missing: bool, t0: float):
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if missing and target.missing_ok:
        return ValidationOutcome(
            suite=target.suite, table=target.table, evaluated=0, failed=0, success=True,
            failed_expectations=[], rows=0, key_column=target.key_column,
            skipped=f"table does not exist yet ({first_line})",
            seconds=time.perf_counter() - t0,
        )
    what = "table_exists" if missing else "table_readable"
    return ValidationOutcome(
        suite=target.suite, table=target.table, evaluated=1, failed=1, success=False,
        failed_expectations=[f"{what}(table={target.table}): {first_line}"], rows=0,
        key_column=target.key_column, seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- ops table

_DDL = """
create table if not exists ops.validation_results (
    run_id varchar,
    suite varchar,
    table_name varchar,
    evaluated integer,
    failed integer,
    success boolean,
    failed_expectations varchar,
    validated_at timestamptz,
    report_path varchar,
    rows bigint
)
"""


def record_results(con, outcomes: list[ValidationOutcome], *, run_id: str,
                   validated_at: datetime) -> None:
    """Append one row per outcome to ``ops.validation_results`` (created when missing).

    ``failed_expectations`` is a JSON array of strings (or a list when the column was created
    by someone else as ``VARCHAR[]``).
    """
    con.execute("create schema if not exists ops")
    con.execute(_DDL)
    con.execute("alter table ops.validation_results add column if not exists rows bigint")
    col_type = con.execute(
        "select data_type from information_schema.columns where table_schema = 'ops' "
        "and table_name = 'validation_results' and column_name = 'failed_expectations'"
    ).fetchall()
    as_list = bool(col_type) and col_type[0][0].endswith("[]")
    rows = [
        (
            run_id, o.suite, o.table, o.evaluated, o.failed, o.success,
            o.failed_expectations if as_list else json.dumps(o.failed_expectations),
            validated_at, o.report_path, o.rows,
        )
        for o in outcomes
    ]
    if rows:
        con.executemany(
            "insert into ops.validation_results (run_id, suite, table_name, evaluated, failed, "
            "success, failed_expectations, validated_at, report_path, rows) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


# --------------------------------------------------------------------------- text output


def summarize(outcomes: Iterable[ValidationOutcome]) -> str:
    """One line per suite, e.g. ``FAIL raw_api_papers on raw.landed_api_papers: 1/39 failed…``."""
    lines = []
    for o in outcomes:
        if o.skipped:
            lines.append(f"SKIP {o.suite} on {o.table}: {o.skipped}")
            continue
        status = "PASS" if o.success else "FAIL"
        line = f"{status} {o.suite} on {o.table}: {o.evaluated - o.failed}/{o.evaluated} " \
               f"expectations passed, {o.rows} rows"
        if not o.success:
            names = [f.split(": ", 1)[0] for f in o.failed_expectations]
            line += " — failed: " + "; ".join(names)
            if o.failing_keys:
                line += f" ({o.key_column}: {', '.join(sorted(o.failing_keys)[:5])}" + \
                        (" …" if len(o.failing_keys) > 5 else "") + ")"
        lines.append(line)
    return "\n".join(lines)


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
        "| status | suite | table | rows | expectations | failed | seconds |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for o in outcomes:
        status = "SKIP" if o.skipped else ("PASS" if o.success else "**FAIL**")
        out.append(
            f"| {status} | {o.suite} | `{o.table}` | {o.rows} | {o.evaluated} | {o.failed} "
            f"| {o.seconds:.2f} |"
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
    skipped = [o for o in outcomes if o.skipped]
    if skipped:
        out += [""] + [f"- skipped {o.suite} on `{o.table}`: {o.skipped}" for o in skipped]
    return "\n".join(out) + "\n"


def write_report(path: Path, outcomes: list[ValidationOutcome], *, run_id: str,
                 validated_at: datetime) -> Path:
    """Write the report, or append a section when this run already has one (a run validates
    in several steps, e.g. raw checks before dbt and mart checks after)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    exists = path.is_file() and path.stat().st_size > 0
    text = render_report(outcomes, run_id=run_id, validated_at=validated_at, header=not exists)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(("\n" if exists else "") + text)
    return path
