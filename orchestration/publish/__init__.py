"""Write–audit–publish: swap a validated, read-only copy of the public marts into ``published/``.

Runs build and validate in the working warehouse (``PAPERS_HOME/warehouse.duckdb``); only after every
blocking check has passed does the pipeline call :func:`publish`, which

1. builds a complete new release in ``PAPERS_HOME/releases/.building-<name>/``:
   ``warehouse.duckdb`` (written with ``STORAGE_VERSION 'v1.4.0'`` so DuckDB 1.4 and later 1.x
   readers, which BI tools often bundle, can open it; DuckDB 2.0's default format cannot be read by
   any 1.x), ``parquet/<table>.parquet`` for every table and ``manifest.json`` (run id, UTC time,
   row counts, sha256 of every file), the ``quality`` schema, dbt's descriptions as comments and
   Parquet metadata and a data dictionary (``describe``, ``quality``, ``release``, ``digest`` in this
   package); every file read-only (0444). Incrementally: DuckDB
   fingerprints each table (row count, columns, sum of row hashes) and compares with the previous
   release's manifest; an unchanged table's Parquet file is hard-linked from there (files of a
   release are never modified, so sharing an inode is safe) with its sha256 carried over, and the
   DuckDB file is a copy of the previous one in which changed tables get only the rows that differ
   (deleted/inserted by row hash) or are replaced when much differs;
2. renames it to ``releases/<UTC timestamp>-<run_id[:8]>/`` once it is complete;
3. swaps it in as a whole: ``published`` is a symlink to the current release, replaced by
   ``os.replace`` of a freshly made symlink (an atomic rename). A reader who opened the previous
   release keeps reading a consistent copy (its files are never modified, only unlinked when pruned);
4. prunes old releases, keeping the newest ``keep`` (never the current one).

Nothing is published on failure: whatever fails before the swap, the half-built release is removed
and ``published`` still points at the previous release, byte for byte.

The warehouse is read through ONE in-memory DuckDB connection that attaches it ``READ_ONLY``: the
caller guarantees that no writer holds the file at that moment (the Dagster pool of limit 1). No
Dagster import here: the asset/CLI wiring lives elsewhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import struct
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.config import DEFAULT_DUCKDB_MEMORY_LIMIT
from orchestration.publish.describe import fingerprint_with_docs, parquet_copy_options
from orchestration.publish.quality import SCHEMA as QUALITY_SCHEMA
from orchestration.publish.release import finish_duckdb_file, write_release_docs
from orchestration.sql import quote_ident, quote_literal


log = logging.getLogger(__name__)

#: The storage format the published DuckDB file is written in (``ATTACH … (STORAGE_VERSION …)``).
STORAGE_VERSION = "v1.4.0"
#: The version number DuckDB v1.4.x writes in a database file's header for that format (DuckDB's
#: ``src/storage/version_map.json``: v1.0–v1.1 → 64, v1.2 → 65, v1.3 → 66, v1.4 → 67, v1.5 → 68).
#: A DuckDB build opens a file only when the header number is within the range it can read, so a
#: file with 67 opens in DuckDB ≥ 1.4.0; duckdb 2.0's own format is refused by every 1.x.
STORAGE_VERSION_NUMBER = 67
#: Column types duckdb 2.0 stores in a v1.4.0 file although DuckDB 1.4 cannot read them: one such
#: column makes the whole file unopenable for 1.4.4 ("unrecognized enum value 33 for enum
#: LogicalTypeId"), measured. Publishing refuses them (cast the mart column to TIMESTAMPTZ).
TYPES_UNREADABLE_BY_1X = ("TIMESTAMPTZ_NS",)

#: How table contents are fingerprinted (recorded in the manifest; a release with another scheme is
#: not reused). DuckDB's ``hash`` may change between versions, hence the version in it.
FINGERPRINT_SCHEME = f"rowhash-sum-1/duckdb-{duckdb.__version__}"
#: A DuckDB file copied from the previous release is written anew instead when more than this share
#: of its blocks would be free (the space of replaced tables; reused by the next publish).
MAX_FREE_FRACTION = 0.5
#: A changed table is patched (rows deleted and inserted) when at most this share of its rows
#: differ, else replaced as a whole.
MAX_DELTA_FRACTION = 0.25

MANIFEST = "manifest.json"
DUCKDB_FILE = "warehouse.duckdb"
PARQUET_DIR = "parquet"
RELEASES_DIR = "releases"
_BUILDING_PREFIX = ".building-"
_LINK_PREFIX = ".published-"
_LOCK_FILE = ".publish.lock"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FILE_MODE = 0o444
_DIR_MODE = 0o555


class PublishError(RuntimeError):
    """Publishing did not happen; ``published/`` is exactly as it was."""


@dataclass(frozen=True)
class PublishResult:
    release_dir: Path
    published_at: datetime
    tables: dict[str, int]
    seconds: float
    manifest: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    pruned: tuple[Path, ...] = ()
    #: Wall seconds per step (fingerprint, parquet, duckdb, audit, hash, seal, …), for tuning.
    steps: dict[str, float] = field(default_factory=dict, compare=False)


class _Steps(dict):
    """Accumulates wall seconds per named step."""

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = round(self.get(name, 0.0) + time.perf_counter() - started, 3)


# ---------------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------------


def publish(
    warehouse: Path,
    published_root: Path,
    *,
    tables: Sequence[str],
    run_id: str,
    keep: int = 3,
    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT,
) -> PublishResult:
    """Copy ``tables`` (qualified, e.g. ``"marts.papers"``) of ``warehouse`` into a new release and
    atomically point ``published_root`` at it. Raises :class:`PublishError` (nothing published) on
    any failure before the swap.

    Releases live in ``<published_root's folder>/releases/``; ``published_root`` must be a symlink
    (or not exist yet): a real directory there is refused, never clobbered.
    """
    started = time.perf_counter()
    warehouse = Path(warehouse)
    published_root = Path(published_root)
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (got {keep})")
    if not run_id:
        raise ValueError("run_id is required")
    targets = _parse_tables(tables)
    _check_published_root(published_root)
    if not warehouse.is_file():
        raise PublishError(f"no warehouse at {warehouse}: nothing published")

    home = published_root.parent
    releases = home / RELEASES_DIR
    releases.mkdir(parents=True, exist_ok=True)

    steps = _Steps()
    with _publish_lock(releases):
        _check_published_root(published_root)  # again, now that no other publisher can act
        _remove_leftovers(releases, home)
        published_at = datetime.now(UTC)
        name = f"{published_at.strftime('%Y%m%dT%H%M%S%fZ')}-{_short_id(run_id)}"
        building = releases / f"{_BUILDING_PREFIX}{name}"
        final = releases / name
        link_tmp = home / f"{_LINK_PREFIX}{name}.tmp"
        renamed = swapped = False
        try:
            building.mkdir()
            previous = _previous_release(published_root)
            built, db_info = _build(warehouse, building, targets, previous, steps, memory_limit)
            with steps("describe"):  # quality schema + dbt's descriptions as comments
                db_info = finish_duckdb_file(building / DUCKDB_FILE, warehouse, [t.qualified for t in targets],
                                             db_info, release=name, run_id=run_id, published_at=published_at)
            counts = {q: b.rows for q, b in built.items()}
            with steps("hash"):
                manifest = _write_manifest(building, name, run_id, published_at, targets, built, db_info)
            with steps("docs"):  # data dictionary
                write_release_docs(building, manifest, DUCKDB_FILE)
            with steps("seal"):
                _seal(building)
            if final.exists():
                raise PublishError(f"release {final} already exists")
            os.rename(building, final)
            renamed = True
            _fsync_dir(releases)
            with contextlib.suppress(OSError):
                final.chmod(_DIR_MODE)
            os.symlink(os.path.relpath(final, home), link_tmp, target_is_directory=True)
            os.replace(link_tmp, published_root)  # the commit point: atomic on POSIX
            swapped = True
            with contextlib.suppress(OSError):
                _fsync_dir(home)
        except BaseException as exc:
            if not swapped:
                _rmtree(final if renamed else building)
                with contextlib.suppress(FileNotFoundError):
                    link_tmp.unlink()
                if isinstance(exc, Exception):
                    why = str(exc) if isinstance(exc, PublishError) else f"{type(exc).__name__}: {exc}"
                    if "already attached" in why or "Conflicting lock" in why:
                        why += (" (close every connection to the warehouse, in this process too, and "
                                "publish from inside the writer pool)")
                    raise PublishError(f"publish failed, {published_root} left unchanged: {why}") from exc
            raise

        with steps("prune"):
            pruned = _prune(releases, keep=keep, current=final)

    seconds = time.perf_counter() - started
    log.info("published %s (%s) in %.2fs (%s; duckdb file %s)", final,
             ", ".join(f"{t}={n}" for t, n in counts.items()), seconds,
             ", ".join(f"{k} {v:.2f}s" for k, v in steps.items()), manifest["duckdb"].get("made"))
    return PublishResult(
        release_dir=final, published_at=published_at, tables=dict(counts), seconds=seconds,
        manifest=manifest, pruned=tuple(pruned), steps=dict(steps),
    )


def current_release(published_root: Path) -> dict[str, Any] | None:
    """The manifest of what ``published_root`` serves now (plus ``release_dir``), or None when
    nothing has been published yet. For ``papers status`` and the freshness check."""
    published_root = Path(published_root)
    manifest_path = published_root / MANIFEST
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    manifest = json.loads(text)
    manifest["release_dir"] = str(published_root.resolve())
    return manifest


def releases_root(published_root: Path) -> Path:
    """Where the releases behind ``published_root`` are kept (``PAPERS_HOME/releases``)."""
    return Path(published_root).parent / RELEASES_DIR


def read_storage_version_number(path: Path) -> int:
    """The storage version number in a DuckDB file's main header (8-byte checksum, ``DUCK``,
    little-endian uint64). Compare with :data:`STORAGE_VERSION_NUMBER`."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    checksum_and_magic = struct.Struct("<8x4sQ")
    if len(head) < checksum_and_magic.size:
        raise ValueError(f"{path} is not a DuckDB database file (too short)")
    magic, version = checksum_and_magic.unpack(head)
    if magic != b"DUCK":
        raise ValueError(f"{path} is not a DuckDB database file (magic {magic!r})")
    return version


