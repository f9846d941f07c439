"""Reading a snapshot file from disk (tests: the pipeline reads files through sources.landing_files)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchestration.snapshots.detect import ParsedSnapshot, parse_snapshot


def parse_snapshot_file(path: Path) -> ParsedSnapshot:
    """Parse the file at ``path`` (its name and mtime supply the capture metadata).

    Raises :class:`~orchestration.snapshots.errors.SnapshotRejected` for bad content and
    ``OSError`` when the file cannot be read.
    """
    path = Path(path)
    body = path.read_bytes()
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return parse_snapshot(body, name=path.name, mtime=mtime)
