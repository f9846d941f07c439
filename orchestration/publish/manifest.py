"""A release's ``manifest.json``: run id, UTC time, how the DuckDB file was made, and per table the row
count, fingerprint and Parquet layout, with the rows, size and sha256 of every file. Written for the new
release, read back for ``papers status`` (:func:`current_release`) and for reuse (:func:`previous_release`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import duckdb

from orchestration.snapshots.metadata import file_sha256
from orchestration.publish.duckdb_file import STORAGE_VERSION, STORAGE_VERSION_NUMBER
from orchestration.publish.fingerprints import FINGERPRINT_SCHEME, Built, Previous
from orchestration.publish.releases import DUCKDB_FILE, MANIFEST, NewRelease, PublishError

log = logging.getLogger(__name__)


def current_release(published_root: Path) -> dict[str, Any] | None:
    """The manifest ``published_root`` serves (plus ``release_dir``); None before the first publish."""
    published_root = Path(published_root)
    try:
        manifest = json.loads((published_root / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    manifest["release_dir"] = str(published_root.resolve())
    return manifest


def previous_release(published_root: Path) -> Previous | None:
    """The current release if its files can be reused (same fingerprint scheme and storage format, files listed)."""
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
    return Previous(release, manifest)


def damaged_files(previous: Previous) -> list[str]:
    """The files of the previous release that cannot be read or no longer match their recorded sha256."""
    recorded = {DUCKDB_FILE: previous.manifest["duckdb"].get("sha256")}
    for entry in previous.manifest.get("tables", {}).values():
        recorded.update({path: f.get("sha256") for path, f in entry.get("files", {}).items()})
    damaged = []
    for path, sha in sorted(recorded.items()):
        try:
            if file_sha256(previous.dir / path) != sha:
                damaged.append(path)
        except OSError:
            damaged.append(path)
    return damaged


def hash_files(building: Path, built: dict[str, Built], db_info: dict[str, Any]) -> dict[str, str]:
    """sha256 of the files written for this release (not linked from the previous one), by relative path."""
    paths = ([] if db_info.get("sha256") else [DUCKDB_FILE]) + [
        f.path for b in built.values() for f in b.files if f.sha256 is None]
    return {path: file_sha256(building / path) for path in paths}


def build_manifest(release: NewRelease, built: dict[str, Built], db_info: dict[str, Any],
                   loaded_through: str | None = None) -> dict[str, Any]:
    """The release's manifest, without the hashes of the files written for it (:func:`write_manifest`)."""
    made = {k: v for k, v in db_info.items() if k != "sha256"}
    return {
        "release": release.name,
        "run_id": release.run_id,
        "published_at": release.published_at.isoformat(),
        "fingerprint_scheme": FINGERPRINT_SCHEME,
        **({"loaded_through": loaded_through} if loaded_through is not None else {}),
        "duckdb": {
            "path": DUCKDB_FILE,
            "storage_version": STORAGE_VERSION,
            "storage_version_number": STORAGE_VERSION_NUMBER,
            "written_by": duckdb.__version__,
            "sha256": db_info.get("sha256"),
            "bytes": (release.building / DUCKDB_FILE).stat().st_size,
            **made,
        },
        "tables": {q: _table_entry(b) for q, b in built.items()},
    }


def write_manifest(building: Path, manifest: dict[str, Any], digests: dict[str, str]) -> None:
    """Add the hashes of the files written for this release (``digests``, by relative path) and write
    ``manifest.json``; every file in it must have its hash by now."""
    files = [(path, f) for e in manifest["tables"].values() for path, f in e["files"].items()]
    for path, f in [(DUCKDB_FILE, manifest["duckdb"]), *files]:
        f["sha256"] = f["sha256"] or digests.get(path)
    missing = [path for path, f in files if not f["sha256"]]
    if not manifest["duckdb"]["sha256"] or missing:
        raise PublishError(f"{MANIFEST}: no sha256 for {missing or [DUCKDB_FILE]}")
    (building / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _table_entry(b: Built) -> dict[str, Any]:
    """A table in the manifest: rows, fingerprint, what a reader opens, its partitions and files."""
    layout = b.layout
    entry: dict[str, Any] = {"rows": b.rows, "fingerprint": b.fingerprint, "parquet": layout.parquet,
                             "reused": all(p.reused for p in b.parts.values()), "described": b.described}
    if layout.partitioned:
        entry["partitioned_by"] = layout.describe()
        # (the row-hash sum, a decimal string, lets the next release read only the partitions it touched)
        entry["partitions"] = {k: {"rows": p.rows, "fingerprint": p.fingerprint, "hash_sum": str(p.hash_sum),
                                   "reused": p.reused}
                               for k, p in sorted(b.parts.items())}
    entry["files"] = {
        f.path: {**({"partition": k} if layout.partitioned else {}), "rows": f.rows, "bytes": f.bytes,
                 "sha256": f.sha256, "reused": f.reused}
        for k, p in sorted(b.parts.items(), key=lambda kv: kv[0] or "") for f in sorted(p.files, key=lambda f: f.path)
    }
    return entry