# ---------------------------------------------------------------------------------------------------
# building a release
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    qualified: str
    schema: str
    table: str

    @property
    def parquet(self) -> str:
        return f"{PARQUET_DIR}/{self.table}.parquet"


def _parse_tables(tables: Sequence[str]) -> list[_Target]:
    if isinstance(tables, str):
        raise TypeError("tables must be a sequence of qualified names, not one string")
    if not tables:
        raise ValueError("no tables to publish")
    targets: list[_Target] = []
    seen: set[str] = set()
    for qualified in tables:
        parts = qualified.split(".")
        if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
            raise ValueError(f"table {qualified!r} is not a qualified name like 'marts.papers'")
        schema, table = parts
        if table in seen:
            raise ValueError(f"table name {table!r} listed twice (parquet files are named by table)")
        seen.add(table)
        targets.append(_Target(qualified, schema, table))
    return targets


@dataclass
class _Built:
    """What :func:`_build` made of one table."""

    rows: int
    fingerprint: str
    reused_parquet: bool = False  # hard-linked (or copied) from the previous release
    parquet_sha256: str | None = None  # carried over from the previous manifest when reused


@dataclass
class _Previous:
    """The release ``published`` points at now, when its files can be reused."""

    dir: Path
    manifest: dict[str, Any]

    def table(self, qualified: str) -> dict[str, Any] | None:
        entry = self.manifest.get("tables", {}).get(qualified)
        if not isinstance(entry, dict) or self.manifest.get("fingerprint_scheme") != FINGERPRINT_SCHEME:
            return None
        return entry


