"""The release's ``quality`` schema: the pipeline's quality record, read-only, next to the marts.

Publishing copies dbt's quality views (``dbt_project/models/quality/``, so they include this run's
mart validations) as tables into the release's DuckDB file, plus ``quality.release``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.publish.describe import TableDoc
from orchestration.publish.releases import NewRelease
from orchestration.sql import quote_literal

SCHEMA = "quality"
#: The dbt models (views, schema ``quality``) copied into every release, in name order.
VIEWS = ("quarantined_files", "snapshot_files", "validation_results", "validation_runs")
RELEASE_TABLE = f"{SCHEMA}.release"

#: ``quality.release``: written by the publish step, described here (it is no dbt model).
RELEASE_DOC = TableDoc(
    RELEASE_TABLE,
    "This release: one row naming it, the run that built it and when it was published. The "
    "published_at of the release `published/` points at is the last publish time.",
    {
        "release": "Release folder name under PAPERS_HOME/releases (`<UTC time>-<run id prefix>`).",
        "run_id": "Dagster run whose validated marts this release holds.",
        "published_at": "When this release was published (UTC); freshness = now - published_at.",
        "marts": "Public marts in this release.",
        "mart_rows": "Rows over all public marts in this release.",
    },
)


def quality_views_in(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The quality views dbt built in the warehouse (``src``; none in a warehouse dbt never built)."""
    present = {f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = 'src' AND NOT internal").fetchall()}
    return [q for q in (f"{SCHEMA}.{view}" for view in VIEWS) if q in present]


def write_quality_schema(db_path: Path, warehouse: Path, copied: list[str], release: NewRelease, *,
                         marts: list[str]) -> list[str]:
    """(Re)create the ``quality`` tables in the release's DuckDB file ``db_path`` from the
    warehouse's quality views ``copied`` (:func:`quality_views_in`), and ``quality.release``.
    Returns the tables written; none without quality views (a warehouse dbt never built)."""
    if not copied:
        return []
    with duckdb.connect(":memory:") as con:
        con.execute(f"ATTACH {quote_literal(warehouse)} AS src (READ_ONLY)")
        con.execute(f"ATTACH {quote_literal(db_path)} AS pub")
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS pub.{SCHEMA}")
        for qualified in copied:
            con.execute(f"CREATE OR REPLACE TABLE pub.{qualified} AS SELECT * FROM src.{qualified}")
        mart_rows = sum(con.execute(f"SELECT count(*) FROM pub.{m}").fetchone()[0] for m in marts)
        con.execute(f"CREATE OR REPLACE TABLE pub.{RELEASE_TABLE} (release VARCHAR, run_id VARCHAR, "
                    "published_at TIMESTAMPTZ, marts VARCHAR[], mart_rows BIGINT)")
        con.execute(f"INSERT INTO pub.{RELEASE_TABLE} VALUES (?, ?, ?, ?, ?)",
                    [release.name, release.run_id, release.published_at, sorted(marts), mart_rows])
        con.execute("COMMIT")
        con.execute("CHECKPOINT pub")
        con.execute("DETACH pub")
    return [*copied, RELEASE_TABLE]
