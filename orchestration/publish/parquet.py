"""The release's Parquet files, laid out per table as ``layout.py`` decides. An unchanged part is
hard-linked from the previous release (:func:`link_from_previous`); a partition that only gained rows
gets one more file (:func:`append_to_previous`); the others are exported (:func:`export_parquet`).
"""

from __future__ import annotations

import logging
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from orchestration.publish.describe import parquet_copy_options
from orchestration.publish.fingerprints import VECTOR_ROWS, Built, ParquetFile, Previous, touched_delta
from orchestration.publish.layout import PARTITION_COLUMN
from orchestration.publish.releases import PublishError, link_or_copy
from orchestration.publish.tables import parquet_columns
from orchestration.sql import quote_ident, quote_literal

log = logging.getLogger(__name__)


#: A partition gets at most this many files: the rows a batch adds to it go to one more file until
#: then (the previous files are linked), after that it is written anew as one.
MAX_FILES = 8
_DATA_FILE = re.compile(r"data_(\d+)\.parquet")

#: Changed months are exported one COPY each while that reads at most this many times the table's
#: vectors (a month's rows scattered through the table would make each COPY read nearly all of it).
SCATTER = 2


def link_from_previous(previous: Previous | None, building: Path, b: Built) -> list[str | None]:
    """Link every unchanged part's files from the previous release; the keys of the parts still to export."""
    todo = []
    for key, part in b.parts.items():
        files = previous.reusable_part(b, key) if previous else None
        if files is not None and _link_all(previous, files, building):
            part.files = files
        else:
            todo.append(key)
    return todo


def _link_all(previous: Previous, files: list[ParquetFile], building: Path) -> bool:
    """Hard-link (or copy) ``files`` from the previous release; False (none linked) when one failed."""
    for f in files:
        (building / f.path).parent.mkdir(parents=True, exist_ok=True)
        if not link_or_copy(previous.dir / f.path, building / f.path):
            for done in files:
                (building / done.path).unlink(missing_ok=True)
            return False
    return True


def append_to_previous(con: duckdb.DuckDBPyConnection, previous: Previous, building: Path, b: Built, key: str) -> bool:
    """When the warehouse's rows of partition ``key`` are the previous release's plus new ones (a
    batch of new papers): hard-link the previous files of the partition and write only the new rows,
    as one more file. False (write the partition anew) when a row was removed or changed, rows repeat,
    the columns or descriptions differ, or the partition has :data:`MAX_FILES` files already."""
    layout, t = b.layout, b.layout.target
    entry = previous.laid_out(layout)
    recorded = entry.get("partitions", {}).get(key) if entry else None
    if (b.touched is None or not isinstance(recorded, dict) or entry.get("described") != b.described
            or b.parts[key].rows <= recorded.get("rows", 0)):  # only a month that grew can have only gained rows
        return False
    old = previous.files_of(entry, key)
    if not old or len(old) >= MAX_FILES:
        return False
    try:  # a previous file gone or unreadable: the partition is written anew (never a stuck publish)
        if any((previous.dir / f.path).stat().st_size != f.bytes for f in old) or parquet_columns(
                con, [str(previous.dir / f.path) for f in old]) != b.columns:
            return False
    except (OSError, duckdb.Error) as exc:
        log.warning("%s: the previous release's files of %s cannot be read (%s); writing it anew",
                    t.qualified, key, exc)
        return False
    # the rows compared (TOUCHED_ROWS): with a narrowed fingerprint, those of the papers that can differ
    # (the others are the previous release's), else every row of the partition
    with touched_delta(con, t.qualified, key) as delta:
        if delta is None or delta.gone or not b.narrowed and (
                delta.old != sum(f.rows for f in old) or delta.new != b.parts[key].rows):
            return False
        if not _link_all(previous, old, building):
            return False
        index = 1 + max(int(m[1]) if (m := _DATA_FILE.fullmatch(Path(f.path).name)) else 0 for f in old)
        b.parts[key].files = list(old)
        _copy(con, f"SELECT _t.* FROM {layout.source_sql('src')} WHERE {layout.keys_filter_sql([key])} "
                   "AND _t.rowid IN (SELECT r FROM _pub_add)",
              building, f"{layout.partition_dir(key)}/data_{index}.parquet",
              parquet_copy_options(con, t.relation("src"), t.qualified), b, key)
        return True


