"""Shared fixtures: the real pipeline run once per test session on all shared fixtures.

`fixtures_ingest` runs `papers ingest` of the 13 shared fixture files into an empty PAPERS_HOME, then
the same command again, and records what each run printed and the table counts after each.
`fixtures_warehouse` is the resulting DuckDB file (marts built), for tests that only read it.
"""

from __future__ import annotations

import re

import pytest

from tests.pipeline_runs import API_FIXTURES, TEXT_FIXTURES, query, run_papers

COUNTED_TABLES = [
    "raw.landed_api_papers", "raw.landed_page_cards", "marts.papers", "marts.paper_observations",
    "marts.authors_count", "marts.authors_daily", "marts.authors", "marts.paper_topics",
    "marts.topics_daily",
]


def run_id_of(output: str) -> str | None:
    found = re.findall(r"\(run ([0-9a-f-]{36})\)", output)
    return found[-1] if found else None


def table_counts(warehouse) -> dict[str, int]:
    return {t: query(warehouse, f"select count(*) from {t}")[0][0] for t in COUNTED_TABLES}


def pytest_configure(config):
    """Parse the dbt project once before the workers start (each would otherwise race to write
    dbt_project/target/manifest.json when it is stale)."""
    if not hasattr(config, "workerinput"):
        from orchestration.dbt_state import ensure_manifest

        ensure_manifest()


@pytest.fixture(scope="session")
def fixtures_ingest(tmp_path_factory):
    home = tmp_path_factory.mktemp("fixtures_home")
    files = [str(p) for p in API_FIXTURES + TEXT_FIXTURES]
    runs = {}
    for name in ("first", "second"):
        code, output = run_papers(home, "ingest", *files)
        runs[name] = {"code": code, "output": output, "run_id": run_id_of(output)}
        assert code == 0, output
        runs[f"tables_after_{name}"] = table_counts(home / "warehouse.duckdb")
        runs[f"files_after_{name}"] = {folder: sorted(p.name for p in (home / folder).iterdir())
                                       for folder in ("landing", "archive", "quarantine")}
    return {"home": home, "warehouse": home / "warehouse.duckdb", **runs}


@pytest.fixture(scope="session")
def fixtures_warehouse(fixtures_ingest):
    return fixtures_ingest["warehouse"]
