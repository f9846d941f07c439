"""The change ledger (orchestration/ops/ledger.py) and the dbt project's fingerprint."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from orchestration.dbt_state import project_md5
from orchestration.ops import ledger
from orchestration.project import DBT_PROJECT_DIR


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw._dlt_loads (load_id varchar, status bigint)")
    con.execute("create table raw.landed_api_papers (snapshot_id varchar, _dlt_load_id varchar)")
    yield con
    con.close()


def load(con, load_id):
    """A dlt load that wrote a row."""
    con.execute("insert into raw._dlt_loads values (?, 0)", [load_id])
    con.execute("insert into raw.landed_api_papers values ('s', ?)", [load_id])


def test_plan_takes_in_the_loads_after_the_watermark(con):
    assert ledger.newest_load(con) == ""
    first = ledger.plan(con, "dbt", "code-1")
    assert first.full and first.loaded_after == "" and first.reason == "first time: no watermark"
    con.execute("insert into raw._dlt_loads values ('1700000001.0', 0)")  # a load that wrote nothing
    assert ledger.newest_load(con) == ""
    load(con, "1700000001.5")
    first = ledger.plan(con, "dbt", "code-1")
    ledger.advance(con, "dbt", first, "code-1", "run-1")
    assert ledger.read(con, "dbt") == ("1700000001.5", "code-1")

    idle = ledger.plan(con, "dbt", "code-1")
    assert not idle.full and idle.empty and idle.loaded_after == "1700000001.5"

    load(con, "1700000002.25")
    new = ledger.plan(con, "dbt", "code-1")
    assert (new.full, new.empty, new.loaded_after, new.loaded_through) == (
        False, False, "1700000001.5", "1700000002.25")
    assert new.reason == "loads after 2023-11-14 22:13:21 UTC"  # load ids are Unix times

    changed = ledger.plan(con, "dbt", "code-2")
    assert changed.full and changed.loaded_after == "" and changed.reason == "its code changed since"
    assert ledger.plan(con, "dbt", "code-1", full=True).full
    # a consumer that follows another stops where that one is
    assert ledger.plan(con, "validation:marts.papers", "c", through="1700000001.5").loaded_through == "1700000001.5"


def test_touched_names_the_raw_tables_with_rows_of_a_completed_load_in_the_window(con):
    con.execute("create table raw.landed_page_cards (snapshot_id varchar, _dlt_load_id varchar)")
    load(con, "1700000001.0")
    con.execute("insert into raw.landed_page_cards values ('c', '1700000001.0')")
    first = ledger.plan(con, "dbt", "code-1")
    assert ledger.touched(con, first) == ["landed_api_papers", "landed_page_cards"]
    ledger.advance(con, "dbt", first, "code-1", "run-1")
    assert ledger.touched(con, ledger.plan(con, "dbt", "code-1")) == []
    load(con, "1700000002.0")
    con.execute("insert into raw.landed_page_cards values ('c', '1700000003.0')")  # dlt never completed it
    assert ledger.touched(con, ledger.plan(con, "dbt", "code-1")) == ["landed_api_papers"]
    assert ledger.touched(con, ledger.plan(con, "dbt", "code-2")) == ["landed_api_papers", "landed_page_cards"]


def test_a_failed_step_does_not_advance(con):
    """Only advance() moves a watermark: a consumer that failed takes the same loads in again."""
    load(con, "1700000001.0")
    ledger.advance(con, "dbt", ledger.plan(con, "dbt", "c"), "c", "run-1")
    load(con, "1700000002.0")
    window = ledger.plan(con, "dbt", "c")  # ... and the build fails: nothing recorded
    assert ledger.plan(con, "dbt", "c") == window


def test_rows_of_a_load_dlt_did_not_complete_are_not_arrivals(con):
    load(con, "1700000001.0")
    con.execute("insert into raw.landed_api_papers values ('s2', '1700000002.0')")  # no _dlt_loads row
    assert ledger.newest_load(con) == "1700000001.0"


def test_published_is_current_only_for_the_very_build_published(con):
    load(con, "1700000001.0")
    assert not ledger.published_is_current(con, "c")  # nothing built
    ledger.advance(con, "dbt", ledger.plan(con, "dbt", "c"), "c", "run-1")
    assert not ledger.published_is_current(con, "c")  # built, not published
    ledger.record_published(con)
    assert ledger.published_is_current(con, "c")
    assert not ledger.published_is_current(con, "c2")  # the project changed since
    # a rebuild of the same loads (run-2) whose validation failed: the release holds run-1's build
    ledger.advance(con, "dbt", ledger.plan(con, "dbt", "c", full=True), "c", "run-2")
    assert not ledger.published_is_current(con, "c")
    ledger.record_published(con)
    assert ledger.published_is_current(con, "c")
    load(con, "1700000002.0")
    assert not ledger.published_is_current(con, "c")  # a new load


def test_project_md5_follows_models_seeds_macros_and_vars_only(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    base = project_md5(project)
    assert base == project_md5(DBT_PROJECT_DIR)  # the location does not count
    (project / "tests" / "new_test.sql").write_text("select 1 where false\n")
    (project / "profiles.yml").write_text((project / "profiles.yml").read_text() + "\n# moved\n")
    assert project_md5(project) == base
    for edit in ("seeds/topic_taxonomy.csv", "dbt_project.yml", "models/marts/papers.sql",
                 "macros/text_normalization.sql"):
        path = project / edit
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        assert project_md5(project) != base, edit
        path.write_bytes(original)
    assert project_md5(project) == base
