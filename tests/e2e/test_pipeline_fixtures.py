"""Acceptance of the main job on the real fixtures: `papers ingest` of all 13 files, twice."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.pipeline_runs import API_FIXTURES, MALFORMED, TEXT_FIXTURES, query

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

PUBLIC_MARTS = ["papers", "paper_observations", "authors_count", "authors_daily", "authors",
                "paper_topics", "topics_daily"]


def counts(warehouse, run_id=None):
    rows = query(warehouse, "select status, format, count(*) from ops.snapshot_files "
                 + ("where run_id = ? " if run_id else "") + "group by all order by all",
                 [run_id] if run_id else [])
    return {(status, fmt): n for status, fmt, n in rows}


def test_first_ingest_loads_ten_and_quarantines_three(fixtures_ingest):
    first = fixtures_ingest["first"]
    assert first["code"] == 0, first["output"]
    warehouse = fixtures_ingest["warehouse"]
    by_status = {}
    for (status, fmt), n in counts(warehouse, first["run_id"]).items():
        by_status.setdefault(status, {})[fmt] = n
    assert by_status["loaded"] == {"api_json": 9, "page_text": 1}
    assert sum(by_status["quarantined"].values()) == 3
    assert "duplicate" not in by_status
    assert "10 loaded, 0 duplicate, 3 quarantined" in first["output"]
    # 0 lost: every input file ended in archive/ or quarantine/, and landing is empty
    files = fixtures_ingest["files_after_first"]
    assert files["landing"] == []
    assert {n for n in files["quarantine"] if not n.endswith(".reason.txt")} == MALFORMED
    assert {n.removesuffix(".reason.txt") for n in files["quarantine"] if n.endswith(".reason.txt")} == MALFORMED
    assert set(files["archive"]) == {p.name for p in API_FIXTURES + TEXT_FIXTURES} - MALFORMED


def test_quarantine_reasons_name_the_problem(fixtures_ingest):
    home = fixtures_ingest["home"]
    reasons = {p.name.removesuffix(".reason.txt"): p.read_text() for p in (home / "quarantine").glob("*.reason.txt")}
    assert set(reasons) == MALFORMED
    assert "1" in reasons["2024-06-01_captured-20240601T165731Z.json"]
    assert "string" in reasons["2024-12-11_captured-20241212T101858Z.json"].lower()
    envelope = reasons["2025-01-10_captured-20250112T084652Z.json"]
    assert "data" in envelope and "status" in envelope
    rows = query(fixtures_ingest["warehouse"],
                 "select source_uri, reason from ops.snapshot_files where status = 'quarantined'")
    assert {uri for uri, _ in rows} == MALFORMED and all(reason for _, reason in rows)


def test_second_ingest_is_all_duplicates_and_changes_nothing(fixtures_ingest):
    second = fixtures_ingest["second"]
    assert second["code"] == 0, second["output"]
    statuses = counts(fixtures_ingest["warehouse"], second["run_id"])
    assert {status for status, _ in statuses} == {"duplicate"} and sum(statuses.values()) == 13
    assert "0 loaded, 13 duplicate, 0 quarantined" in second["output"]
    assert fixtures_ingest["tables_after_second"] == fixtures_ingest["tables_after_first"]
    # duplicates leave landing; the kept copies are the first arrivals
    assert fixtures_ingest["files_after_second"] == fixtures_ingest["files_after_first"]


def test_every_public_mart_exists(fixtures_warehouse):
    tables = {r[0] for r in query(fixtures_warehouse,
                                  "select table_name from information_schema.tables where table_schema = 'marts'")}
    assert set(PUBLIC_MARTS) <= tables


def test_text_card_llm_in_a_flash(fixtures_warehouse):
    card = query(fixtures_warehouse,
                 "select author_count, published_on, num_comments from raw.landed_page_cards "
                 "where title like 'LLM in a flash%'")
    assert card == [(8, date(2023, 12, 12), 8)]
    paper = query(fixtures_warehouse,
                  "select author_count, published_on, num_comments from marts.papers where title like 'LLM in a flash%'")
    assert paper == [(8, date(2023, 12, 12), 8)]


def test_2024_06_12_listing_grows_between_captures(fixtures_warehouse):
    per_capture = query(fixtures_warehouse,
                        "select captured_at, count(distinct paper_id) from marts.paper_observations "
                        "where listing_date = date '2024-06-12' group by 1 order by 1")
    assert [n for _, n in per_capture] == [14, 16]


def test_papers_has_one_row_per_arxiv_id(fixtures_warehouse):
    expected = set()
    for path in API_FIXTURES:
        if path.name in MALFORMED:
            continue
        expected |= {row["paper"]["id"] for row in json.loads(path.read_text())}
    rows = query(fixtures_warehouse, "select arxiv_id from marts.papers where arxiv_id is not null")
    assert len(rows) == len({r[0] for r in rows}) == len(expected)
    assert {r[0] for r in rows} == expected


@pytest.mark.parametrize("mart", PUBLIC_MARTS)
def test_marts_are_not_empty(fixtures_warehouse, mart):
    assert query(fixtures_warehouse, f"select count(*) from marts.{mart}")[0][0] > 0


def test_validation_ran_and_passed(fixtures_ingest):
    rows = query(fixtures_ingest["warehouse"],
                 "select suite, success from ops.validation_results where run_id = ?",
                 [fixtures_ingest["first"]["run_id"]])
    suites = {suite for suite, _ in rows}
    assert {"raw_api_papers", "raw_page_cards", *PUBLIC_MARTS} <= suites
    assert all(success for _, success in rows)
    assert list((fixtures_ingest["home"] / "reports").glob("validation-*.md"))
