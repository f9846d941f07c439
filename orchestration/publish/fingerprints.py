"""What changed since the previous release: a content fingerprint of every published table and of
every Parquet partition (row count and sum of 64-bit row hashes, with the column names and types
and a digest of dbt's descriptions), compared with what the previous release's manifest recorded.

After an incremental build, a table partitioned by month is fingerprinted from the previous
manifest corrected by the rows of the papers observed since (:func:`_narrowed`). The rows that can
differ from the previous release's are kept for the Parquet append and the DuckDB delta (:func:`touched_delta`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from orchestration.publish.describe import load_docs
from orchestration.publish.layout import NULL_PARTITION, PAPER_KEY, Layout
from orchestration.publish.releases import DUCKDB_FILE, PublishError
from orchestration.publish.tables import Columns, Target, table_columns, tables_in
from orchestration.sql import quote_ident, quote_literal

#: How table contents are fingerprinted (recorded in the manifest; a release with another scheme is
#: not reused). DuckDB's ``hash`` may change between versions, hence the version in it.
FINGERPRINT_SCHEME = f"rowhash-sum-3/duckdb-{duckdb.__version__}"

_NESTED = re.compile(r"\[|\b(STRUCT|MAP|UNION)\b")
#: Per changed table, its rows that can differ from the previous release's (:attr:`Built.touched`): ``old``
#: (rowid in the previous release's DuckDB file, and so in its copy) and ``new`` (in the warehouse).
TOUCHED_ROWS = "temp._pub_touched"
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
    """One partition (of a one-file table: the whole), its files, and the vectors (:data:`VECTOR_ROWS`) holding it."""

    rows: int
    hash_sum: int = 0  # the sum of its row hashes (a table's is the sum of its parts')
    vectors: int = 0
    fingerprint: str = ""  # set by _built
    files: list[ParquetFile] = field(default_factory=list)

    @property
    def reused(self) -> bool:
        return bool(self.files) and all(f.reused for f in self.files)


@dataclass
class Built:
    """What the publish made of one table: its layout and columns, rows, fingerprint and parts by
    partition key (None: one file)."""

    layout: Layout
    columns: Columns
    rows: int
    fingerprint: str
    parts: dict[str | None, Part]
    described: str = ""  # digest of its dbt descriptions (in every Parquet file's metadata)
    narrowed: bool = False  # from the previous release's and the rows of TOUCHED_ROWS (_narrowed)
    #: Set when TOUCHED_ROWS holds all its rows that can differ from the previous release's (narrowed: of the
    #: papers observed since, else of its changed partitions): a filter on ``Layout.source_sql`` keeping them.
    touched: str | None = None

    @property
    def files(self) -> list[ParquetFile]:
        return [f for p in self.parts.values() for f in p.files]


@dataclass
class Previous:
    """The release ``published`` points at now, when its files can be reused (``previous_release``)."""

    dir: Path
    manifest: dict[str, Any]

    def table(self, qualified: str) -> dict[str, Any] | None:
        entry = self.manifest.get("tables", {}).get(qualified)
        return entry if isinstance(entry, dict) else None

    def laid_out(self, layout: Layout) -> dict[str, Any] | None:
        """The table's manifest entry when its files were laid out as ``layout`` says."""
        entry = self.table(layout.target.qualified)
        same = entry and entry.get("parquet") == layout.parquet and entry.get("partitioned_by") == layout.describe()
        return entry if same else None

    def files_of(self, entry: dict[str, Any], key: str | None) -> list[ParquetFile]:
        """The files of partition ``key`` (None: of a one-file table) as ``entry`` records them."""
        return [ParquetFile(path, f["rows"], f["bytes"], f["sha256"], reused=True)
                for path, f in entry.get("files", {}).items() if f.get("partition") == key]

    def reusable_part(self, b: Built, key: str | None) -> list[ParquetFile] | None:
        """The previous release's files of this partition when they hold its rows and have their recorded size."""
        entry, part = self.laid_out(b.layout), b.parts[key]
        if not entry or not _same(entry.get("partitions", {}).get(key) if b.layout.partitioned else entry, part):
            return None
        try:
            files = self.files_of(entry, key)
            if any((self.dir / f.path).stat().st_size != f.bytes for f in files):
                return None
        except (OSError, KeyError, TypeError, AttributeError):
            return None
        return files if files and sum(f.rows for f in files) == part.rows else None


def _same(recorded: Any, part: Part | Built) -> bool:
    """Whether a manifest's record of a table or partition has ``part``'s fingerprint and row count."""
    return isinstance(recorded, dict) and (recorded.get("fingerprint"), recorded.get("rows")) == (
        part.fingerprint, part.rows)


def row_hash_sql(columns: Columns) -> str:
    """A 64-bit hash of a row of ``_t``, sensitive to column order. DuckDB's ``hash`` of lists ignores where
    one list ends and the next begins (measured: ``(['a','b'], ['c'])`` and ``(['a'], ['b','c'])``
    hash alike), so a list of scalars is hashed with its length before it, and any other nested
    value through its JSON text (slower than the length, so only where no length applies)."""
    parts = []
    for c, ty in columns:
        column = f"_t.{quote_ident(c)}"
        if ty.endswith("[]") and not _NESTED.search(ty[:-2].upper()):
            parts += [f"len({column})", column]
        elif _NESTED.search(ty.upper()):
            parts.append(f"to_json({column})")
        else:
            parts.append(column)
    return f"hash({', '.join(parts)})"


