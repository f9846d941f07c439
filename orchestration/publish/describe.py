"""Descriptions of the published tables, taken from dbt's manifest, written into every release.

dbt documents every public model and column (``dbt_project/models/**/_*.yml``); this module reads
those descriptions from ``target/manifest.json`` and puts them where readers of ``published/`` see
them:

- the release's DuckDB file: ``COMMENT ON TABLE`` / ``COMMENT ON COLUMN`` for every published table
  and column dbt describes (:func:`comment_duckdb_file`);
- each Parquet file: the table description and a JSON object of the column descriptions as the
  file's key-value metadata, and every column's description as Arrow field metadata (the
  ``ARROW:schema`` key, which pyarrow, pandas and polars read back) (:func:`parquet_copy_options`);
- the fingerprint of each table includes a digest of its descriptions (:func:`fingerprint_with_docs`),
  so a Parquet file or DuckDB file is reused from the previous release only when its descriptions
  are the current ones too.
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

#: Key-value metadata keys of a published Parquet file.
PARQUET_TABLE_KEY = "description"
PARQUET_COLUMNS_KEY = "column_descriptions"
PARQUET_TABLE_NAME_KEY = "table"


@dataclass(frozen=True)
class TableDoc:
    """A dbt model as published: ``schema.table``, its description, and per column its description
    (in the yml's column order)."""

    qualified: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        text = json.dumps([self.qualified, self.description, self.columns], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_docs() -> dict[str, TableDoc]:
    """Every dbt model of the manifest, by ``schema.table`` (the manifest is re-parsed by dbt when a
    project file changed)."""
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


def fingerprint_with_docs(fingerprint: str, qualified: str, docs: dict[str, TableDoc]) -> str:
    """A table's content fingerprint combined with the digest of its descriptions (``docs``)."""
    doc = docs.get(qualified)
    if doc is None:
        return fingerprint
    return hashlib.sha256(f"{fingerprint}:{doc.digest()}".encode()).hexdigest()[:32]


def parquet_copy_options(
    con: duckdb.DuckDBPyConnection, relation: str, qualified: str, docs: dict[str, TableDoc] | None = None,
) -> str:
    """Extra options for ``COPY relation TO '…' (FORMAT parquet<options>)``: the descriptions as the
    file's key-value metadata and as Arrow field metadata of each column. The Arrow schema is the
    one DuckDB itself exports for ``relation`` (so readers get the same types either way)."""
    doc = (docs if docs is not None else load_docs()).get(qualified)
    if doc is None:
        return ""
    import pyarrow as pa

    schema = con.sql(f"SELECT * FROM {relation} LIMIT 0").to_arrow_table().schema
    fields = []
    for f in schema:
        if pa.types.is_timestamp(f.type) and f.type.tz:  # DuckDB says Etc/UTC; Parquet readers say UTC
            f = f.with_type(pa.timestamp(f.type.unit, tz="UTC"))
        fields.append(f.with_metadata({"description": doc.columns[f.name]}) if doc.columns.get(f.name) else f)
    kv = {
        PARQUET_TABLE_NAME_KEY: qualified,
        PARQUET_TABLE_KEY: doc.description,
        PARQUET_COLUMNS_KEY: json.dumps({f.name: doc.columns.get(f.name, "") for f in schema}),
    }
    arrow_schema = pa.schema(fields, metadata=kv)
    kv["ARROW:schema"] = base64.b64encode(arrow_schema.serialize().to_pybytes()).decode("ascii")
    pairs = ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in kv.items())
    return f", KV_METADATA {{{pairs}}}"


def comment_duckdb_file(db_path: Path, tables: list[str], docs: dict[str, TableDoc]) -> int:
    """``COMMENT ON`` every table of ``tables`` (``schema.table``) in ``db_path`` and every one of
    its columns with its dbt description; a table or column dbt does not describe gets none.
    The file keeps its storage format. Returns the number of comments set."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {quote_literal(str(db_path))} AS pub")
        present = {
            (s, t, c) for s, t, c in con.execute(
                "SELECT schema_name, table_name, column_name FROM duckdb_columns() WHERE database_name = 'pub'"
            ).fetchall()
        }
        # (target, text) per table and column; None clears the comment a copied file may carry
        comments: list[tuple[str, str | None]] = []
        for qualified in tables:
            doc = docs.get(qualified) or TableDoc(qualified, "")
            schema, table = qualified.split(".")
            rel = f"pub.{quote_ident(schema)}.{quote_ident(table)}"
            table_columns = [c for s, t, c in sorted(present) if (s, t) == (schema, table)]
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
    finally:
        con.close()
    return sum(text is not None for _, text in comments)
