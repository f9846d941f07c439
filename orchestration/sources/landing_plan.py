"""Which landing files are ready to ingest, and how to batch them into runs (no Dagster here).

A file is *stable* — safe to read — when any of these holds:
- its size and mtime are the same as at the previous look (nobody is writing it);
- it appeared by an atomic rename from a temporary name (``x.json.part`` -> ``x.json``) seen before;
- it was last modified more than ``settle_seconds`` ago (moved in from elsewhere, already complete).

Stable files not requested before are grouped into batches: sorted by listing date (the leading
``YYYY-MM-DD`` of the name; page-text files last) and cut every ``max_files`` files, so a folder of dropped
files makes one run (a few for a huge drop), each file in exactly one. State between looks is a small JSON cursor
holding only names still in landing.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from orchestration.snapshots.metadata import file_sha256, leading_date_text
from orchestration.sources.landing_files import TEMP_SUFFIXES, is_candidate, not_a_regular_file


@dataclass(frozen=True)
class WatchSettings:
    max_files: int = 5000         # files per run (a run reads them in bounded batches: see landing_files)
    settle_seconds: float = 30.0  # older than this (mtime) counts as complete
    retry_seconds: float = 3600.0  # a requested file still in landing after this is requested again (a run
    # that failed is retried by Dagster first: run_retries in dagster.yaml)


@dataclass(frozen=True)
class Batch:
    files: tuple[str, ...]
    digests: tuple[str, ...]
    requested_at: float = 0.0

    @property
    def run_key(self) -> str:
        """One key per request: the files, their bytes and when they were requested. Dagster skips a
        key it has seen forever, so the same bytes dropped again, or a batch requested again after a
        failed run, must get a key of their own (the cursor keeps a file from being requested twice)."""
        return hashlib.sha256("\n".join([*sorted(self.digests), *sorted(self.files), repr(self.requested_at)])
                              .encode()).hexdigest()

    @property
    def listing_dates(self) -> tuple[str, str] | None:
        dates = sorted(d for f in self.files if (d := leading_date_text(f)))
        return (dates[0], dates[-1]) if dates else None


def plan_batches(landing: Path, cursor: str | None, settings: WatchSettings = WatchSettings(),
                 now: float | None = None) -> tuple[list[Batch], str]:
    """The batches to request now, and the cursor for the next look."""
    now = time.time() if now is None else now
    state = json.loads(cursor) if cursor else {}
    observed_before: dict[str, list] = state.get("observed", {})
    requested_before: dict[str, list] = state.get("requested", {})
    observed, requested, ready = {}, {}, []
    for path in sorted(landing.iterdir()) if landing.exists() else []:
        try:
            stat = path.lstat()  # never followed: a link or FIFO is quarantined unread by the run
        except OSError:
            continue  # gone since the listing
        observed[path.name] = [stat.st_size, stat.st_mtime_ns]
        if not is_candidate(path):
            continue
        unchanged = observed_before.get(path.name) == observed[path.name]
        renamed_in = any((observed_before.get(path.name + suffix) or [None])[0] == stat.st_size
                         for suffix in TEMP_SUFFIXES)
        settled = now - stat.st_mtime_ns / 1e9 > settings.settle_seconds
        if not (unchanged or renamed_in or settled):
            continue  # still being written, or first sight: look again next tick
        try:
            sha = file_sha256(path) if not_a_regular_file(path) is None else "not a regular file"
        except OSError as error:  # unreadable: the run quarantines it with the reason
            sha = f"unreadable: {error.strerror}"
        previous = requested_before.get(path.name)
        if previous and previous[0] == sha and now - previous[1] < settings.retry_seconds:
            requested[path.name] = previous
            continue
        ready.append((leading_date_text(path.name) or "~", path.name, sha))
    ready.sort()
    batches = [
        Batch(files=tuple(name for _, name, _ in chunk), digests=tuple(sha for _, _, sha in chunk),
              requested_at=now)
        for chunk in (ready[i:i + settings.max_files] for i in range(0, len(ready), settings.max_files))
    ]
    for _, name, sha in ready:
        requested[name] = [sha, now]
    return batches, json.dumps({"observed": observed, "requested": requested}, sort_keys=True)
