"""The two steps the publish code calls for every release it builds (orchestration/publish/__init__.py).

1. :func:`finish_duckdb_file`, once the release's DuckDB file holds the marts and before it is
   hashed: the ``quality`` schema and the table and column comments (dbt's descriptions).
2. :func:`write_release_docs`, once the manifest is written and before the release is sealed: the
   data dictionary (``catalog.json``, ``README.md``), weekly digests and per-topic Atom feeds.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestration.publish.describe import comment_duckdb_file, load_docs
from orchestration.publish.dictionary import write_dictionary
from orchestration.publish.digest import write_digests
from orchestration.publish.quality import quality_docs, quality_views_in, write_quality_schema


def finish_duckdb_file(
    db_path: Path, warehouse: Path, tables: list[str], db_info: dict[str, Any], *,
    release: str, run_id: str, published_at: datetime,
) -> dict[str, Any]:
    """Write the quality schema and every comment into the release's DuckDB file; return the
    updated ``db_info`` of the publish step.

    A file hard-linked from the previous release (nothing changed: its comments are the current
    ones, since descriptions are part of each table's fingerprint) is left as it is unless the
    warehouse has quality views; then it is replaced by a copy first, since the previous release's
    file must never be modified.
    """
    with_quality = bool(quality_views_in(warehouse))
    if db_info.get("made") == "linked":
        if not with_quality:
            return db_info
        _unshare(db_path)
        db_info = {k: v for k, v in db_info.items() if k != "sha256"}
        db_info["made"] = "copied"
    quality = write_quality_schema(db_path, warehouse, release=release, run_id=run_id,
                                   published_at=published_at, marts=tables) if with_quality else []
    docs = {**load_docs(), **quality_docs()}
    db_info["comments"] = comment_duckdb_file(db_path, [*tables, *quality], docs)
    if quality:
        db_info["quality"] = quality
    return db_info


def _unshare(path: Path) -> None:
    """Replace a hard link by a private copy of the same bytes."""
    tmp = path.with_name(path.name + ".unshare")
    shutil.copyfile(path, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_release_docs(release_dir: Path, manifest: dict[str, Any], db_file: str) -> None:
    write_dictionary(release_dir, manifest, db_file)
    write_digests(release_dir, db_file)
