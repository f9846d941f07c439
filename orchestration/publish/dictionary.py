"""The release's data dictionary: ``catalog.json`` (for tools) and ``README.md`` (for people).

Both are generated from what the release's DuckDB file holds — its tables, column types and the
comments set from dbt's descriptions (orchestration/publish/describe.py) — plus the row counts and
files of the release manifest, so the dictionary describes exactly the release it sits in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from orchestration.publish.releases import DUCKDB_FILE

CATALOG = "catalog.json"
README = "README.md"


def build_catalog(db_path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() "
            "WHERE NOT internal ORDER BY schema_name = 'quality', schema_name, table_name"
        ).fetchall()
        columns = con.execute(
            "SELECT schema_name, table_name, column_name, data_type, comment FROM duckdb_columns() "
            "WHERE NOT internal ORDER BY schema_name, table_name, column_index"
        ).fetchall()
        counts = {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchall()[0][0]
                  for s, t, _ in tables}
    files = manifest.get("tables", {})
    out: dict[str, Any] = {k: manifest.get(k) for k in ("release", "run_id", "published_at")}
    out |= {"duckdb_file": manifest.get("duckdb", {}).get("path"), "tables": {}}
    for schema, table, comment in tables:
        qualified = f"{schema}.{table}"
        out["tables"][qualified] = {
            "description": comment or "",
            "rows": counts[qualified],
            "parquet": files.get(qualified, {}).get("parquet"),
            "partitioned_by": files.get(qualified, {}).get("partitioned_by"),
            "columns": [
                {"name": c, "type": ty, "description": desc or ""}
                for s, t, c, ty, desc in columns if (s, t) == (schema, table)
            ],
        }
    return out


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(catalog: dict[str, Any]) -> str:
    partitioned = [t["parquet"] for t in catalog["tables"].values() if t.get("partitioned_by")]
    layout = (
        "Marts in folders partitioned by listing month (`<folder>/listing_month=YYYY-MM/*.parquet`) are "
        f"read with their glob and Hive partitioning, e.g. `read_parquet('{partitioned[0]}', "
        f"hive_partitioning = true)` in DuckDB or `polars.scan_parquet('{partitioned[0].split('/*')[0]}/')`: "
        "`listing_month` comes from the folder names. The others are one file each. "
    ) if partitioned else ""
    lines = [
        f"# Data dictionary — release {catalog['release']}",
        "",
        f"Published {catalog['published_at']} from run `{catalog['run_id']}`. Open `warehouse.duckdb` "
        "read-only (DuckDB 1.4 or newer: every table whole, in one file) or read the Parquet files under "
        f"`parquet/` (where each table is, below). {layout}The same descriptions are the DuckDB file's table "
        "and column comments and the Parquet files' metadata. Schema `marts` holds the public tables; "
        "schema `quality` (DuckDB file only) the pipeline's quality record.",
        "",
        "| table | rows | description |",
        "| --- | --- | --- |",
    ]
    for name, table in catalog["tables"].items():
        first = table["description"].strip().split("\n\n")[0]
        lines.append(f"| [`{name}`](#{name.replace('.', '')}) | {table['rows']} | {_cell(first)} |")
    for name, table in catalog["tables"].items():
        lines += ["", f"## {name}", ""]
        if table["description"]:
            lines += [table["description"].strip(), ""]
        where = f"`warehouse.duckdb` and `{table['parquet']}`" if table["parquet"] else "the DuckDB file only"
        if by := table["partitioned_by"]:
            where += f", partitioned by `{by['column']}` (the month of `{by['month_of']}`)"
        lines += [f"{table['rows']} rows; in {where}.", "", "| column | type | description |", "| --- | --- | --- |"]
        lines += [f"| `{c['name']}` | {c['type']} | {_cell(c['description'])} |" for c in table["columns"]]
    return "\n".join(lines) + "\n"


def write_dictionary(release_dir: Path, manifest: dict[str, Any]) -> None:
    catalog = build_catalog(release_dir / DUCKDB_FILE, manifest)
    (release_dir / CATALOG).write_text(json.dumps(catalog, indent=2, default=str) + "\n", encoding="utf-8")
    (release_dir / README).write_text(render_markdown(catalog), encoding="utf-8")
