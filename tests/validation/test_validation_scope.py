"""Mart checks validate only the rows of the loads no passing validation took in yet.

A small DuckDB warehouse (the marts of test_validation_runner plus the dbt tables the scopes read,
and the change ledger's dbt watermark as a dbt build leaves it) is validated the way
``mart_checks`` does it: plan_mart_targets -> validate -> record_watermarks.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from orchestration.validation.runner import validate
from orchestration.dbt_state import project_md5
from orchestration.ops import ledger
from orchestration.validation.scope import plan_mart_targets, record_watermarks
from orchestration.project import PUBLIC_MARTS
from tests.validation.test_validation_runner import GOOD_A, GOOD_B, build_warehouse, sha

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

T1 = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
L1, L2 = "1735732800.000000", "1735819200.000000"  # dlt load ids
NEW_SNAPSHOT = sha("2024-06-14_captured-20240614T101010Z.json")


@pytest.fixture
def con(tmp_path):
    db = tmp_path / "w.duckdb"
    build_warehouse(db)
    con = duckdb.connect(str(db))
    for schema in ("intermediate", "staging"):
        con.execute(f"create schema {schema}")
    con.execute("""
        create table intermediate.int_paper_observations as
        select paper_id, listing_date, captured_at, snapshot_id, upvotes, num_comments, rank,
               source_format, ? as _dlt_load_id
        from marts.paper_observations""", [L1])
    con.execute("""
        create table intermediate.int_listing_papers as
        select distinct listing_date, paper_id
        from intermediate.int_paper_observations where listing_date is not null""")
    dbt_took_in(con, L1)
    con.execute(f"""
        create table staging.stg_api_paper_authors as select * from (values
          ('{GOOD_A}', '2406.06608', 'A. Author'), ('{GOOD_A}', '2503.02130', 'A. Author'),
          ('{GOOD_B}', '2503.02130', 'B. Author')
        ) t(snapshot_id, arxiv_id, author_name)""")
    con.execute("create table staging.topic_taxonomy as select * from (values "
                "('agents', 'agent'), ('language_models', 'llm')) t(topic, term)")
    con.execute("""
        create table marts.topics_weekly as select * from (values
          (date '2024-06-10', 'agents', 1, 1, 0.5, null, null, 1, 0.5),
          (date '2024-06-10', 'language_models', 1, 29, 0.5, null, null, 1, 0.5)
        ) t(week_start, topic, papers, upvotes, share_of_week, papers_change_wow,
            upvotes_change_wow, mentions, mention_share)""")
    yield con
    con.close()


def check(con, tmp_path, run_id):
    """What mart_checks does: {mart: outcome}, and the tables whose watermark advanced."""
    scopes = plan_mart_targets(con, PUBLIC_MARTS)
    outcomes = validate(con, [s.target for s in scopes], run_id=run_id,
                        report_dir=tmp_path / "reports")
    advanced = record_watermarks(con, scopes, outcomes, run_id=run_id)
    return {s.mart: o for s, o in zip(scopes, outcomes)}, set(advanced)


def dbt_took_in(con, load_id):
    """The ledger's dbt watermark as a successful build through ``load_id`` records it."""
    ledger.advance(con, ledger.DBT, ledger.Window("", load_id, True, ""), project_md5(), "dbt")


def new_batch(con, paper_id="2406.06608", at=T1 + timedelta(days=1)):
    """dbt processed one new snapshot (load L2) listing ``paper_id`` on 2024-06-14."""
    con.execute("""
        insert into intermediate.int_paper_observations values
          (?, date '2024-06-14', ?, ?, 40, 1, 1, 'api_json', ?)""",
                [paper_id, at, NEW_SNAPSHOT, L2])
    dbt_took_in(con, L2)
    con.execute("insert into marts.paper_observations values "
                "(?, date '2024-06-14', ?, ?, 40, 1, 1, 'api_json')", [paper_id, at, NEW_SNAPSHOT])
    con.execute("insert into intermediate.int_listing_papers values (date '2024-06-14', ?)",
                [paper_id])
    con.execute("insert into marts.authors_daily values "
                "(date '2024-06-14', 1, 31, 31.0, 31.0, 31, 0, 0, 0, 0, 0, 1)")
    con.execute("insert into marts.topics_daily values "
                "(date '2024-06-14', 'language_models', 1, 40, 1.0, 1, 1.0)")


FULL_ROWS = {"papers": 3, "paper_observations": 4, "authors_count": 3, "authors_daily": 1,
             "authors": 2, "paper_topics": 4, "topics_daily": 3, "topics_weekly": 2}


