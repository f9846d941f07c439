"""Validation in chunks gives what one pass gives, and leaves no frame behind.

``validate(..., chunk_rows=N)`` lets Great Expectations check N validated rows at a time and merges
the outcomes; a suite with a uniqueness rule (the raw suites) sees every validated row in one frame.
These tests force tiny chunks (1, 2, 3 rows) on the runner tests' warehouse plus a raw table whose
duplicates lie far apart and a papers table whose failures are spread over many chunks (more
unexpected values than a report quotes), and compare every outcome, the report's failure sections
and ``ops.validation_results`` with one pass (``chunk_rows=0``).
"""

from __future__ import annotations

import gc
import json
import shutil

import duckdb
import pytest

from orchestration.validation import _gx
from orchestration.validation.runner import SuiteTarget, validate
from tests.validation.targets import mart_targets
from orchestration.validation.suites import build_suite, needs_one_frame
from tests.validation.test_validation_runner import (
    BAD_DATES,
    BAD_UPVOTES,
    GOOD_A,
    GOOD_B,
    RAW_API_DDL,
    api_row,
    build_warehouse,
    insert,
)

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

SPREAD = "raw.spread_api_papers"
SPREAD_PAPERS = "broken.spread_papers"
S1, S2, S3, S4 = (f"{n:064x}" for n in (1, 2, 3, 4))


def add_spread_table(db) -> None:
    """A raw table (34 rows) whose failures fall into different chunks of any size."""
    con = duckdb.connect(str(db))
    con.execute(RAW_API_DDL.format(table=SPREAD))
    rows = []
    for n in range(1, 11):  # S1: fine
        rows.append(api_row(S1, n, f"2406.{n:05d}", n))
    for n in range(1, 9):  # S2: negative upvotes on every other row: 4 unexpected, far apart
        rows.append(api_row(S2, n, f"2406.{100 + n:05d}", -n if n % 2 else n))
    for n in range(1, 11):  # S3: the paper of rank 3 again at the end: a duplicate 8 rows after the first
        rows.append(api_row(S3, n, f"2406.{200 + n:05d}", 1))
    rows.append(api_row(S3, 11, "2406.00203", 2))
    rows += [  # S4: a bad listing date, a bad arxiv id, more negative upvotes
        api_row(S4, 1, "2406.00401", -7, listing_date="2022-12-31"),
        api_row(S4, 2, "not-an-arxiv-id", -8),
        api_row(S4, 3, "2406.00403", -9),
        api_row(S4, 4, "2406.00404", -10),
        api_row(S4, 5, "2406.00405", 0),
    ]
    insert(con, SPREAD, rows)
    con.execute(f"create view {SPREAD}_view as select * from {SPREAD}")  # no rowid: one frame
    # 33 papers (3 x 11 copies of marts.papers): every other copy's upvotes negative
    con.execute(f"""create table {SPREAD_PAPERS} as
        select * replace (paper_id || '-' || i as paper_id,
                          case when i % 2 = 1 then -i else upvotes end as upvotes)
        from marts.papers, range(1, 12) t(i) order by i, paper_id""")
    con.close()


def targets() -> list[SuiteTarget]:
    return [
        SuiteTarget("raw_api_papers", "raw.landed_api_papers",
                    f"snapshot_id <> '{BAD_UPVOTES}'", "snapshot_id"),
        SuiteTarget("raw_api_papers", "raw.landed_api_papers", None, "snapshot_id"),
        SuiteTarget("raw_api_papers", "broken.api_papers", None, "snapshot_id"),
        SuiteTarget("papers", "broken.papers", None, "paper_id"),
        SuiteTarget("raw_api_papers", SPREAD, None, "snapshot_id"),
        SuiteTarget("raw_api_papers", SPREAD, f"snapshot_id <> '{S1}'", "snapshot_id"),
        SuiteTarget("raw_api_papers", SPREAD, "false", "snapshot_id"),
        SuiteTarget("raw_api_papers", f"{SPREAD}_view", f"snapshot_id <> '{S1}'", "snapshot_id"),
        SuiteTarget("papers", SPREAD_PAPERS, None, "paper_id"),
        SuiteTarget("topics_daily", "marts.topics_weekly", None, "listing_date"),  # missing
    ] + mart_targets()


COMPARED = ("suite", "table", "evaluated", "failed", "success", "failed_expectations", "rows",
            "failing_keys", "key_column", "scope", "columns")


def comparable(outcome) -> dict:
    return {name: getattr(outcome, name) for name in COMPARED}


