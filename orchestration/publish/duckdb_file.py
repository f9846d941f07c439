"""The release's DuckDB file, ``warehouse.duckdb``, readable by DuckDB 1.4 and later (BI tools often
bundle a 1.x reader; DuckDB 2.0's default format cannot be read by any 1.x).

:func:`build_duckdb_file` makes it (a link, a patched copy of the previous release's file, or a new
file); :func:`finish_duckdb_file` adds the ``quality`` schema and dbt's descriptions as comments.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from pathlib import Path
from typing import Any

import duckdb

from orchestration.publish.describe import comment_duckdb_file, load_docs
from orchestration.publish.fingerprints import Built, Previous, changed_tables, touched_delta
from orchestration.publish.quality import RELEASE_DOC, RELEASE_TABLE, write_quality_schema
from orchestration.publish.releases import DUCKDB_FILE, NewRelease, PublishError, copy_file, link_or_copy
from orchestration.publish.tables import Columns, Target, tables_in
from orchestration.sql import quote_ident, quote_literal

log = logging.getLogger(__name__)

#: The storage format the published DuckDB file is written in (``ATTACH … (STORAGE_VERSION …)``).
STORAGE_VERSION = "v1.4.0"
#: The number DuckDB writes in a file's header for that format (``src/storage/version_map.json``: v1.3 → 66,
#: v1.4 → 67, v1.5 → 68); a DuckDB build opens a file only when it can read that number: ≥ 1.4.0 here.
STORAGE_VERSION_NUMBER = 67
#: Column types duckdb 2.0 stores in a v1.4.0 file although DuckDB 1.4 cannot read them: one such
#: column makes the whole file unopenable for 1.4.4 ("unrecognized enum value 33 for enum
#: LogicalTypeId"), measured. Publishing refuses them (cast the mart column to TIMESTAMPTZ).
TYPES_UNREADABLE_BY_1X = ("TIMESTAMPTZ_NS",)

#: A DuckDB file copied from the previous release is written anew instead when more than this share
#: of its blocks would be free (the space of replaced tables; reused by the next publish).
MAX_FREE_FRACTION = 0.5
#: A changed table is patched (rows deleted and inserted) when at most this share of its rows
#: differ, else replaced as a whole.
MAX_DELTA_FRACTION = 0.25


def read_storage_version_number(path: Path) -> int:
    """The storage version number in a DuckDB file's main header (8-byte checksum, ``DUCK``,
    little-endian uint64). Compare with :data:`STORAGE_VERSION_NUMBER`."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    if len(head) < 20:
        raise ValueError(f"{path} is not a DuckDB database file (too short)")
    magic, version = struct.unpack("<8x4sQ", head)
    if magic != b"DUCK":
        raise ValueError(f"{path} is not a DuckDB database file (magic {magic!r})")
    return version


def refuse_types_unreadable_by_1x(columns: dict[str, Columns]) -> None:
    pattern = re.compile(r"\b(" + "|".join(TYPES_UNREADABLE_BY_1X) + r")\b")
    bad = [f"{q}.{c} {ty}" for q, cols in columns.items() for c, ty in cols if pattern.search(ty)]
    if bad:
        raise PublishError(f"column type(s) DuckDB 1.x cannot read in a {STORAGE_VERSION} file: {', '.join(bad)}")


def build_duckdb_file(
    con: duckdb.DuckDBPyConnection, db_path: Path, built: dict[str, Built], previous: Previous | None, *,
    copied: Path | None = None,
) -> dict[str, Any]:
    """The release's DuckDB file: a link to the previous one when nothing changed; else a copy of it
    (``copied``: the one :func:`prepare_copy` made, else copied now) patched by :func:`_apply_delta` or
    with changed tables replaced; or a new file when there is no usable previous one or the copy would
    carry too much free space. Commits the caller's transaction. Returns how the file was made."""
    targets = [b.layout.target for b in built.values()]
    changed = changed_tables(previous, built)
    if previous is not None and not changed and set(previous.manifest.get("tables", {})) == set(built):
        # Nothing changed at all: the previous file is exactly this release's file.
        if link_or_copy(previous.dir / DUCKDB_FILE, db_path):
            if copied is not None:
                copied.unlink()
            con.execute("COMMIT")
            db = previous.manifest["duckdb"]
            return {"made": "linked", "from": previous.manifest.get("release"), "replaced": [], "sha256": db["sha256"],
                    "free_blocks": db.get("free_blocks"), "total_blocks": db.get("total_blocks")}
    if previous is not None:  # (tables new to this release are created in the copy)
        if copied is not None:
            os.replace(copied, db_path)
        else:
            copy_file(previous.dir / DUCKDB_FILE, db_path)
        db_path.chmod(0o644)
        con.execute(f"ATTACH {quote_literal(db_path)} AS pub")
        present = tables_in(con, "pub")
        for t in sorted(present - set(targets)):
            con.execute(f"DROP TABLE {t.relation('pub')}")
        stale = [t for t in targets if t in changed or t not in present]
        # (the manifest lists the deltas of the tables dating others, papers, last)
        dating = {b.layout.via for b in built.values() if b.layout.via is not None}
        deltas = {}
        for t in sorted(stale, key=lambda t: t in dating):
            if (delta := _apply_delta(con, built[t.qualified])) is not None:
                deltas[t.qualified] = delta
        replace = [t for t in stale if t.qualified not in deltas]
        _create_tables(con, replace, drop_first=present)
        for (schema,) in con.execute(  # schemas left empty
            "SELECT s.schema_name FROM duckdb_schemas() s WHERE s.database_name = 'pub' AND NOT s.internal "
            "AND s.schema_name <> 'main' AND NOT EXISTS (SELECT 1 FROM duckdb_tables() t "
            "WHERE t.database_name = 'pub' AND t.schema_name = s.schema_name)"
        ).fetchall():
            con.execute(f"DROP SCHEMA pub.{quote_ident(schema)}")
        total, free = _checkpoint(con)
        if total and free / total <= MAX_FREE_FRACTION:
            return {"made": "copied", "from": previous.manifest.get("release"),
                    "replaced": [t.qualified for t in replace], "delta": deltas,
                    "free_blocks": free, "total_blocks": total}
        log.info("%s would be %.0f%% free space: writing it anew", DUCKDB_FILE, 100 * free / total)
        db_path.unlink()
        con.execute("BEGIN TRANSACTION")
    con.execute(f"ATTACH {quote_literal(db_path)} AS pub (STORAGE_VERSION {quote_literal(STORAGE_VERSION)})")
    _create_tables(con, targets)
    total, free = _checkpoint(con)
    return {"made": "written", "replaced": [t.qualified for t in targets], "free_blocks": free,
            "total_blocks": total}