def test_first_run_without_watermark_validates_everything(con, tmp_path):
    outcomes, advanced = check(con, tmp_path, "r1")
    assert all(o.success for o in outcomes.values()), {m: o.failed_expectations
                                                        for m, o in outcomes.items()}
    assert {m: o.rows for m, o in outcomes.items()} == FULL_ROWS
    assert all(o.scope.startswith("all rows") for o in outcomes.values())
    assert outcomes["papers"].scope == "all rows (first time: no watermark)"
    assert advanced == {f"marts.{m}" for m in PUBLIC_MARTS}
    assert con.sql(f"select distinct loaded_through from {ledger.WATERMARKS} "
                   "where consumer like 'validation:%'").fetchall() == [(L1,)]
    # recorded in the results table too
    rows = dict(con.sql("select table_name, rows from ops.validation_results "
                        "where run_id = 'r1'").fetchall())
    assert rows == {f"marts.{m}": n for m, n in FULL_ROWS.items()}


def test_incremental_run_validates_only_touched_rows(con, tmp_path):
    check(con, tmp_path, "r1")
    outcomes, _ = check(con, tmp_path, "r2")  # nothing new: only the small marts
    assert {m: o.rows for m, o in outcomes.items()} == {
        **{m: 0 for m in FULL_ROWS}, "authors_count": 3, "topics_weekly": 2}
    assert all(o.success for o in outcomes.values())
    assert all(o.chunks == 0 for m, o in outcomes.items() if o.rows == 0)  # nothing fetched for GX

    new_batch(con)  # touches paper 2406.06608 (listed on 2024-06-12 and now 2024-06-14)
    outcomes, advanced = check(con, tmp_path, "r3")
    assert all(o.success for o in outcomes.values()), {m: o.failed_expectations
                                                        for m, o in outcomes.items()}
    assert {m: o.rows for m, o in outcomes.items()} == {
        "papers": 1,               # the touched paper
        "paper_topics": 1,         # its topic rows
        "paper_observations": 1,   # the new snapshot's rows
        "authors_daily": 2,        # both listing dates of the touched paper
        "topics_daily": 4,         # every topic row of those two dates
        "authors": 1,              # A. Author (listed on the touched paper)
        "authors_count": 3, "topics_weekly": 2,
    }
    assert outcomes["papers"].scope == f"paper_id of papers observed in {ledger.after_load(L1)}"
    assert outcomes["papers"].columns and "summary" not in outcomes["papers"].columns
    assert con.sql(f"select distinct loaded_through from {ledger.WATERMARKS} "
                   "where consumer like 'validation:%'").fetchall() == [(L2,)]
    rows = dict(con.sql("select table_name, rows from ops.validation_results "
                        "where run_id = 'r3'").fetchall())
    assert rows["marts.papers"] == 1 and rows["marts.paper_observations"] == 1


def test_bad_row_in_validated_region_caught_when_its_key_is_touched(con, tmp_path):
    check(con, tmp_path, "r1")
    con.execute("update marts.papers set upvotes = -3 where paper_id = '2406.06608'")
    outcomes, _ = check(con, tmp_path, "r2")
    assert outcomes["papers"].success and outcomes["papers"].rows == 0  # not touched: not read

    new_batch(con, "2406.06608")
    outcomes, advanced = check(con, tmp_path, "r3")
    o = outcomes["papers"]
    assert not o.success and o.rows == 1
    assert [f.split(":", 1)[0] for f in o.failed_expectations] == [
        "expect_column_values_to_be_between(column=upvotes, min_value=0)"]
    assert o.failing_keys == {"2406.06608"}
    assert "marts.papers" not in advanced and "marts.paper_observations" in advanced

    # the failed validation did not advance the watermark: the next run checks it again
    outcomes, advanced = check(con, tmp_path, "r4")
    assert not outcomes["papers"].success and outcomes["papers"].rows == 1
    assert outcomes["paper_observations"].rows == 0
    con.execute("update marts.papers set upvotes = 29 where paper_id = '2406.06608'")
    outcomes, advanced = check(con, tmp_path, "r5")
    assert outcomes["papers"].success and "marts.papers" in advanced
    outcomes, _ = check(con, tmp_path, "r6")
    assert outcomes["papers"].rows == 0


def test_without_dbt_bookkeeping_everything_is_validated(con, tmp_path):
    con.execute("drop table intermediate.int_paper_observations")
    for run_id in ("r1", "r2"):
        outcomes, advanced = check(con, tmp_path, run_id)
        assert {m: o.rows for m, o in outcomes.items()} == FULL_ROWS
        assert advanced == set()


def test_changed_suite_or_dbt_project_revalidates_everything(con, tmp_path, monkeypatch):
    """A changed dbt project (a model, or a seed such as the topic taxonomy) or suite."""
    from orchestration.validation import scope

    check(con, tmp_path, "r1")
    monkeypatch.setattr(scope, "project_md5", lambda: "a changed dbt model or taxonomy")
    outcomes, advanced = check(con, tmp_path, "r2")
    assert {m: o.rows for m, o in outcomes.items()} == FULL_ROWS
    assert outcomes["papers"].scope == "all rows (its code changed since)"
    outcomes, _ = check(con, tmp_path, "r3")
    assert outcomes["papers"].rows == 0