def _previous_release(published_root: Path) -> _Previous | None:
    """The current release if it was written by this scheme (same fingerprints, same storage format
    and its files as the manifest lists them); None means: build everything from scratch."""
    if not published_root.is_symlink():
        return None
    try:
        release = published_root.resolve(strict=True)
        manifest = json.loads((release / MANIFEST).read_text(encoding="utf-8"))
        db = manifest["duckdb"]
        if (manifest.get("fingerprint_scheme") != FINGERPRINT_SCHEME
                or db.get("storage_version") != STORAGE_VERSION
                or (release / DUCKDB_FILE).stat().st_size != db["bytes"]):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("previous release not reusable: building every file anew", exc_info=True)
        return None
    return _Previous(release, manifest)


def _build(
    warehouse: Path, building: Path, targets: list[_Target], previous: _Previous | None, steps: _Steps,
    memory_limit: str,
) -> tuple[dict[str, _Built], dict[str, Any]]:
    """One connection: the warehouse attached read-only, the new file attached in the 1.x format.

    Each table's content fingerprint (row count, column names and types, sum of 64-bit row hashes;
    computed by DuckDB) is compared with what the previous release recorded for it: an unchanged
    table's Parquet file is hard-linked from there, and the DuckDB file starts as a copy of the
    previous one in which only the changed tables are patched or replaced (unless too much of it
    would be free space, then it is written anew). Returns per-table results and how the DuckDB
    file was made.
    """
    (building / PARQUET_DIR).mkdir()
    db_path = building / DUCKDB_FILE
    spill = building.parent / f"{building.name}.spill"
    con = duckdb.connect(":memory:")
    try:
        spill.mkdir(exist_ok=True)
        con.execute(f"SET temp_directory = {quote_literal(spill)}")
        con.execute("SET enable_progress_bar = false")  # long scans at 1M rows would draw one on a tty
        # bounded like every pipeline connection (``memory_limit``: Settings.duckdb_memory_limit); no row-order
        # guarantee is needed (marts have none), so DuckDB writes Parquet on every thread
        con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"ATTACH {quote_literal(warehouse)} AS src (READ_ONLY)")
        # One transaction on the warehouse: fingerprints and copies see the same snapshot.
        con.execute("BEGIN TRANSACTION")
        built: dict[str, _Built] = {}
        columns: dict[str, list[tuple[str, str]]] = {}
        with steps("fingerprint"):
            for t in targets:
                columns[t.qualified] = _columns(con, "src", t)
                rows, fingerprint = _fingerprint(con, f"src.{quote_ident(t.schema)}.{quote_ident(t.table)}", columns[t.qualified],
                                                 keep_hashes=_hashes_table(t) if previous else None)
                built[t.qualified] = _Built(rows, fingerprint_with_docs(fingerprint, t.qualified))
        _refuse_types_unreadable_by_1x(columns)
        changed = [t for t in targets if not _same_as_before(previous, t, built[t.qualified])]

        for t in targets:  # the Parquet files: unchanged ones linked, the others exported
            b = built[t.qualified]
            with steps("link"):
                if t not in changed and _link_from(previous, t, building, b):
                    continue
            with steps("parquet"):
                con.execute(
                    f"COPY src.{quote_ident(t.schema)}.{quote_ident(t.table)} TO {quote_literal(building / t.parquet)} (FORMAT parquet"
                    f"{parquet_copy_options(con, f'src.{quote_ident(t.schema)}.{quote_ident(t.table)}', t.qualified)})"
                )

        with steps("duckdb"):
            db_info = _build_duckdb(con, db_path, targets, changed, previous, columns)  # commits
        con.execute("DETACH src")
    finally:
        con.close()
        _rmtree(spill)
    if db_path.with_name(db_path.name + ".wal").exists():
        raise PublishError(f"{DUCKDB_FILE} left a write-ahead log behind")
    with steps("audit"):
        _audit(db_path, building, targets, {q: b.rows for q, b in built.items()}, columns)
    return built, db_info