def export_parquet(con: duckdb.DuckDBPyConnection, building: Path, b: Built, keys: list[str | None]) -> None:
    """Write the parts ``keys`` of the warehouse's table as Parquet files and record them in ``b``."""
    if not keys:
        return
    layout, t = b.layout, b.layout.target
    options = parquet_copy_options(con, t.relation("src"), t.qualified)
    if not layout.partitioned:
        _copy(con, f"SELECT * FROM {t.relation('src')}", building, layout.parquet, options, b, None)
        return
    empty = [k for k in keys if b.parts[k].rows == 0]  # only an empty table has one
    for key in empty:
        _copy(con, f"SELECT * FROM {t.relation('src')} LIMIT 0", building,
              f"{layout.partition_dir(key)}/data_0.parquet", options, b, key)
    keys = [k for k in keys if k not in empty]
    if not keys:
        return
    if layout.via is None and sum(b.parts[k].vectors for k in keys) <= SCATTER * math.ceil(b.rows / VECTOR_ROWS):
        # the months lie together in the table: one COPY per month reads only that month's vectors
        # (DuckDB skips the others by their min/max). A month is one row group, written on one
        # thread: the months go through one connection per core at a time.
        def month(key: str) -> None:
            with con.cursor() as cur:  # (shares the settings and the attached warehouse)
                _copy(cur, f"SELECT _t.* FROM {layout.source_sql('src')} WHERE {layout.keys_filter_sql([key])}",
                      building, f"{layout.partition_dir(key)}/data_0.parquet", options, b, key)

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="parquet") as pool:
            list(pool.map(month, keys))
        return
    # scattered months, or dated through a join: one COPY … PARTITION_BY (1.7× the CPU of one file at
    # 1M papers, but one pass over the table)
    folder = building / layout.folder
    staging = folder.with_name(f".{folder.name}.new")  # COPY … PARTITION_BY wants a folder of its own
    written = con.execute(
        f"COPY (SELECT _t.*, {layout.month_sql()} AS {quote_ident(PARTITION_COLUMN)} FROM {layout.source_sql('src')} "
        f"WHERE {layout.keys_filter_sql(keys)}) TO {quote_literal(staging)} (FORMAT parquet, "
        f"PARTITION_BY ({quote_ident(PARTITION_COLUMN)}), RETURN_STATS{options})"
    ).fetchall()
    folder.mkdir(parents=True, exist_ok=True)
    if staging.exists():  # (nothing written is caught by the audit: parts without files)
        for sub in sorted(staging.iterdir()):
            sub.rename(folder / sub.name)
        staging.rmdir()
    for filename, rows, size, *_ in written:
        path = Path(filename).relative_to(staging)
        key = path.parts[0].removeprefix(f"{PARTITION_COLUMN}=")
        if key not in b.parts:
            raise PublishError(f"{t.qualified}: wrote {path}, a partition it does not have")
        b.parts[key].files.append(ParquetFile(str(Path(layout.folder) / path), rows, size))


def _copy(con: duckdb.DuckDBPyConnection, query: str, building: Path, path: str, options: str, b: Built,
          key: str | None) -> None:
    (building / path).parent.mkdir(parents=True, exist_ok=True)
    (_, rows, size, *_), = con.execute(
        f"COPY ({query}) TO {quote_literal(building / path)} (FORMAT parquet, RETURN_STATS{options})").fetchall()
    b.parts[key].files.append(ParquetFile(path, rows, size))
