"""What changed since the previous release: a content fingerprint of every published table.

DuckDB fingerprints each table (row count, column names and types, sum of 64-bit row hashes) and
:func:`changed_tables` compares that with what the previous release's manifest recorded for it: an
unchanged table's files are reused from there (``parquet.py``, ``duckdb_file.py``). The row hashes
are kept for the DuckDB file's row delta.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orchestration.publish.describe import fingerprint_with_docs
from orchestration.publish.tables import Columns, Target, table_columns
from orchestration.sql import quote_ident

#: How table contents are fingerprinted (recorded in the manifest; a release with another scheme is
#: not reused). DuckDB's ``hash`` may change between versions, hence the version in it.
FINGERPRINT_SCHEME = f"rowhash-sum-1/duckdb-{duckdb.__version__}"

_NESTED = re.compile(r"\[|\b(STRUCT|MAP|UNION)\b")


@dataclass
class Built:
    """What the publish made of one table."""

    rows: int
    fingerprint: str
    reused_parquet: bool = False  # hard-linked (or copied) from the previous release
    parquet_sha256: str | None = None  # carried over from the previous manifest when reused


@dataclass
class Previous:
    """The release ``published`` points at now, when its files can be reused (``manifest.py``'s
    ``previous_release`` checked its fingerprint scheme, storage format and DuckDB file)."""

    dir: Path
    manifest: dict[str, Any]

    def table(self, qualified: str) -> dict[str, Any] | None:
        entry = self.manifest.get("tables", {}).get(qualified)
        return entry if isinstance(entry, dict) else None


def row_hash_sql(columns: Columns) -> str:
    """A 64-bit hash of a row, sensitive to column order. Nested values are hashed through their JSON
    text: DuckDB's ``hash`` of lists ignores where one list ends and the next begins (measured:
    ``(['a','b'], ['c'])`` and ``(['a'], ['b','c'])`` hash alike)."""
    parts = [f"to_json({quote_ident(c)})" if _NESTED.search(ty.upper()) else quote_ident(c) for c, ty in columns]
    return f"hash({', '.join(parts)})"


def hashes_table(t: Target) -> str:
    """The temporary table holding (rowid, row hash) of ``t``'s rows in the warehouse."""
    return f"_pub_hashes_{t.schema}_{t.table}"


def fingerprint_tables(
    con: duckdb.DuckDBPyConnection, targets: list[Target], *, keep_hashes: bool,
) -> tuple[dict[str, Built], dict[str, Columns]]:
    """Each table's columns and fingerprint in the warehouse (``src``), which includes a digest of
    its dbt descriptions. With ``keep_hashes``, the row hashes stay in :func:`hashes_table`."""
    built: dict[str, Built] = {}
    columns: dict[str, Columns] = {}
    for t in targets:
        columns[t.qualified] = table_columns(con, "src", t)
        rows, fingerprint = _fingerprint(con, t.relation("src"), columns[t.qualified],
                                         keep_hashes=hashes_table(t) if keep_hashes else None)
        built[t.qualified] = Built(rows, fingerprint_with_docs(fingerprint, t.qualified))
    return built, columns


def _fingerprint(
    con: duckdb.DuckDBPyConnection, relation: str, columns: Columns, *, keep_hashes: str | None = None,
) -> tuple[int, str]:
    """Row count and an order-independent content fingerprint of ``relation`` (DuckDB does the work:
    the sum of the row hashes, as a 128-bit integer so equal rows do not cancel out). With
    ``keep_hashes``, the (rowid, hash) of every row is kept in that temporary table for a delta."""
    if keep_hashes:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {keep_hashes} AS "
                    f"SELECT rowid AS r, {row_hash_sql(columns)} AS h FROM {relation}")
        relation, expression = f"temp.{keep_hashes}", "h"
    else:
        expression = row_hash_sql(columns)
    rows, total = con.execute(
        f"SELECT count(*), coalesce(sum({expression}::HUGEINT), 0) FROM {relation}"
    ).fetchall()[0]
    text = json.dumps([FINGERPRINT_SCHEME, columns, rows, str(total)], separators=(",", ":"))
    return rows, hashlib.sha256(text.encode()).hexdigest()[:32]


def changed_tables(previous: Previous | None, targets: list[Target], built: dict[str, Built]) -> list[Target]:
    """The tables whose fingerprint or row count differs from the previous release's (all of them
    when there is none)."""
    changed = []
    for t in targets:
        entry, b = previous.table(t.qualified) if previous else None, built[t.qualified]
        if not (entry and entry.get("fingerprint") == b.fingerprint and entry.get("rows") == b.rows):
            changed.append(t)
    return changed
