"""Write–audit–publish: swap a validated, read-only copy of the public marts into ``published/``.

Build and validate run in the working warehouse; only after every blocking check has passed does the
pipeline call :func:`publish`, which

1. builds a complete new release in ``PAPERS_HOME/releases/.building-<name>/``: ``warehouse.duckdb``
   readable by DuckDB 1.4+ (``duckdb_file``), every table in Parquet (``parquet``, ``layout``), the
   ``quality`` schema and dbt's descriptions (``quality``, ``describe``), ``manifest.json``, a data
   dictionary, weekly digests and topic feeds. Incrementally: unchanged partitions and files
   (``fingerprints``) are hard-linked from the previous release, and the DuckDB file is a copy of the
   previous one patched by the row delta of the changed partitions;
2. audits what it wrote (``audit``), seals it read-only, renames it to ``releases/<UTC timestamp>-<run_id[:8]>/``
   and swaps the ``published`` symlink to it atomically (``releases``): a reader of the previous release
   keeps reading a consistent copy (its files are never modified, only unlinked when pruned);
3. prunes old releases, keeping the newest ``keep`` (never the current one).

Nothing is published on failure: the half-built release is removed and ``published`` still points at
the previous release. The warehouse is read through one read-only connection (``tables``): the caller
guarantees that no writer holds the file at that moment. No Dagster import here.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.config import DEFAULT_DUCKDB_MEMORY_LIMIT
from orchestration.publish.audit import audit_release
from orchestration.publish.dictionary import write_dictionary
from orchestration.publish.digest import write_digests
from orchestration.publish.duckdb_file import (STORAGE_VERSION, STORAGE_VERSION_NUMBER, build_duckdb_file,
                                               finish_duckdb_file, read_storage_version_number,
                                               refuse_types_unreadable_by_1x)
from orchestration.publish.fingerprints import fingerprint_tables
from orchestration.publish.layout import plan_layouts
from orchestration.publish.manifest import (build_manifest, current_release, damaged_files, hash_files,
                                           previous_release, write_manifest)
from orchestration.publish.parquet import append_to_previous, export_parquet, link_from_previous
from orchestration.publish.quality import quality_views_in
from orchestration.publish.releases import (DUCKDB_FILE, PARQUET_DIR, NewRelease, PublishError, check_published_root,
                                            locked, prepare_copy, prune, published_name, seal)
from orchestration.publish.tables import parse_tables, read_warehouse, table_columns
from orchestration.ops.ledger import touched_papers_sql

__all__ = [
    "STORAGE_VERSION", "STORAGE_VERSION_NUMBER", "PublishError", "PublishResult", "current_release",
    "prepare_copy", "publish", "read_storage_version_number",
]

log = logging.getLogger(__name__)


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


def _build_release(warehouse: Path, published_root: Path, targets, run_id: str, keep: int, memory_limit: str,
                   holds: str | None, steps: _Steps, previous, since: str | None):
    """Build, seal and swap in one release; returns it, what was built, its manifest and the pruning."""
    release = NewRelease.now(published_root, run_id)
    building = release.building
    with release.or_nothing(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="publish") as background:
        building.mkdir()
        # in the background meanwhile: the oldest releases go (all but the newest keep - 1 and the one
        # published), and the previous DuckDB file is copied to be patched (unless already prepared)
        pruning = background.submit(prune, published_root, keep=keep - 1, spare=published_name(published_root))
        copying = background.submit(prepare_copy, published_root) if previous else None
        with read_warehouse(warehouse, building, memory_limit) as con:  # one snapshot of the warehouse
            with steps("fingerprint"):
                columns = {t.qualified: table_columns(con, "src", t) for t in targets}
                refuse_types_unreadable_by_1x(columns)
                layouts = plan_layouts(targets, columns)
                # (narrowed only when the previous release says it holds the loads up to ``since``)
                narrow = since is not None and previous is not None and previous.manifest.get("loaded_through") == since
                if narrow:
                    log.info("reading only the rows of the papers observed after load %s (and %s's)", since,
                             previous.dir.name)
                built = fingerprint_tables(con, layouts, columns, previous,
                                           touched_papers_sql(since, "src") if narrow else None)
            (building / PARQUET_DIR).mkdir()
            for b in built.values():  # the Parquet files: unchanged parts linked, the others exported
                with steps("link"):
                    todo = link_from_previous(previous, building, b)
                with steps("parquet"):
                    if previous is not None and b.layout.partitioned:
                        todo = [k for k in todo if not append_to_previous(con, previous, building, b, k)]
                    export_parquet(con, building, b, todo)
            with steps("duckdb"):
                views = quality_views_in(con)  # (copied into the file after the audit)
                db_info = build_duckdb_file(con, building / DUCKDB_FILE, built, previous,
                                            copied=copying.result() if copying else None)
        with steps("audit"):
            audit_release(building, built)
        with steps("describe"):  # quality schema + dbt's descriptions as comments
            db_info = finish_duckdb_file(building / DUCKDB_FILE, warehouse, list(built), views, db_info, release)
        hashing = background.submit(hash_files, building, built, db_info)  # hashlib releases the GIL
        with steps("docs"):  # data dictionary, weekly digests, topic feeds (while the new files are hashed)
            write_dictionary(building, manifest := build_manifest(release, built, db_info, holds))
            write_digests(building, previous.dir if previous else None)
        with steps("hash"):  # what is left of hashing when the docs are done
            write_manifest(building, manifest, hashing.result())
        with steps("seal"):
            seal(building)
        release.swap_in()
    return release, built, manifest, pruning


def publish(
    warehouse: Path,
    published_root: Path,
    *,
    tables: Sequence[str],
    run_id: str,
    keep: int = 3,
    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT,
    since: str | None = None,
    holds: str | None = None,
) -> PublishResult:
    """Copy ``tables`` (qualified, e.g. ``"marts.papers"``) of ``warehouse`` into a new release in
    ``<published_root's folder>/releases/`` and atomically point ``published_root`` (a symlink, or
    nothing yet) at it. Raises :class:`PublishError` (nothing published) on any failure before the swap.

    ``holds``: the newest load the marts were built from (the manifest's ``loaded_through``).
    ``since``: the change ledger's ``publish`` watermark, when the warehouse changed since only by
    incremental builds: if the published release holds that load, only the rows of the papers
    observed later are read for the tables partitioned by listing month."""
    started = time.perf_counter()
    warehouse, published_root = Path(warehouse), Path(published_root)
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (got {keep})")
    if not run_id:
        raise ValueError("run_id is required")
    targets = parse_tables(tables)
    check_published_root(published_root)
    if not warehouse.is_file():
        raise PublishError(f"no warehouse at {warehouse}: nothing published")

    steps = _Steps()
    build = functools.partial(_build_release, warehouse, published_root, targets, run_id, keep, memory_limit, holds,
                              steps)
    with locked(published_root):
        previous = previous_release(published_root)
        try:
            release, built, manifest, pruning = build(previous, since)
        except PublishError as error:
            # a release damaged in a way its file sizes do not show (a corrupt DuckDB block) must not stop
            # every later publish: when its files no longer match their sha256, build anew
            damaged = damaged_files(previous) if previous is not None and isinstance(
                error.__cause__, duckdb.Error) else []
            if not damaged:
                raise
            log.warning("the published release %s could not be reused (%s; damaged: %s): writing every file anew",
                        previous.dir.name, str(error.__cause__).splitlines()[0], ", ".join(damaged))
            release, built, manifest, pruning = build(None, None)
        with steps("prune"):
            pruned = [*pruning.result(), *prune(published_root, keep=keep, spare=release.name)]

    seconds = time.perf_counter() - started
    counts = {q: b.rows for q, b in built.items()}
    log.info("published %s (%s) in %.2fs (%s; duckdb file %s)", release.final,
             ", ".join(f"{t}={n}" for t, n in counts.items()), seconds,
             ", ".join(f"{k} {v:.2f}s" for k, v in steps.items()), manifest["duckdb"].get("made"))
    return PublishResult(
        release_dir=release.final, published_at=release.published_at, tables=counts, seconds=seconds,
        manifest=manifest, pruned=tuple(pruned), steps=dict(steps),
    )