def _apply_delta(con: duckdb.DuckDBPyConnection, b: Built) -> dict[str, int] | None:
    """Turn the previous release's copy of the table (``pub``) into the warehouse's (``src``) by
    deleting the rows whose hash the warehouse no longer has and inserting the rows whose hash the
    copy lacks, among the rows of :data:`TOUCHED_ROWS` (the copy is the previous release's file byte
    for byte: same rowids). None (replace the table instead) when it has none there (a table new to
    the copy, or with other columns), a hash repeats (:func:`touched_delta`) or more than
    :data:`MAX_DELTA_FRACTION` of the rows differ."""
    if b.touched is None:
        return None
    layout, t = b.layout, b.layout.target
    pub_rel = t.relation("pub")
    with touched_delta(con, t.qualified) as delta:
        if delta is None:
            return None
        gone, add = delta.gone, delta.added
        (table_new, table_old), = con.execute(
            f"SELECT (SELECT count(*) FROM {t.relation('src')}), (SELECT count(*) FROM {pub_rel})").fetchall()
        if gone + add > MAX_DELTA_FRACTION * max(table_new, table_old, 1):
            return None
        # Hashes are unique on both sides: deleting exactly the rows of ``gone`` and inserting exactly
        # those of ``add`` leaves the copy with the warehouse's rows (up to a 64-bit hash collision).
        deleted = inserted = 0
        if gone:
            deleted = con.execute(f"DELETE FROM {pub_rel} WHERE rowid IN (SELECT r FROM _pub_gone)").fetchall()[0][0]
        if add:
            inserted = con.execute(
                f"INSERT INTO {pub_rel} SELECT _t.* FROM {layout.source_sql('src')} "
                f"WHERE {b.touched} AND _t.rowid IN (SELECT r FROM _pub_add)"
            ).fetchall()[0][0]
        if (deleted, inserted) != (gone, add):
            raise PublishError(f"{t.qualified}: delta deleted {deleted} of {gone} rows, inserted {inserted} of {add}")
        return {"deleted": gone, "inserted": add}


def _checkpoint(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Commit, checkpoint and detach ``pub``; its total and free blocks."""
    con.execute("COMMIT")
    con.execute("CHECKPOINT pub")
    total, free = con.execute(
        "SELECT total_blocks, free_blocks FROM pragma_database_size() WHERE database_name = 'pub'").fetchone()
    con.execute("DETACH pub")
    return total, free


def _create_tables(con: duckdb.DuckDBPyConnection, targets: list[Target], *, drop_first: set = frozenset()) -> None:
    for schema in dict.fromkeys(t.schema for t in targets):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS pub.{quote_ident(schema)}")
    for t in targets:
        if t in drop_first:
            con.execute(f"DROP TABLE {t.relation('pub')}")
        con.execute(f"CREATE TABLE {t.relation('pub')} AS SELECT * FROM {t.relation('src')}")


def finish_duckdb_file(db_path: Path, warehouse: Path, tables: list[str], views: list[str], db_info: dict[str, Any],
                       release: NewRelease) -> dict[str, Any]:
    """Write the quality schema (from the warehouse's quality ``views``) and dbt's descriptions (as
    comments) into the release's DuckDB file; return the updated ``db_info``. A file linked from the
    previous release (its comments are current) is replaced by a private copy first, if there are
    quality views to write; else left as it is."""
    if db_info.get("made") == "linked":
        if not views:
            return db_info
        tmp = db_path.with_name(db_path.name + ".unshare")
        copy_file(db_path, tmp)
        tmp.chmod(0o644)
        os.replace(tmp, db_path)
        db_info = {k: v for k, v in db_info.items() if k != "sha256"} | {"made": "copied"}
    quality = write_quality_schema(db_path, warehouse, views, release, marts=tables)
    db_info["comments"] = comment_duckdb_file(db_path, [*tables, *quality], load_docs() | {RELEASE_TABLE: RELEASE_DOC})
    if quality:
        db_info["quality"] = quality
    return db_info
