"""The columns of the tables dbt reads but the pipeline writes are declared twice, once per language,
and must agree: the raw tables' Arrow schemas (orchestration/snapshots/schemas.py) and the ops tables'
DDL against their dbt sources (_sources.yml, _quality.yml), from which macro source_or_empty builds
the stand-in of a table not created yet."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import yaml

from orchestration.ops.ledger import LOAD_ID, RAW_TABLES
from orchestration.ops.registry import ensure_registry
from orchestration.ops.results import ensure_results
from orchestration.project import DBT_PROJECT_DIR
from orchestration.snapshots.schemas import TIMESTAMP_UTC

DUCKDB_TYPE = {pa.string(): "varchar", pa.date32(): "date", TIMESTAMP_UTC: "timestamptz", pa.int32(): "integer"}


def test_dbt_sources_declare_exactly_the_columns_dlt_loads():
    sources = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())
    [raw] = [s for s in sources["sources"] if s["name"] == "raw"]
    declared = {t["name"]: [(c["name"], c.get("data_type")) for c in t["columns"]] for t in raw["tables"]}
    assert set(declared) == set(RAW_TABLES)
    for table, raw in RAW_TABLES.items():
        expected = [(f.name, DUCKDB_TYPE[f.type]) for f in raw.schema] + [(LOAD_ID, "varchar")]
        assert declared[table] == expected, table


def test_dbt_sources_declare_exactly_the_columns_of_the_ops_tables():
    sources = yaml.safe_load((DBT_PROJECT_DIR / "models" / "quality" / "_quality.yml").read_text())
    [ops] = [s for s in sources["sources"] if s["name"] == "ops"]
    declared = {t["name"]: [(c["name"], c["data_type"]) for c in t["columns"]] for t in ops["tables"]}
    con = duckdb.connect()
    ensure_registry(con)
    ensure_results(con)
    names = {"VARCHAR": "varchar", "DATE": "date", "TIMESTAMP WITH TIME ZONE": "timestamptz", "INTEGER": "integer",
             "BIGINT": "bigint", "BOOLEAN": "boolean"}
    for table, columns in declared.items():
        created = con.execute("select column_name, data_type from information_schema.columns where table_schema = "
                              "'ops' and table_name = ? order by ordinal_position", [table]).fetchall()
        assert columns == [(name, names[data_type]) for name, data_type in created], table
