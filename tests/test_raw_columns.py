"""The raw columns are declared twice, once per language, and must agree: the Arrow schemas the
parsers produce (orchestration/snapshots/schemas.py) and the dbt sources (_sources.yml, from which
macro raw_columns builds the stand-in of a raw table not created yet)."""

from __future__ import annotations

import pyarrow as pa
import yaml

from orchestration.ops.ledger import LOAD_ID, RAW_TABLES
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