def fingerprint_tables(
    con: duckdb.DuckDBPyConnection, layouts: dict[str, Layout], columns: dict[str, Columns],
    previous: Previous | None = None, papers_sql: str | None = None,
) -> dict[str, Built]:
    """Each table's fingerprint and its partitions' in the warehouse (``src``), and, with a ``previous``
    release, its rows that can differ from that one's in :data:`TOUCHED_ROWS`. With ``papers_sql`` (a
    query over ``src`` of the only papers whose rows can differ from the ``previous`` release's), the
    tables partitioned by month are narrowed to the rows of those papers (:func:`_narrowed`)."""
    docs = {q: doc.digest() for q, doc in load_docs().items()}
    if previous is None:
        return {q: _fingerprint(con, layout, columns[q], docs.get(q, "")) for q, layout in layouts.items()}
    con.execute(f"ATTACH {quote_literal(previous.dir / DUCKDB_FILE)} AS _prev (READ_ONLY)")
    try:
        built = {}
        for q, layout in layouts.items():
            if (b := _narrowed(con, layout, columns[q], docs.get(q, ""), previous, papers_sql)) is None:
                b = _fingerprint(con, layout, columns[q], docs.get(q, ""))
                _touch(con, previous, b)
            built[q] = b
        return built
    finally:
        con.execute("DETACH _prev")


def _touch(con: duckdb.DuckDBPyConnection, previous: Previous, b: Built) -> None:
    """Put the rows of the partitions that changed (of a changed table that is one file or laid out anew:
    every row), in the previous release's DuckDB file and in the warehouse, in :data:`TOUCHED_ROWS`; none
    when the previous file lacks the table (or the one dating it) or has other columns."""
    layout, t = b.layout, b.layout.target
    entry = previous.laid_out(layout)
    recorded = entry.get("partitions") if layout.partitioned and entry else None
    if isinstance(recorded, dict):  # the partitions whose fingerprint or row count changed, or gone
        keys = {k for k, p in b.parts.items() if not _same(recorded.get(k), p)} | (set(recorded) - set(b.parts))
        where = layout.keys_filter_sql(keys) if keys else None
    else:
        where = None if _same(previous.table(t.qualified), b) else "true"
    if (where is None or not {t, layout.via or t} <= tables_in(con, "_prev")
            or table_columns(con, "_prev", t) != b.columns):
        return
    b.touched = where
    _insert_touched(con, layout, b.columns, where)


def _insert_touched(con: duckdb.DuckDBPyConnection, layout: Layout, columns: Columns, where: str) -> None:
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TOUCHED_ROWS} "
                "(side VARCHAR, tbl VARCHAR, k VARCHAR, r BIGINT, h UBIGINT)")
    for side, database in (("old", "_prev"), ("new", "src")):
        con.execute(f"INSERT INTO {TOUCHED_ROWS} SELECT ?, ?, {layout.key_sql()}, _t.rowid, "
                    f"hash({row_hash_sql(columns)}) FROM {layout.source_sql(database)} WHERE {where}",
                    [side, layout.target.qualified])


class RowDelta(NamedTuple):
    old: int
    new: int
    gone: int
    added: int


@contextlib.contextmanager
def touched_delta(con: duckdb.DuckDBPyConnection, qualified: str, key: str | None = None) -> Iterator[RowDelta | None]:
    """How the rows of a table (of its partition ``key``) in :data:`TOUCHED_ROWS` changed, by row hash,
    with the rowids of the rows gone (in the previous release) in ``temp._pub_gone`` and of those added
    (in the warehouse) in ``temp._pub_add`` while the context lasts. None when a hash occurs twice on
    either side (a set difference would lose duplicate rows)."""
    where = f"tbl = {quote_literal(qualified)}" + ("" if key is None else f" AND k = {quote_literal(key)}")
    (old_rows, old_distinct, new_rows, new_distinct), = con.execute(
        "SELECT count(*) FILTER (side = 'old'), count(DISTINCT h) FILTER (side = 'old'), count(*) FILTER "
        f"(side = 'new'), count(DISTINCT h) FILTER (side = 'new') FROM {TOUCHED_ROWS} WHERE {where}").fetchall()
    if old_rows != old_distinct or new_rows != new_distinct:
        yield None
        return
    rows = f"(SELECT r, h FROM {TOUCHED_ROWS} WHERE {where} AND side = '{{}}')"
    try:
        gone, added = (con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT r FROM {rows.format(side)} "
                                   f"ANTI JOIN {rows.format(other)} USING (h)").fetchall()[0][0]
                       for name, side, other in (("_pub_gone", "old", "new"), ("_pub_add", "new", "old")))
        yield RowDelta(old_rows, new_rows, gone, added)
    finally:
        con.execute("DROP TABLE IF EXISTS temp._pub_gone")
        con.execute("DROP TABLE IF EXISTS temp._pub_add")


