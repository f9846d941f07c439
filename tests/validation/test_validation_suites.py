"""Every suite file in expectations/ is valid JSON that GX 1.x accepts without dropping anything."""

from __future__ import annotations

import json

import pytest

from orchestration.project import PUBLIC_MARTS
from orchestration.validation.suites import SUITES_DIR, load_suite
from orchestration.validation.suites import GROUP_EXPECTATIONS, build_suite, needs_one_frame

RAW_SUITES = ["raw_api_papers", "raw_page_cards"]


def suite_names() -> list[str]:
    """Names of every suite file in ``expectations/`` (sorted)."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.json"))


def test_one_suite_per_raw_table_family_and_public_mart():
    assert {*RAW_SUITES, *PUBLIC_MARTS} <= set(suite_names())
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


@pytest.mark.parametrize("name", PUBLIC_MARTS)
def test_a_mart_suite_holds_row_rules_only(name):
    """A mart's keys, NOT NULL columns and row count are dbt's (contract and tests), not a suite's."""
    types = {e["type"] for e in load_suite(name)["expectations"]}
    assert types and not types & {*GROUP_EXPECTATIONS, "expect_column_values_to_not_be_null",
                                  "expect_table_row_count_to_be_between"}, types


@pytest.mark.parametrize("name", suite_names())
def test_every_expectation_is_one_the_runner_evaluates(name):
    for exp in load_suite(name)["expectations"]:
        needs_one_frame(exp)  # raises for any other type


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


#: columns whose values the parser sets itself (tests/snapshots owns them): the file's sha256, the
#: position in the listing, the JSON text of the author and keyword lists it parsed
PARSER_SET = {"snapshot_id", "rank", "authors_json", "ai_keywords_json"}


@pytest.mark.parametrize("name", RAW_SUITES)
def test_a_raw_suite_holds_value_rules_only(name):
    """Required columns are the raw table's NOT NULL (next test)."""
    exps = load_suite(name)["expectations"]
    assert not [e for e in exps if e["type"] == "expect_column_values_to_not_be_null"]


@pytest.mark.parametrize("name", suite_names())
def test_no_suite_rechecks_what_the_parser_sets(name):
    """A rule on a parser-set column checks the parser, which its own tests do; the one exception is
    a paper listed twice in one snapshot (the (snapshot_id, arxiv_id) key: a value the API brings)."""
    exps = load_suite(name)["expectations"]
    columns = [(e["kwargs"].get("column"), *e["kwargs"].get("column_list", ())) for e in exps]
    assert not [c for c in columns if PARSER_SET & set(c) and list(c[1:]) != ["snapshot_id", "arxiv_id"]]


@pytest.mark.parametrize("name", suite_names())
def test_one_rule_per_column_and_expectation_type(name):
    """Two expectations of one type on one column are one rule written twice (e.g. a length's
    minimum and maximum): they belong in one expectation."""
    keys = [(e["type"], e["kwargs"].get("column")) for e in load_suite(name)["expectations"]
            if e["kwargs"].get("column")]
    assert len(keys) == len(set(keys))


def test_the_required_raw_columns_are_not_null_in_the_raw_tables(fixtures_warehouse):
    """dlt creates the raw tables from the parser's Arrow schemas: a required field is a NOT NULL
    column, so DuckDB refuses a row without it at load (the raw suites do not re-check it)."""
    import duckdb

    from orchestration.snapshots.schemas import RAW_TABLES

    checked = []
    with duckdb.connect(str(fixtures_warehouse), read_only=True) as con:
        for table, raw in RAW_TABLES.items():
            nullable = dict(con.execute("select column_name, is_nullable from information_schema.columns "
                                        "where table_schema = 'raw' and table_name = ?", [table]).fetchall())
            if not nullable:  # a table no load reached (the fixtures fetch nothing from the API)
                continue
            required = [f.name for f in raw.schema if not f.nullable]
            assert required and {c: nullable[c] for c in required} == dict.fromkeys(required, "NO"), table
            checked.append(table)
    assert {"landed_api_papers", "landed_page_cards"} <= set(checked)