def _build_duckdb(
    con: duckdb.DuckDBPyConnection, db_path: Path, targets: list[_Target], changed: list[_Target],
    previous: _Previous | None, columns: dict[str, list[tuple[str, str]]],
) -> dict[str, Any]:
    """The release's DuckDB file: a copy of the previous one in which each changed table gets the
    rows that differ (deleted and inserted by row hash) or, when much differs, is replaced; or a new
    file when there is no usable previous one or the copy would carry too much free space. Runs
    inside the caller's transaction on the warehouse; commits it."""
    reuse = previous is not None  # tables new to this release are created in the copy
    if reuse and not changed and _same_table_set(previous, targets):
        # Nothing changed at all: the previous file is exactly this release's file.
        if _link_or_copy(previous.dir / DUCKDB_FILE, db_path):
            con.execute("COMMIT")
            return {"made": "linked", "from": previous.manifest.get("release"), "replaced": [],
                    "sha256": previous.manifest["duckdb"]["sha256"],
                    "free_blocks": previous.manifest["duckdb"].get("free_blocks"),
                    "total_blocks": previous.manifest["duckdb"].get("total_blocks")}
    if reuse:
        _copy_file(previous.dir / DUCKDB_FILE, db_path)
        db_path.chmod(0o644)
        con.execute(f"ATTACH {quote_literal(db_path)} AS pub")
        present = {(s, n) for s, n in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'pub'").fetchall()}
        wanted = {(t.schema, t.table) for t in targets}
        for schema, table in sorted(present - wanted):
            con.execute(f"DROP TABLE pub.{quote_ident(schema)}.{quote_ident(table)}")
        stale = [t for t in targets if t in changed or (t.schema, t.table) not in present]
        deltas = {t.qualified: d for t in stale if (t.schema, t.table) in present
                  and (d := _apply_delta(con, t, columns[t.qualified])) is not None}
        replace = [t for t in stale if t.qualified not in deltas]
        _create_tables(con, replace, drop_first=present)
        _drop_empty_schemas(con, {t.schema for t in targets})
        con.execute("COMMIT")
        total, free = _checkpoint(con)
        if total and free / total <= MAX_FREE_FRACTION:
            con.execute("DETACH pub")
            return {"made": "copied", "from": previous.manifest.get("release"),
                    "replaced": [t.qualified for t in replace], "delta": deltas,
                    "free_blocks": free, "total_blocks": total}
        log.info("%s would be %.0f%% free space: writing it anew", DUCKDB_FILE, 100 * free / total)
        con.execute("DETACH pub")
        db_path.unlink()
        con.execute("BEGIN TRANSACTION")
    con.execute(f"ATTACH {quote_literal(db_path)} AS pub (STORAGE_VERSION {quote_literal(STORAGE_VERSION)})")
    _create_tables(con, targets, drop_first=set())
    con.execute("COMMIT")
    total, free = _checkpoint(con)
    con.execute("DETACH pub")
    return {"made": "written", "replaced": [t.qualified for t in targets], "free_blocks": free,
            "total_blocks": total}


def _apply_delta(
    con: duckdb.DuckDBPyConnection, t: _Target, columns: list[tuple[str, str]],
) -> dict[str, int] | None:
    """Turn the previous release's copy of ``t`` (``pub``) into the warehouse's (``src``) by deleting
    the rows whose hash the warehouse no longer has and inserting the rows whose hash the copy lacks.
    None (replace the table instead) when the columns differ, a hash occurs twice on either side
    (duplicate rows: a set difference would lose them) or more than :data:`MAX_DELTA_FRACTION` of
    the rows differ."""
    pub_rel, src_rel = f"pub.{quote_ident(t.schema)}.{quote_ident(t.table)}", f"src.{quote_ident(t.schema)}.{quote_ident(t.table)}"
    if _columns(con, "pub", t) != columns:
        return None
    new = f"temp.{_hashes_table(t)}"  # (rowid, hash) of the warehouse's rows, kept by the fingerprint
    con.execute(f"CREATE OR REPLACE TEMP TABLE _pub_old AS SELECT rowid AS r, {_row_hash_sql(columns)} AS h "
                f"FROM {pub_rel}")
    try:
        (new_rows, new_distinct, old_rows, old_distinct), = con.execute(
            f"SELECT (SELECT count(*) FROM {new}), (SELECT count(DISTINCT h) FROM {new}), "
            "(SELECT count(*) FROM _pub_old), (SELECT count(DISTINCT h) FROM _pub_old)").fetchall()
        if new_rows != new_distinct or old_rows != old_distinct:
            return None
        con.execute(f"CREATE OR REPLACE TEMP TABLE _pub_gone AS SELECT r FROM _pub_old ANTI JOIN {new} USING (h)")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _pub_add AS SELECT r FROM {new} ANTI JOIN _pub_old USING (h)")
        (gone, add), = con.execute(
            "SELECT (SELECT count(*) FROM _pub_gone), (SELECT count(*) FROM _pub_add)").fetchall()
        if gone + add > MAX_DELTA_FRACTION * max(new_rows, old_rows, 1):
            return None
        # Hashes are unique on both sides: deleting exactly the rows of ``gone`` and inserting exactly
        # those of ``add`` leaves the copy with the warehouse's rows (up to a 64-bit hash collision).
        deleted = inserted = 0
        if gone:
            deleted = con.execute(f"DELETE FROM {pub_rel} WHERE rowid IN (SELECT r FROM _pub_gone)").fetchall()[0][0]
        if add:
            inserted = con.execute(
                f"INSERT INTO {pub_rel} SELECT * FROM {src_rel} WHERE rowid IN (SELECT r FROM _pub_add)"
            ).fetchall()[0][0]
        if (deleted, inserted) != (gone, add):
            raise PublishError(f"{t.qualified}: delta deleted {deleted} of {gone} rows, inserted {inserted} of {add}")
        return {"deleted": gone, "inserted": add}
    finally:
        for name in ("_pub_old", "_pub_gone", "_pub_add"):
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _checkpoint(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    con.execute("CHECKPOINT pub")
    total, free = con.execute(
        "SELECT total_blocks, free_blocks FROM pragma_database_size() WHERE database_name = 'pub'"
    ).fetchall()[0]
    return total, free


def _create_tables(con: duckdb.DuckDBPyConnection, targets: list[_Target], *, drop_first: set) -> None:
    for schema in dict.fromkeys(t.schema for t in targets):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS pub.{quote_ident(schema)}")
    for t in targets:
        if (t.schema, t.table) in drop_first:
            con.execute(f"DROP TABLE pub.{quote_ident(t.schema)}.{quote_ident(t.table)}")
        con.execute(
            f"CREATE TABLE pub.{quote_ident(t.schema)}.{quote_ident(t.table)} AS "
            f"SELECT * FROM src.{quote_ident(t.schema)}.{quote_ident(t.table)}"
        )


def _drop_empty_schemas(con: duckdb.DuckDBPyConnection, keep: set[str]) -> None:
    schemas = con.execute(
        "SELECT s.schema_name FROM duckdb_schemas() s WHERE s.database_name = 'pub' AND NOT s.internal "
        "AND s.schema_name <> 'main' AND NOT EXISTS (SELECT 1 FROM duckdb_tables() t "
        "WHERE t.database_name = 'pub' AND t.schema_name = s.schema_name)"
    ).fetchall()
    for (schema,) in schemas:
        if schema not in keep:
            con.execute(f"DROP SCHEMA pub.{quote_ident(schema)}")


def _columns(con: duckdb.DuckDBPyConnection, database: str, t: _Target) -> list[tuple[str, str]]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
        "AND table_name = ? ORDER BY column_index", [database, t.schema, t.table],
    ).fetchall()
    if not rows:
        raise PublishError(f"{t.qualified}: no such table in the "
                           f"{'warehouse' if database == 'src' else 'published file'}")
    return [(name, type_) for name, type_ in rows]


_NESTED = re.compile(r"\[|\b(STRUCT|MAP|UNION)\b")


def _row_hash_sql(columns: list[tuple[str, str]]) -> str:
    """A 64-bit hash of a row, sensitive to column order. Nested values are hashed through their JSON
    text: DuckDB's ``hash`` of lists ignores where one list ends and the next begins (measured:
    ``(['a','b'], ['c'])`` and ``(['a'], ['b','c'])`` hash alike)."""
    parts = [f"to_json({quote_ident(c)})" if _NESTED.search(ty.upper()) else quote_ident(c) for c, ty in columns]
    return f"hash({', '.join(parts)})"


def _fingerprint(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[tuple[str, str]], *,
    keep_hashes: str | None = None,
) -> tuple[int, str]:
    """Row count and an order-independent content fingerprint of ``relation`` (DuckDB does the work:
    the sum of the row hashes, as a 128-bit integer so equal rows do not cancel out). With
    ``keep_hashes``, the (rowid, hash) of every row is kept in that temporary table for a delta."""
    if keep_hashes:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {keep_hashes} AS "
                    f"SELECT rowid AS r, {_row_hash_sql(columns)} AS h FROM {relation}")
        relation, expression = f"temp.{keep_hashes}", "h"
    else:
        expression = _row_hash_sql(columns)
    rows, total = con.execute(
        f"SELECT count(*), coalesce(sum({expression}::HUGEINT), 0) FROM {relation}"
    ).fetchall()[0]
    text = json.dumps([FINGERPRINT_SCHEME, columns, rows, str(total)], separators=(",", ":"))
    return rows, hashlib.sha256(text.encode()).hexdigest()[:32]


