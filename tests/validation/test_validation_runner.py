"""Great Expectations runner: real suites from expectations/, real GX, a small DuckDB file.

GX costs seconds to import, so one module-scoped fixture runs a single ``validate`` call over
every scenario (good raw rows, a broken snapshot, good marts, a mart with a bad row,
a missing table) and the tests inspect its outcomes, the ops table and the report.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.validation.targets import mart_targets
from orchestration.validation.runner import (
    SuiteTarget,
    ValidationOutcome,
    load_suite,
    validate,
)

from tests.pipeline_runs import REPO
RUN_ID = "test-run-20250101T000000Z"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


GOOD_A = sha("2024-06-12_captured-20240612T170641Z.json")
GOOD_B = sha("2024-06-12_captured-20240613T035001Z.json")
BAD_UPVOTES = sha("broken-negative-upvotes.json")
BAD_DATES = sha("broken-dates-and-ids.json")
CARDS = sha("papers-listing_captured-20251104.txt")

RAW_API_DDL = """
create table {table} (
    snapshot_id varchar not null, source_uri varchar not null, listing_date date not null,
    captured_at timestamptz not null, rank integer not null, arxiv_id varchar not null,
    title varchar, summary varchar, authors_json varchar, author_count integer,
    published_at timestamptz, upvotes integer, num_comments integer, github_repo varchar,
    github_stars integer, project_page varchar, organization varchar, ai_keywords_json varchar,
    ai_summary varchar, submitted_on_daily_at timestamptz, submitted_by varchar,
    _dlt_load_id varchar
)
"""


def api_row(snapshot_id, rank, arxiv_id, upvotes, *, listing_date="2024-06-12",
            captured_at="2024-06-12 17:06:41+00", comments=0, keywords=None):
    return (
        snapshot_id, f"{listing_date}_captured.json", listing_date, captured_at, rank, arxiv_id,
        f"Paper {arxiv_id}", "An abstract.", json.dumps([{"name": "A. Author", "hidden": False}]),
        1, "2024-06-10 00:00:00+00", upvotes, comments, None, None, None, None,
        json.dumps(keywords) if keywords is not None else None, None, None, "akhaliq", "1718.1",
    )


def insert(con, table, rows):
    marks = ", ".join("?" * len(rows[0]))
    con.executemany(f"insert into {table} values ({marks})", rows)


def build_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    for schema in ("raw", "marts", "broken"):
        con.execute(f"create schema {schema}")
    con.execute(RAW_API_DDL.format(table="raw.landed_api_papers"))
    insert(con, "raw.landed_api_papers", [
        api_row(GOOD_A, 1, "2406.06608", 23),
        api_row(GOOD_A, 2, "2503.02130", 0, comments=3, keywords=["diffusion", "agents"]),
        api_row(GOOD_A, 3, "2406.06592", 7),
        api_row(GOOD_B, 1, "2406.06608", 29, captured_at="2024-06-13 03:50:01+00"),
        api_row(GOOD_B, 2, "2503.02130", 1, captured_at="2024-06-13 03:50:01+00"),
        # the deliberately broken snapshot: one negative upvote count
        api_row(BAD_UPVOTES, 1, "2406.06608", 12),
        api_row(BAD_UPVOTES, 2, "2406.06592", -5),
    ])
    con.execute(RAW_API_DDL.format(table="broken.api_papers"))
    insert(con, "broken.api_papers", [
        api_row(GOOD_A, 1, "2406.06608", 3),
        api_row(BAD_DATES, 1, "2406.06608", 3, listing_date="2022-12-31"),  # before the first listing
        api_row(BAD_DATES, 2, "not-an-arxiv-id", 3),
    ])
    con.execute("""
        create table raw.landed_page_cards (
            snapshot_id varchar not null, source_uri varchar not null,
            captured_at timestamptz not null, rank integer not null, title varchar not null,
            summary varchar, author_count integer, published_on date, num_comments integer,
            _dlt_load_id varchar)
    """)
    insert(con, "raw.landed_page_cards", [
        (CARDS, "papers-listing_captured-20251104.txt", "2025-11-04 00:00:00+00", 1,
         "LLM in a flash: Efficient Large Language Model Inference with Limited Memory",
         "Large language models…", 8, "2023-12-12", 8, "1"),
        (CARDS, "papers-listing_captured-20251104.txt", "2025-11-04 00:00:00+00", 2,
         "A card without a date", None, None, None, 0, "1"),
    ])

    # --- marts, good ---------------------------------------------------------------------
    con.execute("""
        create table marts.papers as select * from (values
          ('2406.06608', '2406.06608', 'Paper one', 'abs', date '2024-06-10', date '2024-06-12',
           date '2024-06-12', 1, 31, 29, 0, null, null, null, ['llm'], 'language_models',
           timestamptz '2024-06-12 17:06:41+00', timestamptz '2024-06-13 03:50:01+00', 2,
           ['api'], 29, 6.0),
          ('2503.02130', '2503.02130', 'Paper two', 'abs', date '2025-03-03', date '2024-06-12',
           date '2024-06-13', 2, 1, 1, 3, 'https://github.com/x/y', 10, 'Org',
           ['diffusion', 'agents'], 'agents', timestamptz '2024-06-12 17:06:41+00',
           timestamptz '2024-06-13 03:50:01+00', 2, ['api'], 1, 0.5),
          ('t:llm in a flash', null, 'LLM in a flash', 'abs', date '2023-12-12', null, null, 0,
           8, null, 8, null, null, null, null, 'other', timestamptz '2025-11-04 00:00:00+00',
           timestamptz '2025-11-04 00:00:00+00', 1, ['page_text'], null, null)
        ) t(paper_id, arxiv_id, title, summary, published_on, first_listed_on, last_listed_on,
            listing_days, author_count, upvotes, num_comments, github_repo, github_stars,
            organization, ai_keywords, primary_topic, first_seen_at, last_seen_at,
            observations, sources, upvotes_max, upvote_velocity)
    """)
    con.execute(f"""
        create table marts.paper_observations as select * from (values
          ('2406.06608', date '2024-06-12', timestamptz '2024-06-12 17:06:41+00', '{GOOD_A}', 23, 0, 1, 'api_json'),
          ('2406.06608', date '2024-06-12', timestamptz '2024-06-13 03:50:01+00', '{GOOD_B}', 29, 0, 1, 'api_json'),
          ('2503.02130', date '2024-06-12', timestamptz '2024-06-12 17:06:41+00', '{GOOD_A}', 0, 3, 2, 'api_json'),
          ('t:llm in a flash', null, timestamptz '2025-11-04 00:00:00+00', '{CARDS}', null, 8, 1, 'page_text')
        ) t(paper_id, listing_date, captured_at, snapshot_id, upvotes, num_comments, rank, source_format)
    """)
    con.execute("""
        create table marts.authors_count as select * from (values
          (1, 1, 0.3333, 1.0), (8, 1, 0.3333, null), (31, 1, 0.3333, 29.0)
        ) t(author_count, papers, share_of_papers, upvotes_median)
    """)
    con.execute("""
        create table marts.authors_daily as select * from (values
          (date '2024-06-12', 2, 32::hugeint, 16.0, 16.0, 31, 1, 0, 0, 0, 0, 1)
        ) t(listing_date, papers, authors_total, authors_mean, authors_median, authors_max,
            team_solo, team_2_3, team_4_6, team_7_10, team_11_20, team_21_plus)
    """)
    con.execute("""
        create table marts.authors as select * from (values
          ('A. Author', 2, date '2024-06-12', date '2024-06-12', 30::hugeint),
          ('B. Author', 1, date '2024-06-12', date '2024-06-13', 1::hugeint)
        ) t(author_name, papers, first_listed_on, last_listed_on, upvotes_total)
    """)
    con.execute("""
        create table marts.paper_topics as select * from (values
          ('2406.06608', 'language_models', 1, true, 2.5, 'llm [title] 1.50'),
          ('2503.02130', 'agents', 1, true, 3.0, 'agent [title+abstract] 2.00'),
          ('2503.02130', 'diffusion', 2, false, 2.2, 'diffusion [abstract] 0.70, denoising [abstract] 0.50'),
          ('t:llm in a flash', 'other', 0, true, 0.9, null)
        ) t(paper_id, topic, matched_terms, is_primary, score, evidence)
    """)
    con.execute("""
        create table marts.topics_daily as select * from (values
          (date '2024-06-12', 'language_models', 1, 29, 0.5, 1, 0.5),
          (date '2024-06-12', 'agents', 1, 1, 0.5, 1, 0.5),
          (date '2024-06-12', 'diffusion', 1, 1, 0.5, 1, 0.5)
        ) t(listing_date, topic, papers, upvotes, share_of_day, mentions, mention_share)
    """)
    # --- a papers mart with a negative upvote count (its key is dbt's test, not the suite's) ---
    con.execute("create table broken.papers as select * from marts.papers")
    con.execute("insert into broken.papers select * from marts.papers where paper_id = '2503.02130'")
    con.execute("update broken.papers set upvotes = -2 where paper_id = '2406.06608'")
    con.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("validation")
    db = tmp / "warehouse.duckdb"
    build_warehouse(db)
    targets = [
        SuiteTarget("raw_api_papers", "raw.landed_api_papers",
                    f"snapshot_id <> '{BAD_UPVOTES}'", "snapshot_id"),                  # 0
        SuiteTarget("raw_api_papers", "raw.landed_api_papers", None, "snapshot_id"),    # 1
        SuiteTarget("raw_api_papers", "broken.api_papers", None, "snapshot_id"),        # 2
        SuiteTarget("papers", "broken.papers", None, "paper_id"),                       # 3
        SuiteTarget("topics_daily", "marts.topics_weekly", None, "listing_date"),       # 4
        SuiteTarget("raw_page_cards", "raw.landed_page_cards", None, "snapshot_id"),    # 5
    ] + mart_targets()                                                                # 6..
    con = duckdb.connect(str(db))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        outcomes = validate(con, targets, run_id=RUN_ID, report_dir=tmp / "reports")
    ops_rows = con.execute(
        "select suite, table_name, evaluated, failed, success, failed_expectations, "
        "report_path, rows, run_id, validated_at from ops.validation_results order by rowid"
    ).fetchall()
    con.close()
    return {"targets": targets, "outcomes": outcomes, "ops": ops_rows, "stderr": err.getvalue(),
            "tmp": tmp}


def by_table(run, table, where_none=True) -> ValidationOutcome:
    for t, o in zip(run["targets"], run["outcomes"]):
        if t.table == table and (t.where is None) == where_none:
            return o
    raise KeyError(table)


def test_good_raw_rows_pass(run):
    o = run["outcomes"][0]
    assert (o.suite, o.table) == ("raw_api_papers", "raw.landed_api_papers")
    assert o.success, o.failed_expectations
    assert o.rows == 5
    assert o.failed == 0 and o.evaluated == len(load_suite("raw_api_papers")["expectations"])
    assert o.failing_keys == set()


def test_negative_upvotes_fail_raw_suite_and_name_the_snapshot(run):
    o = run["outcomes"][1]
    assert not o.success
    assert o.rows == 7
    assert o.failed == 1
    [failure] = o.failed_expectations
    assert failure.startswith("expect_column_values_to_be_between(column=upvotes, min_value=0)")
    assert "1 unexpected" in failure and "-5" in failure
    assert o.failing_keys == {BAD_UPVOTES}


def test_dates_and_arxiv_ids_checked(run):
    o = run["outcomes"][2]
    assert not o.success
    names = [f.split(":", 1)[0] for f in o.failed_expectations]
    assert any(n.startswith("expect_column_values_to_be_between(column=listing_date, "
                            "min_value=2023-05-04") for n in names), names
    assert any(n.startswith("expect_column_values_to_match_regex(column=arxiv_id") for n in names)
    assert len(names) == 2, o.failed_expectations
    assert o.failing_keys == {BAD_DATES}


def test_missing_required_table_fails(run):
    o = run["outcomes"][4]
    assert not o.success
    assert o.failed_expectations[0].startswith("table_exists(table=marts.topics_weekly)")


def test_a_bad_mart_row_fails_and_names_its_key_and_a_duplicate_key_is_not_the_suite_s(run):
    o = run["outcomes"][3]
    assert not o.success
    names = [f.split(":", 1)[0] for f in o.failed_expectations]
    assert names == ["expect_column_values_to_be_between(column=upvotes, min_value=0)"], o.failed_expectations
    assert o.failing_keys == {"2406.06608"}


@pytest.mark.parametrize("table", [
    "raw.landed_page_cards", "marts.papers", "marts.paper_observations", "marts.authors_count",
    "marts.authors_daily", "marts.authors", "marts.paper_topics", "marts.topics_daily",
])
def test_good_tables_pass(run, table):
    o = by_table(run, table)
    assert o.success, o.failed_expectations
    assert o.rows > 0 and o.evaluated > 0


def test_every_target_recorded_in_ops(run):
    ops = run["ops"]
    assert len(ops) == len(run["targets"])
    for row, o in zip(ops, run["outcomes"]):
        suite, table, evaluated, failed, success, failed_exps, report, rows, run_id, at = row
        assert (suite, table, evaluated, failed, success, rows) == (
            o.suite, o.table, o.evaluated, o.failed, o.success, o.rows)
        assert json.loads(failed_exps) == o.failed_expectations
        assert run_id == RUN_ID and at is not None
        assert report == str(run["tmp"] / "reports" / f"validation-{RUN_ID}.md")


def test_report_written(run):
    path = run["tmp"] / "reports" / f"validation-{RUN_ID}.md"
    assert all(o.report_path == str(path) for o in run["outcomes"])
    text = path.read_text()
    assert RUN_ID in text and "**FAIL**" in text and "PASS" in text
    assert "expect_column_values_to_be_between(column=upvotes, min_value=0)" in text
    assert BAD_UPVOTES in text
    assert "Failing `paper_id` values: `2406.06608`" in text


def test_gx_is_quiet(run):
    assert "Calculating Metrics" not in run["stderr"]
    assert "%|" not in run["stderr"]


def test_second_run_appends(tmp_path):
    db = tmp_path / "w.duckdb"
    build_warehouse(db)
    con = duckdb.connect(str(db))
    try:
        target = SuiteTarget("authors", "marts.authors", "papers > 1", "author_name")
        for run_id in ("r1", "r2"):
            [o] = validate(con, [target], run_id=run_id, report_dir=tmp_path)
            assert o.success and o.rows == 1
        assert con.sql("select run_id, rows from ops.validation_results order by run_id"
                       ).fetchall() == [("r1", 1), ("r2", 1)]
    finally:
        con.close()
    assert (tmp_path / "validation-r1.md").exists() and (tmp_path / "validation-r2.md").exists()


def test_same_run_appends_to_its_report(tmp_path):
    """A run validates in steps (raw checks, then marts): each step adds a section."""
    db = tmp_path / "w.duckdb"
    build_warehouse(db)
    con = duckdb.connect(str(db))
    try:
        validate(con, [SuiteTarget("raw_api_papers", "raw.landed_api_papers", None, "snapshot_id")],
                 run_id="r", report_dir=tmp_path)
        validate(con, [SuiteTarget("authors", "marts.authors")], run_id="r", report_dir=tmp_path)
    finally:
        con.close()
    text = (tmp_path / "validation-r.md").read_text()
    assert text.count("# Validation report") == 1
    assert text.count("\n## ") == 2
    assert text.index("raw.landed_api_papers") < text.index("marts.authors")
    assert "FAIL: raw_api_papers on `raw.landed_api_papers`" in text


def test_runner_import_does_not_import_gx():
    code = ("import sys, orchestration.validation.runner, orchestration.validation; "
            "assert 'great_expectations' not in sys.modules; "
            "assert 'pandas' not in sys.modules; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