def without_timings(report: str) -> str:
    """The report with the seconds column blanked."""
    lines = []
    for line in report.splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) == 8 and cells[6].replace(".", "").isdigit():
            cells[6] = "-"
        lines.append(" | ".join(cells))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chunks")
    base = tmp / "base.duckdb"
    build_warehouse(base)
    add_spread_table(base)
    out = {}
    for chunk_rows in (0, 1, 2, 3):
        db = tmp / f"w{chunk_rows}.duckdb"
        shutil.copy(base, db)
        con = duckdb.connect(str(db))
        outcomes = validate(con, targets(), run_id="r", report_dir=tmp / f"reports{chunk_rows}",
                            chunk_rows=chunk_rows)
        ops = con.execute(
            "select suite, table_name, evaluated, failed, success, failed_expectations, rows, "
            "scope from ops.validation_results order by rowid").fetchall()
        con.close()
        out[chunk_rows] = {"outcomes": outcomes, "ops": ops,
                           "report": (tmp / f"reports{chunk_rows}" / "validation-r.md").read_text()}
    return out


@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_chunked_outcomes_equal_one_pass(runs, chunk_rows):
    one, chunked = runs[0]["outcomes"], runs[chunk_rows]["outcomes"]
    assert len(one) == len(chunked)
    for a, b in zip(one, chunked):
        assert comparable(b) == comparable(a), a.table


@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_chunked_report_and_ops_table_equal_one_pass(runs, chunk_rows):
    assert runs[chunk_rows]["ops"] == runs[0]["ops"]
    header = runs[0]["report"].split("\n## ", 1)[0]
    for n in (0, chunk_rows):  # the section's title has a time stamp: compare from its table on
        assert runs[n]["report"].startswith(header)
    body = [without_timings(runs[n]["report"].split("| status |", 1)[1]) for n in (0, chunk_rows)]
    assert body[1] == body[0]


def test_chunks_were_used_and_failures_found_across_them(runs):
    one = {(o.table, o.scope): o for o in runs[0]["outcomes"]}
    two = {(o.table, o.scope): o for o in runs[2]["outcomes"]}
    papers = two[(SPREAD_PAPERS, "all rows")]
    assert one[(SPREAD_PAPERS, "all rows")].chunks == 1 and papers.chunks == 17
    assert papers.rows == 33 and not papers.success
    [line] = papers.failed_expectations
    # 18 negative counts (6 copies of 3 papers) of the 28 non-null ones (the card's are NULL in the
    # 5 other copies), quoted as the first 5 unexpected rows in table order: -1 three times, then -3
    assert line == ("expect_column_values_to_be_between(column=upvotes, min_value=0): "
                    "18 unexpected of 33 rows (64.3%), e.g. -1, -3")
    assert len(papers.failing_keys) == 18
    # a suite with a uniqueness rule sees all the validated rows at once: the duplicated
    # (snapshot_id, arxiv_id) of S3, 8 rows apart, is found also with chunk_rows=2
    spread = two[(SPREAD, "all rows")]
    assert spread.chunks == 1 and spread.rows == 34 and not spread.success
    assert spread.failing_keys == {S2, S3, S4}
    lines = {f.split(": ", 1)[0]: f.split(": ", 1)[1] for f in spread.failed_expectations}
    assert lines["expect_column_values_to_be_between(column=upvotes, min_value=0)"] == (
        "8 unexpected of 34 rows (23.5%), e.g. -1, -3, -5, -7")
    unique = [v for k, v in lines.items() if k.startswith(
        "expect_compound_columns_to_be_unique(column_list=[snapshot_id, arxiv_id]")]
    assert unique and unique[0].startswith("2 unexpected of 34 rows")
    assert two[(SPREAD, "rows where false")].rows == 0
    assert two[(SPREAD, "rows where false")].success
    # a view has no rowid: checked in one frame, with the outcome of the table's rows
    scope = f"rows where snapshot_id <> '{S1}'"
    view, table = two[(f"{SPREAD}_view", scope)], two[(SPREAD, scope)]
    assert view.chunks == table.chunks == 1
    assert (view.rows, view.failing_keys) == (table.rows, table.failing_keys) == (24, {S2, S3, S4})
    assert {f.split(": ", 1)[0] for f in view.failed_expectations} == {
        f.split(": ", 1)[0] for f in table.failed_expectations}


def test_known_failures_of_the_runner_fixture_are_found_in_chunks(runs):
    outcomes = runs[1]["outcomes"]
    assert outcomes[1].failing_keys == {BAD_UPVOTES} and not outcomes[1].success
    assert outcomes[2].failing_keys == {BAD_DATES}
    assert outcomes[3].failing_keys == {"2406.06608"}
    assert outcomes[0].success and outcomes[0].failing_keys == set()
    assert {GOOD_A, GOOD_B} & outcomes[1].failing_keys == set()


