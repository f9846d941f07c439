"""What changed since the previous release: a content fingerprint of every published table and of
every Parquet partition.

DuckDB fingerprints each table in one grouped query (row count and sum of 64-bit row hashes per
partition of its layout, ``layout.py``; a one-file table is one partition): a partition's
fingerprint is that of its rows, the table's that of all its rows, each with the column names and
types and a digest of dbt's descriptions. :func:`changed_tables` and :meth:`Previous.reusable_part`
compare them with what the previous release's manifest recorded: an unchanged partition's files
are reused from there (``parquet.py``), an unchanged table's rows in the DuckDB file too
(``duckdb_file.py``), which hashes the rows of the changed partitions again for its row delta.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from orchestration.publish.describe import TableDoc, fingerprint_with_docs, load_docs
from orchestration.publish.layout import PAPER_KEY, Layout
from orchestration.publish.releases import DUCKDB_FILE, PublishError
from orchestration.publish.tables import Columns, Target
from orchestration.sql import quote_ident, quote_literal

#: How table contents are fingerprinted (recorded in the manifest; a release with another scheme is
#: not reused). DuckDB's ``hash`` may change between versions, hence the version in it. Scheme 3:
#: per-partition fingerprints and files in the manifest, lists of scalars hashed with their length,
#: each row hash mixed once more before it is summed (:func:`_fingerprint`).
FINGERPRINT_SCHEME = f"rowhash-sum-3/duckdb-{duckdb.__version__}"

_NESTED = re.compile(r"\[|\b(STRUCT|MAP|UNION)\b")
#: DuckDB's vector size: a scan decompresses the columns of a vector only if a row of it passes the filter.
VECTOR_ROWS = 2048


@dataclass
class ParquetFile:
    """One Parquet file of the release (path relative to the release folder)."""

    path: str
    rows: int
    bytes: int = 0
    sha256: str | None = None  # carried over from the previous manifest when reused, else hashed later
    reused: bool = False  # hard-linked (or copied) from the previous release


@dataclass
class Part:
    """One partition of a table (the whole table for a one-file table) and the files holding it;
    ``vectors``: how many of the table's vectors (:data:`VECTOR_ROWS` rows by rowid) hold its rows,
    what DuckDB decompresses to read only this partition."""

    rows: int
    fingerprint: str
    vectors: int = 0
    files: list[ParquetFile] = field(default_factory=list)
    hash_sum: int = 0  # the sum of its row hashes (a table's is the sum of its parts')
    appended: bool = False  # the previous release's rows plus new ones, written as one more file

    @property
    def reused(self) -> bool:
        return bool(self.files) and all(f.reused for f in self.files)


@dataclass
class Built:
    """What the publish made of one table: its rows and fingerprint, and its parts by partition key
    (one part, key None, for a one-file table)."""

    rows: int
    fingerprint: str
    parts: dict[str | None, Part]
    described: str = ""  # digest of its dbt descriptions (in every Parquet file's metadata)

    @property
    def reused_parquet(self) -> bool:
        return all(p.reused for p in self.parts.values())

    @property
    def files(self) -> list[ParquetFile]:
        return [f for p in self.parts.values() for f in p.files]


@dataclass
class Previous:
    """The release ``published`` points at now, when its files can be reused (``manifest.py``'s
    ``previous_release`` checked its fingerprint scheme, storage format and DuckDB file)."""

    dir: Path
    manifest: dict[str, Any]

    def table(self, qualified: str) -> dict[str, Any] | None:
        entry = self.manifest.get("tables", {}).get(qualified)
        return entry if isinstance(entry, dict) else None

    def reusable_part(self, layout: Layout, key: str | None, part: Part) -> list[ParquetFile] | None:
        """The previous release's files of this partition when they hold exactly its rows (same
        layout, fingerprint and row count) and are still there at their recorded size; else None."""
        entry = self.table(layout.target.qualified)
        if not entry or entry.get("parquet") != layout.parquet or entry.get("partitioned_by") != layout.describe():
            return None
        recorded = entry.get("partitions", {}).get(key) if layout.partitioned else entry
        if not isinstance(recorded, dict) or (recorded.get("fingerprint"), recorded.get("rows")) != (
                part.fingerprint, part.rows):
            return None
        files = []
        try:
            for path, f in entry["files"].items():
                if f.get("partition") != key:
                    continue
                if (self.dir / path).stat().st_size != f["bytes"]:
                    return None
                files.append(ParquetFile(path, f["rows"], f["bytes"], f["sha256"], reused=True))
        except (OSError, KeyError, TypeError, AttributeError):
            return None
        return files if files and sum(f.rows for f in files) == part.rows else None


def row_hash_sql(columns: Columns, alias: str | None = None) -> str:
    """A 64-bit hash of a row, sensitive to column order. DuckDB's ``hash`` of lists ignores where
    one list ends and the next begins (measured: ``(['a','b'], ['c'])`` and ``(['a'], ['b','c'])``
    hash alike), so a list of scalars is hashed with its length before it, and any other nested
    value through its JSON text (3× slower than the length: 0.39 s instead of 0.13 s for the
    keywords of 1M papers)."""
    prefix = f"{alias}." if alias else ""
    parts = []
    for c, ty in columns:
        column = f"{prefix}{quote_ident(c)}"
        if ty.endswith("[]") and not _NESTED.search(ty[:-2].upper()):
            parts += [f"len({column})", column]
        elif _NESTED.search(ty.upper()):
            parts.append(f"to_json({column})")
        else:
            parts.append(column)
    return f"hash({', '.join(parts)})"


def fingerprint_tables(
    con: duckdb.DuckDBPyConnection, layouts: dict[str, Layout], columns: dict[str, Columns],
    previous: Previous | None = None, touched: dict[str, set[str]] | None = None,
) -> dict[str, Built]:
    """Each table's fingerprint and its partitions' in the warehouse (``src``), including a digest
    of its dbt descriptions. ``touched``: per partitioned table, the only partitions whose rows can
    differ from ``previous`` (:func:`touched_partitions`); the others are taken from its manifest."""
    docs = load_docs()
    touched = touched or {}
    return {qualified: _fingerprint(con, layout, columns[qualified], docs, touched.get(qualified),
                                    _carried(previous, layout, columns[qualified], docs, touched.get(qualified)))
            for qualified, layout in layouts.items()}


def touched_partitions(con: duckdb.DuckDBPyConnection, layouts: dict[str, Layout], papers_sql: str,
                       previous: Previous) -> dict[str, set[str]]:
    """Per partitioned table, the partitions holding a row of the papers ``papers_sql`` selects (a
    query over ``src``) in the warehouse or in the ``previous`` release's DuckDB file, where a paper
    may have been dated otherwise: the only partitions a build that recomputed those papers changed."""
    con.execute(f"ATTACH {quote_literal(previous.dir / DUCKDB_FILE)} AS _prev (READ_ONLY)")
    try:
        return {qualified: {k for (k,) in con.execute(" UNION ".join(
                    f"SELECT DISTINCT {layout.key_sql()} FROM {layout.source_sql(db)} "
                    f"WHERE _t.{quote_ident(PAPER_KEY)} IN ({papers_sql})" for db in ("src", "_prev"))).fetchall()}
                for qualified, layout in layouts.items() if layout.partitioned}
    finally:
        con.execute("DETACH _prev")


def _carried(previous: Previous | None, layout: Layout, columns: Columns, docs: dict[str, TableDoc],
             touched: set[str] | None) -> dict[str, Part] | None:
    """The previous release's parts outside ``touched`` (their rows, fingerprint and row-hash sum),
    when its manifest recorded every part with the same columns and descriptions; else None."""
    entry = previous.table(layout.target.qualified) if previous and touched is not None else None
    if not entry or entry.get("partitioned_by") != layout.describe() or not layout.partitioned:
        return None
    carried = {}
    for key, part in (entry.get("partitions") or {}).items():
        if key in touched:
            continue
        try:
            rows, hash_sum = int(part["rows"]), int(part["hash_sum"])
        except (KeyError, TypeError, ValueError):  # a manifest without row-hash sums
            return None
        if part.get("fingerprint") != _digest(columns, rows, hash_sum, layout.target.qualified, docs):
            return None  # other columns or descriptions: every part differs
        carried[key] = Part(rows, part["fingerprint"], hash_sum=hash_sum)
    return carried


def _fingerprint(con: duckdb.DuckDBPyConnection, layout: Layout, columns: Columns, docs: dict[str, TableDoc],
                 touched: set[str] | None = None, carried: dict[str, Part] | None = None) -> Built:
    """Row count and order-independent content fingerprint of the table and of each of its partitions
    (DuckDB does the work in one grouped query: the sum of the row hashes per partition, as a 128-bit
    integer so the sum never wraps). A row hash is ``hash(other columns) XOR hash(last column)``, so
    two rows making the same change of their last column would change the sum by amounts that can
    cancel out (measured: two booleans flipped, sums equal); hashing each row hash again first makes
    the terms independent.

    With ``carried`` (the previous release's parts outside the ``touched`` partitions) only the
    touched partitions are read; when the rows then do not add up to the table's (a paper gone from
    a partition no new load touched), every partition is read."""
    where = f" WHERE {layout.keys_filter_sql(touched)}" if carried is not None else ""
    groups = con.execute(
        f"SELECT {layout.key_sql()} AS k, count(*), sum(hash({row_hash_sql(columns, '_t')})::HUGEINT), "
        f"count(DISTINCT _t.rowid // {VECTOR_ROWS}) FROM {layout.source_sql('src')}{where} GROUP BY k"
    ).fetchall()
    qualified = layout.target.qualified
    parts = {k: Part(n, _digest(columns, n, total, qualified, docs), vectors, hash_sum=int(total))
             for k, n, total, vectors in groups}
    rows = sum(p.rows for p in parts.values()) + sum(p.rows for p in (carried or {}).values())
    if (layout.via is not None or carried is not None) and rows != con.execute(
            f"SELECT count(*) FROM {layout.target.relation('src')}").fetchall()[0][0]:
        if carried is not None:
            return _fingerprint(con, layout, columns, docs)
        raise PublishError(f"{qualified}: a {PAPER_KEY} occurs twice in {layout.via.qualified}, "
                           "so its rows cannot be dated by their paper")
    parts.update({k: p for k, p in (carried or {}).items() if p.rows})
    if not parts:  # an empty table: one empty part (for a partitioned table, one empty file)
        parts = {layout.partition_key_of_empty(): Part(0, _digest(columns, 0, 0, qualified, docs))}
    total = sum(p.hash_sum for p in parts.values())
    doc = docs.get(qualified)
    return Built(rows, _digest(columns, rows, total, qualified, docs), parts, doc.digest() if doc else "")


def _digest(columns: Columns, rows: int, total: int, qualified: str, docs: dict[str, TableDoc]) -> str:
    text = json.dumps([FINGERPRINT_SCHEME, columns, rows, str(total)], separators=(",", ":"))
    return fingerprint_with_docs(hashlib.sha256(text.encode()).hexdigest()[:32], qualified, docs)


def changed_tables(previous: Previous | None, targets: list[Target], built: dict[str, Built]) -> list[Target]:
    """The tables whose fingerprint or row count differs from the previous release's (all of them
    when there is none)."""
    changed = []
    for t in targets:
        entry, b = previous.table(t.qualified) if previous else None, built[t.qualified]
        if not (entry and entry.get("fingerprint") == b.fingerprint and entry.get("rows") == b.rows):
            changed.append(t)
    return changed


def changed_partitions(previous: Previous, layout: Layout, b: Built) -> set[str] | None:
    """The partition keys of a partitioned table whose rows differ from the previous release's: those
    whose fingerprint or row count changed, and those gone since. None for a one-file table or
    when the previous release recorded no partitions of this layout (the whole table differs)."""
    entry = previous.table(layout.target.qualified)
    if not layout.partitioned or not entry or entry.get("partitioned_by") != layout.describe():
        return None
    recorded = entry.get("partitions")
    if not isinstance(recorded, dict):
        return None
    keys = {k for k, p in b.parts.items()
            if not (isinstance(recorded.get(k), dict)
                    and (recorded[k].get("fingerprint"), recorded[k].get("rows")) == (p.fingerprint, p.rows))}
    return keys | (set(recorded) - set(b.parts))
