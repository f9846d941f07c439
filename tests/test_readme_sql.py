"""Every ```sql block of the README runs against a published demo release and returns rows (from
a folder where ``data/`` is that demo home, as the README's paths are the repository's)."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.pipeline_runs import REPO


def readme_statements() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    statements = []
    for block in blocks:
        lines = [line for line in block.splitlines() if not line.strip().startswith("--")]
        statements += [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
    return statements


def test_the_readme_has_sql_examples_of_marts_and_quality():
    text = " ".join(readme_statements())
    assert len(readme_statements()) >= 6 and "marts." in text and "quality." in text
    assert "ops." not in text, "analysts read published/, which has no ops schema"


def test_the_readme_reads_the_partitioned_parquet_too():
    text = " ".join(readme_statements())
    assert "read_parquet('data/published/parquet/papers/*/*.parquet', hive_partitioning = true)" in text
    assert "listing_month" in text


@pytest.mark.parametrize("statement", readme_statements(), ids=lambda s: " ".join(s.split())[:60])
def test_readme_sql_returns_rows_on_the_published_demo(demo_home, statement, tmp_path, monkeypatch):
    (tmp_path / "data").symlink_to(demo_home)
    monkeypatch.chdir(tmp_path)
    with duckdb.connect(str(demo_home / "published" / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(statement).fetchall()
    assert rows, statement
