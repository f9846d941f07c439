"""Mart checks in the real pipeline (the session's `papers ingest` of the fixtures, run twice):
the first run validates every mart in full, the second (every file a duplicate, nothing new for
dbt) validates no per-paper/per-date mart row again, only the small marts and the aggregates."""

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
        # PER_KEY_MARTS: "all rows: everything (first time: no watermark)"
        assert n == query(warehouse, f"select count(*) from marts.{mart}")[0][0] > 0
    marks = query(warehouse, "select consumer, loaded_through from ops.watermarks")
    assert {t for t, _ in marks} >= {f"validation:marts.{m}" for m in PER_KEY_MARTS} | {"dbt"}
    assert all(w for _, w in marks)


def test_rerun_with_nothing_new_revalidates_no_mart_row(fixtures_ingest):
    warehouse = fixtures_ingest["warehouse"]
    second = mart_rows(warehouse, fixtures_ingest["second"]["run_id"])
    assert set(PER_KEY_MARTS + SMALL_MARTS) <= set(second)
    for mart in PER_KEY_MARTS:
        n, scope, ok = second[mart]
        assert ok and n == 0, (mart, n, scope)
        assert "dbt batches after" in scope
    for mart in SMALL_MARTS:
        assert second[mart][0] == query(warehouse, f"select count(*) from marts.{mart}")[0][0]