def _hashes_table(t: _Target) -> str:
    return f"_pub_hashes_{t.schema}_{t.table}"


def _same_as_before(previous: _Previous | None, t: _Target, b: _Built) -> bool:
    entry = previous.table(t.qualified) if previous else None
    return bool(entry) and entry.get("fingerprint") == b.fingerprint and entry.get("rows") == b.rows


def _same_table_set(previous: _Previous, targets: list[_Target]) -> bool:
    return set(previous.manifest.get("tables", {})) == {t.qualified for t in targets}


def _link_from(previous: _Previous | None, t: _Target, building: Path, b: _Built) -> bool:
    """Hard-link an unchanged table's Parquet file from the previous release (its files are read-only
    and never modified: sharing the inode is safe); carry its sha256 over instead of re-hashing."""
    entry = previous.table(t.qualified) if previous else None
    if not entry or entry.get("parquet") != t.parquet:
        return False
    source = previous.dir / t.parquet
    try:
        if source.stat().st_size != entry["bytes"]:
            return False
    except (OSError, KeyError):
        return False
    if not _link_or_copy(source, building / t.parquet):
        return False
    b.reused_parquet, b.parquet_sha256 = True, entry["sha256"]
    return True


def _link_or_copy(source: Path, dest: Path) -> bool:
    try:
        os.link(source, dest)
    except OSError as exc:  # another filesystem, or links not allowed: a copy holds the same bytes
        log.info("cannot hard-link %s (%s): copying it", source, exc)
        try:
            _copy_file(source, dest)
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()
            return False
    return True


