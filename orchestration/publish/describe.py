"""Descriptions of the published tables, read from dbt's ``target/manifest.json``, written into every
release: as ``COMMENT ON`` in the DuckDB file (:func:`comment_duckdb_file`), and in each Parquet file
as key-value metadata and Arrow field metadata (the ``ARROW:schema`` key, which pyarrow, pandas and
polars read back) (:func:`parquet_copy_options`). Each table's fingerprint includes a digest of its
descriptions, so a file is reused from the previous release only when its descriptions are current.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.dbt_state import ensure_manifest
from orchestration.sql import quote_ident, quote_literal

@dataclass(frozen=True)
class TableDoc:
    """A dbt model as published: ``schema.table``, its description and its columns' (in the yml's order)."""

    qualified: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        text = json.dumps([self.qualified, self.description, self.columns], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_docs() -> dict[str, TableDoc]:
    """Every dbt model of the manifest (re-parsed by dbt when a project file changed), by ``schema.table``."""
    path = ensure_manifest()
    return dict(_load(str(path), path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int) -> tuple[tuple[str, TableDoc], ...]:
    nodes = json.loads(Path(path).read_text(encoding="utf-8"))["nodes"]
    docs = []
    for node in nodes.values():
        if node.get("resource_type") != "model":
            continue
        qualified = f"{node['schema']}.{node.get('alias') or node['name']}"
        columns = {name: _clean(col.get("description")) for name, col in node.get("columns", {}).items()}
        docs.append((qualified, TableDoc(qualified, _clean(node.get("description")), columns)))
    return tuple(sorted(docs))


def _clean(text: str | None) -> str:
    return (text or "").strip()


def parquet_copy_options(con: duckdb.DuckDBPyConnection, relation: str, qualified: str) -> str:
    """Extra options for ``COPY relation TO '…' (FORMAT parquet<options>)``: the descriptions as the
    file's key-value metadata and as Arrow field metadata of each column. The Arrow schema is the
    one DuckDB itself exports for ``relation`` (so readers get the same types either way)."""
    doc = load_docs().get(qualified)
    if doc is None:
        return ""
    import pyarrow as pa

    schema = con.sql(f"SELECT * FROM {relation} LIMIT 0").to_arrow_table().schema
    fields = []
    for f in schema:
        if pa.types.is_timestamp(f.type) and f.type.tz:  # DuckDB says Etc/UTC; Parquet readers say UTC
            f = f.with_type(pa.timestamp(f.type.unit, tz="UTC"))
        fields.append(f.with_metadata({"description": doc.columns[f.name]}) if doc.columns.get(f.name) else f)
    kv = {"table": qualified, "description": doc.description,
          "column_descriptions": json.dumps({f.name: doc.columns.get(f.name, "") for f in schema})}
    kv["ARROW:schema"] = base64.b64encode(pa.schema(fields, metadata=kv).serialize().to_pybytes()).decode("ascii")
    pairs = ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in kv.items())
    return f", KV_METADATA {{{pairs}}}"


def comment_duckdb_file(db_path: Path, tables: list[str], docs: dict[str, TableDoc]) -> int:
    """``COMMENT ON`` every table of ``tables`` (``schema.table``) in ``db_path`` and every one of
    its columns with its dbt description; a table or column dbt does not describe gets none.
    The file keeps its storage format. Returns the number of comments set."""
    with duckdb.connect(":memory:") as con:
        con.execute(f"ATTACH {quote_literal(db_path)} AS pub")
        present = con.execute("SELECT schema_name, table_name, column_name FROM duckdb_columns() "
                              "WHERE database_name = 'pub' ORDER BY ALL").fetchall()
        # (target, text) per table and column; None clears the comment a copied file may carry
        comments: list[tuple[str, str | None]] = []
        for qualified in tables:
            doc = docs.get(qualified) or TableDoc(qualified, "")
            schema, table = qualified.split(".")
            rel = f"pub.{quote_ident(schema)}.{quote_ident(table)}"
            table_columns = [c for s, t, c in present if (s, t) == (schema, table)]
            if not table_columns:
                continue
            comments.append((f"TABLE {rel}", doc.description or None))
            comments += [(f"COLUMN {rel}.{quote_ident(c)}", doc.columns.get(c) or None) for c in table_columns]
        con.execute("BEGIN TRANSACTION")
        for target, text in comments:
            con.execute(f"COMMENT ON {target} IS {quote_literal(text) if text else 'NULL'}")
        con.execute("COMMIT")
        con.execute("CHECKPOINT pub")
        con.execute("DETACH pub")
    return sum(text is not None for _, text in comments)
