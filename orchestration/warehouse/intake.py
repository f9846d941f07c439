"""Landing-folder intake: find new files, parse them, and move each to where it ends.

No Dagster or dlt here. ``read_landing`` turns the files of one run into three lists — parsed
snapshots to load, duplicates, rejects — and the ``settle_*`` helpers move the files afterwards:
loaded and duplicate files to ``archive/``, rejects to ``quarantine/`` with a reason file.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow.compute as pc

from orchestration.snapshots import ParsedSnapshot, SnapshotRejected, parse_snapshots
from orchestration.warehouse.settings import FIRST_LISTING_DATE

IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".reason.txt")


def is_candidate(path: Path) -> bool:
    """A landing file worth reading: a regular file, not hidden, not still being written."""
    name = path.name
    return path.is_file() and not name.startswith(".") and not name.endswith(IGNORED_SUFFIXES)


def list_landing(landing: Path, names: Iterable[str] | None = None) -> list[Path]:
    """Files waiting in landing (all of them, or just ``names``), oldest name first."""
    if names is not None:
        paths = [landing / name for name in names]
        return sorted(p for p in paths if p.exists() and is_candidate(p))
    if not landing.exists():
        return []
    return sorted(p for p in landing.iterdir() if is_candidate(p))


@dataclass(frozen=True)
class LandedFile:
    path: Path
    sha256: str
    snapshot: ParsedSnapshot


@dataclass(frozen=True)
class RejectedFile:
    path: Path
    sha256: str
    reason: str


@dataclass(frozen=True)
class DuplicateFile:
    path: Path
    sha256: str
    reason: str


@dataclass
class Intake:
    """What one run found in landing."""

    to_load: list[LandedFile] = field(default_factory=list)
    duplicates: list[DuplicateFile] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.to_load) + len(self.duplicates) + len(self.rejected)


def read_landing(paths: Sequence[Path], lookup_seen: Callable[[set[str]], dict[str, str]]) -> Intake:
    """Hash and parse each file; same bytes as a snapshot seen before (or earlier in this batch) is a duplicate.

    ``lookup_seen`` answers which of a set of sha256 digests were seen before and how they ended
    (``loaded`` / ``quarantined``), in one query.
    """
    intake = Intake()
    bodies = {path: path.read_bytes() for path in paths}
    digests = {path: hashlib.sha256(body).hexdigest() for path, body in bodies.items()}
    seen_before = lookup_seen(set(digests.values()))
    first_seen: dict[str, str] = {}
    fresh: list[Path] = []
    for path in paths:
        sha = digests[path]
        if sha in seen_before:
            intake.duplicates.append(DuplicateFile(path, sha, f"same bytes as a snapshot already {seen_before[sha]}"))
        elif sha in first_seen:
            intake.duplicates.append(DuplicateFile(path, sha, f"same bytes as {first_seen[sha]} in this batch"))
        else:
            first_seen[sha] = path.name
            fresh.append(path)
    # One batched parse (large API bodies share the columnar fast path); digests are not recomputed.
    outcomes = parse_snapshots(
        [(bodies[p], p.name, datetime.fromtimestamp(p.stat().st_mtime, tz=timezone.utc)) for p in fresh],
        snapshot_ids=[digests[p] for p in fresh],
    )
    for path, outcome in zip(fresh, outcomes):
        sha = digests[path]
        problem = outcome.reason if isinstance(outcome, SnapshotRejected) else _listing_date_problem(outcome)
        if problem:
            intake.rejected.append(RejectedFile(path, sha, problem))
        else:
            intake.to_load.append(LandedFile(path, sha, outcome))
    return intake


def _listing_date_problem(snapshot: ParsedSnapshot) -> str | None:
    """A listing date outside the partitions (before the listing existed, or in the future)."""
    if snapshot.format != "api_json" or snapshot.table.num_rows == 0 and snapshot.listing_date is None:
        return None
    first = date.fromisoformat(FIRST_LISTING_DATE)
    last = datetime.now(timezone.utc).date() + timedelta(days=1)
    dates = pc.unique(snapshot.table.column("listing_date")).to_pylist() or [snapshot.listing_date]
    bad = sorted(d for d in dates if d is not None and not first <= d <= last)
    if not bad:
        return None
    return (f"listing date {bad[0].isoformat()} is not a valid partition: listings exist from "
            f"{first.isoformat()} to {last.isoformat()} (check the YYYY-MM-DD at the start of the file name)")


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/name.N`` when that is taken (nothing is overwritten)."""
    target = folder / name
    n = 1
    while target.exists():
        target = folder / f"{name}.{n}"
        n += 1
    return target


def quarantine(path: Path, reason: str, quarantine_dir: Path) -> Path:
    """Move ``path`` into quarantine and write ``<name>.reason.txt`` next to it."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(quarantine_dir, path.name)
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(
        f"file: {path.name}\nquarantined_at: {datetime.now(timezone.utc).isoformat()}\nreason: {reason}\n",
        encoding="utf-8",
    )
    return target


def write_quarantined_body(body: bytes, name: str, reason: str, quarantine_dir: Path) -> Path:
    """Keep a rejected API response in quarantine (there is no landing file to move)."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(quarantine_dir, name)
    target.write_bytes(body)
    target.with_name(target.name + ".reason.txt").write_text(
        f"source: {name}\nquarantined_at: {datetime.now(timezone.utc).isoformat()}\nreason: {reason}\n",
        encoding="utf-8",
    )
    return target


def archive(path: Path, archive_dir: Path) -> Path:
    """Move a handled file out of landing into archive/ (kept, never re-read)."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(archive_dir, path.name)
    shutil.move(str(path), target)
    return target