def _copy_file(source: Path, dest: Path) -> None:
    """Copy in the kernel (``copy_file_range``: a reflink on filesystems that share extents)."""
    with open(source, "rb") as src, open(dest, "xb") as dst:
        remaining = os.fstat(src.fileno()).st_size
        try:
            while remaining > 0:
                n = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
                if n == 0:
                    break
                remaining -= n
        except OSError:  # not supported here: a plain copy of what is left
            pass
        shutil.copyfileobj(src, dst, 1 << 20)  # nothing, normally
    if dest.stat().st_size != source.stat().st_size:
        raise PublishError(f"copy of {source} is incomplete")


def _refuse_types_unreadable_by_1x(columns: dict[str, list[tuple[str, str]]]) -> None:
    pattern = re.compile(r"\b(" + "|".join(TYPES_UNREADABLE_BY_1X) + r")\b")
    bad = [f"{q}.{c} {ty}" for q, cols in columns.items() for c, ty in cols if pattern.search(ty)]
    if bad:
        raise PublishError(
            f"column type(s) DuckDB 1.x cannot read in a {STORAGE_VERSION} file: {', '.join(bad)}"
        )


def _audit(
    db_path: Path, building: Path, targets: list[_Target], counts: dict[str, int],
    columns: dict[str, list[tuple[str, str]]],
) -> None:
    """Re-open what was written, as a reader would: the storage format, no table but the published
    ones, each with the warehouse's columns and row count, in the DuckDB and the Parquet file.
    (Re-fingerprinting the patched tables would cost a full read of each: 2.4 s at 1M papers.)"""
    version = read_storage_version_number(db_path)
    if version != STORAGE_VERSION_NUMBER:
        raise PublishError(
            f"{db_path.name} has storage version number {version}, expected {STORAGE_VERSION_NUMBER} "
            f"({STORAGE_VERSION})"
        )
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {quote_literal(db_path)} AS pub (READ_ONLY)")
        present = {(s, n) for s, n in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'pub'").fetchall()}
        # the quality schema of a file linked from the previous release is rewritten after the audit
        extra = present - {(t.schema, t.table) for t in targets} - {p for p in present if p[0] == QUALITY_SCHEMA}
        if extra:
            raise PublishError(f"{DUCKDB_FILE} holds tables not published: {sorted(extra)}")
        for t in targets:
            if _columns(con, "pub", t) != columns[t.qualified]:
                raise PublishError(f"{t.qualified}: columns in {DUCKDB_FILE} differ from the warehouse")
            in_db = con.execute(f"SELECT count(*) FROM pub.{quote_ident(t.schema)}.{quote_ident(t.table)}").fetchall()[0][0]
            in_parquet = con.execute(
                f"SELECT count(*) FROM read_parquet({quote_literal(building / t.parquet)})"
            ).fetchall()[0][0]
            if not in_db == in_parquet == counts[t.qualified]:
                raise PublishError(
                    f"{t.qualified}: {counts[t.qualified]} rows copied, {in_db} in {DUCKDB_FILE}, "
                    f"{in_parquet} in {t.parquet}"
                )
    finally:
        con.close()


def _write_manifest(
    building: Path, name: str, run_id: str, published_at: datetime, targets: list[_Target],
    built: dict[str, _Built], db_info: dict[str, Any],
) -> dict[str, Any]:
    """Hashes every file written for this release (two threads: hashlib releases the GIL); files
    linked from the previous release keep the hash its manifest recorded."""
    todo = {} if db_info.get("sha256") else {DUCKDB_FILE: building / DUCKDB_FILE}
    todo.update({t.parquet: building / t.parquet for t in targets if not built[t.qualified].reused_parquet})
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = dict(zip(todo, pool.map(_sha256, todo.values()), strict=True))
    made = {k: v for k, v in db_info.items() if k != "sha256"}
    manifest = {
        "release": name,
        "run_id": run_id,
        "published_at": published_at.isoformat(),
        "fingerprint_scheme": FINGERPRINT_SCHEME,
        "duckdb": {
            "path": DUCKDB_FILE,
            "storage_version": STORAGE_VERSION,
            "storage_version_number": STORAGE_VERSION_NUMBER,
            "written_by": duckdb.__version__,
            "sha256": db_info.get("sha256") or digests[DUCKDB_FILE],
            "bytes": (building / DUCKDB_FILE).stat().st_size,
            **made,
        },
        "tables": {
            t.qualified: {
                "rows": built[t.qualified].rows,
                "parquet": t.parquet,
                "sha256": built[t.qualified].parquet_sha256 or digests[t.parquet],
                "bytes": (building / t.parquet).stat().st_size,
                "fingerprint": built[t.qualified].fingerprint,
                "reused": built[t.qualified].reused_parquet,
            }
            for t in targets
        },
    }
    (building / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _seal(building: Path) -> None:
    """fsync every file and make it read-only; the parquet folder too."""
    for path in sorted(building.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            path.chmod(_FILE_MODE)
    _fsync_dir(building / PARQUET_DIR)
    (building / PARQUET_DIR).chmod(_DIR_MODE)
    _fsync_dir(building)


# ---------------------------------------------------------------------------------------------------
# the published link, leftovers and pruning
# ---------------------------------------------------------------------------------------------------


def _check_published_root(published_root: Path) -> None:
    if published_root.is_symlink() or not published_root.exists():
        return
    kind = "directory" if published_root.is_dir() else "file"
    raise PublishError(
        f"{published_root} is a real {kind}, not the symlink publish maintains: move it away "
        f"(it is never overwritten); releases go to {releases_root(published_root)}"
    )


@contextlib.contextmanager
def _publish_lock(releases: Path) -> Iterator[None]:
    """One publisher at a time (the Dagster pool already serializes runs; this guards the CLI too)."""
    with open(releases / _LOCK_FILE, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(releases: Path, home: Path) -> None:
    """Half-built releases and temporary links of a publisher that was killed (we hold the lock)."""
    for path in releases.glob(f"{_BUILDING_PREFIX}*"):
        log.warning("removing the leftover of an interrupted publish: %s", path)
        _rmtree(path)
    for path in home.glob(f"{_LINK_PREFIX}*.tmp"):
        if path.is_symlink():
            path.unlink()


def _prune(releases: Path, *, keep: int, current: Path) -> list[Path]:
    names = sorted(p.name for p in releases.iterdir() if p.is_dir() and not p.name.startswith("."))
    doomed = [releases / n for n in names[:-keep] if n != current.name]
    removed = []
    for path in doomed:
        try:
            _rmtree(path, strict=True)
            removed.append(path)
        except OSError as exc:  # the new release is live already: report, don't fail the publish
            log.warning("could not prune old release %s: %s", path, exc)
    return removed


def _rmtree(path: Path, *, strict: bool = False) -> None:
    """Remove a tree whose folders may be read-only (0555)."""
    if not path.exists():
        return
    try:
        for p in [path, *path.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(p.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)
        shutil.rmtree(path)
    except OSError:
        if strict:
            raise
        log.warning("could not remove %s", path, exc_info=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _short_id(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", run_id[:8])
