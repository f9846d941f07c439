"""Mart checks in the real pipeline (the session's `papers ingest` of the fixtures, run twice):
the first run validates every mart in full, the second (every file a duplicate, nothing new for
dbt) skips dbt, validation and publish, and says so."""

from __future__ import annotations

from tests.pipeline_runs import query

PER_KEY_MARTS = ["papers", "paper_observations", "authors_daily", "authors", "paper_topics",
                 "topics_daily"]
SMALL_MARTS = ["authors_count", "topics_weekly"]


def mart_rows(warehouse, run_id):
    rows = query(warehouse, "select table_name, rows, scope, success from ops.validation_results "
                 "where run_id = ? and table_name like 'marts.%'", [run_id])
    return {t.removeprefix("marts."): (n, scope, ok) for t, n, scope, ok in rows}


def test_first_run_validates_every_mart_in_full(fixtures_ingest):
    warehouse = fixtures_ingest["warehouse"]
    first = mart_rows(warehouse, fixtures_ingest["first"]["run_id"])
    assert set(PER_KEY_MARTS + SMALL_MARTS) <= set(first)
    for mart in PER_KEY_MARTS + SMALL_MARTS:
        n, scope, ok = first[mart]
        assert ok and scope.startswith("all rows"), (mart, scope)
        # PER_KEY_MARTS: "all rows (first time: no watermark)"
        assert n == query(warehouse, f"select count(*) from marts.{mart}")[0][0] > 0
    marks = query(warehouse, "select consumer, loaded_through from ops.watermarks")
    assert {t for t, _ in marks} >= {f"validation:marts.{m}" for m in PER_KEY_MARTS} | {"dbt"}
    assert all(w for _, w in marks)


def test_rerun_with_nothing_new_skips_dbt_validation_and_publish(fixtures_ingest):
    warehouse = fixtures_ingest["warehouse"]
    assert mart_rows(warehouse, fixtures_ingest["second"]["run_id"]) == {}
    output = fixtures_ingest["second"]["output"]
    assert "validation: skipped: nothing new since the last published build" in output
    assert f"published:  unchanged, still serves run {fixtures_ingest['first']['run_id']}" in output
    marks = dict(query(warehouse, "select consumer, loaded_through from ops.watermarks"))
    assert marks["publish"] == marks["dbt"] == marks["validation:marts.papers"]