def test_validate_leaves_no_frame_and_no_context_behind(tmp_path):
    import pandas as pd
    from great_expectations.data_context.data_context.context_factory import project_manager

    db = tmp_path / "w.duckdb"
    build_warehouse(db)
    add_spread_table(db)

    def frames() -> int:
        gc.collect()
        return sum(isinstance(o, pd.DataFrame) for o in gc.get_objects())

    before = frames()
    con = duckdb.connect(str(db))
    try:
        validate(con, targets(), run_id="r", report_dir=tmp_path, chunk_rows=2)
    finally:
        con.close()
    assert frames() == before
    with pytest.raises(Exception):  # no current GX project left registered
        project_manager.get_current_project()


# --------------------------------------------------------------------------- merging, unit level

SUITE = {"name": "merge_test", "expectations": [
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "x", "min_value": 0, "mostly": 0.7}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "s", "value_set": ["ab", "q"]}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^a"}},
    {"type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "s", "min_value": 2}},
    {"type": "expect_column_pair_values_a_to_be_greater_than_b",
     "kwargs": {"column_A": "a", "column_B": "b", "or_equal": True,
                "ignore_row_if": "either_value_is_missing"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "nope", "min_value": 0}},
]}


def test_merged_chunk_outcomes_equal_gx_on_the_whole_frame():
    import pandas as pd

    df = pd.DataFrame({
        "k": [f"k{i}" for i in range(12)],
        "x": [1, None, -5, 3, -2, -2, 4, 5, 6, -1, 8, None],
        "s": ["ab", "zz", None, "q", "ab", "ab", "zz", "x", "ab", "q", "ab", "aa"],
        "a": [1, 2, None, 0, 5, 1, 3, 3, 1, 0, 9, 2],
        "b": [0, 3, 1, None, 6, 1, 2, 4, 0, 1, 8, 2],
    })
    doc = {**SUITE, "expectations": [
        {**e, "meta": {_gx.POSITION_META: i}} for i, e in enumerate(SUITE["expectations"])]}
    suite = build_suite(doc)
    with _gx.Validator() as validator:
        whole = validator.run(suite, df, key_column="k")
        for size in (1, 2, 5, 6):  # 6: a chunk passes `mostly` with an unexpected row
            parts = [validator.run(suite, df.iloc[i:i + size].reset_index(drop=True), key_column="k")
                     for i in range(0, len(df), size)]
            for n, exp in enumerate(SUITE["expectations"]):
                merged = _gx.merge_outcomes([p[n] for p in parts], exp["kwargs"])
                one = whole[n]
                assert (merged.name, merged.success, merged.line, merged.failing_keys) == (
                    one.name, one.success, one.line, one.failing_keys), (size, one.name)
    # GX's order of results is put back into the suite's
    assert [o.name.split("(")[0] for o in whole] == [e["type"] for e in SUITE["expectations"]]
    assert whole[0].line == "expect_column_values_to_be_between(column=x, min_value=0): " \
        "4 unexpected of 12 rows (40%), e.g. -5, -2, -1"
    assert not whole[1].success  # mostly 0.7 of 10 non-null values: 6 expected
    assert whole[-1].line.startswith("expect_column_values_to_be_between(column=nope, min_value=0): error")


def test_uniqueness_needs_one_frame_and_other_types_are_refused():
    assert not needs_one_frame({"type": "expect_column_values_to_be_between", "kwargs": {"column": "a"}})
    assert not needs_one_frame({"type": "expect_column_pair_values_a_to_be_greater_than_b",
                                "kwargs": {"column_A": "a", "column_B": "b"}})
    assert needs_one_frame({"type": "expect_column_values_to_be_unique", "kwargs": {"column": "a"}})
    assert needs_one_frame({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a"]}})
    for type_ in ("expect_column_max_to_be_between", "expect_table_row_count_to_be_between"):
        with pytest.raises(ValueError, match="not evaluated here"):
            needs_one_frame({"type": type_, "kwargs": {"column": "a"}})


def test_ops_failed_expectations_are_json(runs):
    for row in runs[2]["ops"]:
        assert isinstance(json.loads(row[5]), list)


def test_release_memory_reports_figures():
    from orchestration.memory import release_memory, rss_bytes

    assert rss_bytes() > 0
    figures = release_memory()
    assert figures["rss_before_mib"] > 0 and figures["rss_after_mib"] > 0
    assert isinstance(figures["malloc_trim"], bool) and figures["seconds"] >= 0
