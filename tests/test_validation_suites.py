"""Every suite file in expectations/ is valid JSON that GX 1.x accepts without dropping anything."""

from __future__ import annotations

import json

import pytest

from orchestration.validation.runner import SUITES_DIR, load_suite, suite_names
from orchestration.validation.suites import build_suite, evaluation_mode

PUBLIC_MARTS = ["papers", "paper_observations", "authors_count", "authors_daily", "authors",
                "paper_topics", "topics_daily"]
RAW_SUITES = ["raw_api_papers", "raw_page_cards"]


def test_one_suite_per_raw_table_family_and_public_mart():
    assert set(RAW_SUITES + PUBLIC_MARTS) <= set(suite_names())
    assert not (SUITES_DIR.parent / "gx").exists()


@pytest.mark.parametrize("name", suite_names())
def test_suite_loads_into_gx(name):
    import great_expectations as gx

    doc = json.loads((SUITES_DIR / f"{name}.json").read_text())
    assert doc["name"] == name
    suite = build_suite(name)
    assert isinstance(suite, gx.ExpectationSuite)
    assert suite.name == name
    assert len(suite.expectations) == len(doc["expectations"]) > 0
    assert [e.expectation_type for e in suite.expectations] == [
        e["type"] for e in doc["expectations"]]


@pytest.mark.parametrize("name", PUBLIC_MARTS)
def test_mart_suites_tolerate_added_columns(name):
    types = {e["type"] for e in load_suite(name)["expectations"]}
    assert "expect_table_columns_to_match_set" not in types
    assert "expect_column_to_exist" not in types  # columns are the dbt contract's, not the suite's


def test_raw_suite_guards_upvotes_and_keys():
    exps = load_suite("raw_api_papers")["expectations"]
    assert {"type": "expect_column_values_to_be_between",
            "kwargs": {"column": "upvotes", "min_value": 0},
            "meta": {"notes": "paper.upvotes can only be >= 0"}} in exps
    assert any(e["type"] == "expect_compound_columns_to_be_unique" for e in exps)


def test_papers_suite_requires_rows_and_unique_ids():
    exps = load_suite("papers")["expectations"]
    by_kind = {(e["type"], json.dumps(e["kwargs"], sort_keys=True)): e for e in exps}
    count = by_kind[("expect_table_row_count_to_be_between", json.dumps({"min_value": 1}))]
    unique = by_kind[("expect_column_values_to_be_unique", json.dumps({"column": "paper_id"}))]
    assert unique["meta"]["notes"].startswith("one row per paper")
    # about the whole table: a DuckDB aggregate even when a run validates only touched rows
    assert count["meta"]["scope"] == unique["meta"]["scope"] == "table"


@pytest.mark.parametrize("name", suite_names())
def test_every_expectation_has_a_known_evaluation_mode(name):
    modes = {evaluation_mode(e) for e in load_suite(name)["expectations"]}
    assert modes <= {"table", "rows"}


def test_table_scope_only_for_whole_table_types():
    with pytest.raises(ValueError, match="scope 'table' is supported only"):
        evaluation_mode({"type": "expect_column_values_to_not_be_null",
                         "kwargs": {"column": "a"}, "meta": {"scope": "table"}})


def test_invalid_expectation_is_an_error_not_silently_dropped():
    doc = {"name": "broken", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
        {"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "a", "min_value": 0}},
    ]}
    with pytest.raises(ValueError, match="invalid expectation"):
        build_suite(doc)


def test_unknown_kwarg_is_an_error():
    doc = {"name": "broken", "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "a", "min_valu": 0}},
    ]}
    with pytest.raises(ValueError, match="suite 'broken': invalid expectation"):
        build_suite(doc)


def test_missing_suite_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="no expectation suite 'nope'"):
        load_suite("nope")