def _narrowed(con: duckdb.DuckDBPyConnection, layout: Layout, columns: Columns, described: str,
              previous: Previous, papers_sql: str | None) -> Built | None:
    """A partitioned table's fingerprint from the previous release's: each partition's row count and
    row-hash sum (in the manifest) minus the rows of the papers ``papers_sql`` in the previous release's
    DuckDB file (``_prev``), plus theirs in the warehouse, kept in :data:`TOUCHED_ROWS`. None (read
    every row instead) when the manifest lacks the sums or was made with other columns or descriptions,
    or when the rows do not add up to the table's (a paper gone from a partition without an observation)."""
    qualified = layout.target.qualified
    if papers_sql is None or not layout.partitioned or not (entry := previous.laid_out(layout)):
        return None
    parts: dict[str, Part] = {}
    for key, part in (entry.get("partitions") or {}).items():
        try:
            rows, hash_sum = int(part["rows"]), int(part["hash_sum"])
        except (KeyError, TypeError, ValueError):  # a manifest without row-hash sums
            return None
        if part.get("fingerprint") != _digest(columns, rows, hash_sum, described):
            return None  # other columns or descriptions: every part differs
        parts[key] = Part(rows, hash_sum)
    _insert_touched(con, layout, columns, f"_t.{quote_ident(PAPER_KEY)} IN ({papers_sql})")
    changes = con.execute(
        f"SELECT k, sum(CASE side WHEN 'new' THEN 1 ELSE -1 END), "
        f"sum(CASE side WHEN 'new' THEN h::HUGEINT ELSE -(h::HUGEINT) END) FROM {TOUCHED_ROWS} "
        "WHERE tbl = ? GROUP BY k", [qualified]).fetchall()
    for key, rows, hash_sum in changes:
        before = parts.get(key, Part(0))
        parts[key] = Part(before.rows + rows, before.hash_sum + int(hash_sum))
    if any(p.rows < 0 for p in parts.values()) or sum(p.rows for p in parts.values()) != _count(con, layout):
        con.execute(f"DELETE FROM {TOUCHED_ROWS} WHERE tbl = ?", [qualified])
        return None
    b = _built(layout, columns, described, parts)
    b.narrowed, b.touched = True, "true"
    return b


def _fingerprint(con: duckdb.DuckDBPyConnection, layout: Layout, columns: Columns,
                 described: str) -> Built:
    """Row count and order-independent content fingerprint of the table and of each of its partitions
    (DuckDB does the work in one grouped query: the sum of the row hashes per partition, as a 128-bit
    integer so the sum never wraps). A row hash is ``hash(other columns) XOR hash(last column)``, so
    two rows making the same change of their last column would change the sum by amounts that can
    cancel out (measured: two booleans flipped, sums equal); hashing each row hash again first makes
    the terms independent."""
    groups = con.execute(
        f"SELECT {layout.key_sql()} AS k, count(*), sum(hash({row_hash_sql(columns)})::HUGEINT), "
        f"count(DISTINCT _t.rowid // {VECTOR_ROWS}) FROM {layout.source_sql('src')} GROUP BY k"
    ).fetchall()
    if layout.via is not None and sum(g[1] for g in groups) != _count(con, layout):
        raise PublishError(f"{layout.target.qualified}: a {PAPER_KEY} occurs twice in {layout.via.qualified}, "
                           "so its rows cannot be dated by their paper")
    return _built(layout, columns, described, {k: Part(n, int(total), vectors) for k, n, total, vectors in groups})


def _count(con: duckdb.DuckDBPyConnection, layout: Layout) -> int:
    return con.execute(f"SELECT count(*) FROM {layout.target.relation('src')}").fetchall()[0][0]


def _built(layout: Layout, columns: Columns, described: str, parts: dict[str | None, Part]) -> Built:
    """The table's and its non-empty parts' fingerprints (an empty table: one empty part, one empty file)."""
    parts = {k: p for k, p in parts.items() if p.rows} or {NULL_PARTITION if layout.partitioned else None: Part(0)}
    for p in parts.values():
        p.fingerprint = _digest(columns, p.rows, p.hash_sum, described)
    rows, total = sum(p.rows for p in parts.values()), sum(p.hash_sum for p in parts.values())
    return Built(layout, columns, rows, _digest(columns, rows, total, described), parts, described)


def _digest(columns: Columns, rows: int, total: int, described: str) -> str:
    """The fingerprint of a table's or partition's rows, with the digest of its descriptions (if any)."""
    text = json.dumps([FINGERPRINT_SCHEME, columns, rows, str(total)], separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return hashlib.sha256(f"{digest}:{described}".encode()).hexdigest()[:32] if described else digest


def changed_tables(previous: Previous | None, built: dict[str, Built]) -> list[Target]:
    """The tables whose fingerprint or row count differs from the previous release's (all without one)."""
    return [b.layout.target for q, b in built.items() if not (previous and _same(previous.table(q), b))]

