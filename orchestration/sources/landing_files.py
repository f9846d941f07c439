"""Landing-folder intake (no Dagster or dlt): read and parse new files, decide how each ends (loaded,
duplicate or rejected). Nothing is moved here (``ops.bookkeeping.settle_landing`` and ``ops.filing`` do).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.snapshots import (API_PAPERS_SCHEMA, ApiBody, ParsedSnapshot, SnapshotRejected, as_utc,
                                     capture_time_from_name, parse_api_bodies, parse_snapshots)
from orchestration.snapshots.decoding import decode_text
from orchestration.snapshots.metadata import api_listing_date, file_sha256
from orchestration.project import FIRST_LISTING_DATE

TEMP_SUFFIXES = (".tmp", ".part", ".crdownload")  # a file still being written (renamed when complete)
IGNORED_SUFFIXES = (*TEMP_SUFFIXES, ".reason.txt")


def is_candidate(path: Path) -> bool:
    """A landing entry to settle: not hidden, not still being written (a symlink, FIFO, directory…
    too: it is quarantined unread)."""
    return not path.name.startswith(".") and not path.name.endswith(IGNORED_SUFFIXES)


def not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` is never read, or None. Nothing is followed: a link could point anywhere on the machine."""
    try:
        mode = path.lstat().st_mode
    except OSError as error:
        return f"could not be inspected ({error.strerror or type(error).__name__})"
    if stat.S_ISREG(mode):
        return None
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a directory" if stat.S_ISDIR(mode)
            else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device file")
    return f"{kind}, not a regular file: landing only reads files dropped into it (nothing is followed)"


exists = os.path.lexists  # a dangling symlink is there too


def list_landing(landing: Path, names: Iterable[str] | None = None) -> list[Path]:
    """Entries waiting in landing (all of them, or just ``names``), oldest name first."""
    if names is not None:
        paths = [landing / name for name in names if name and "/" not in name and name not in (".", "..")]
        return sorted(p for p in paths if exists(p) and is_candidate(p))
    if not landing.exists():
        return []
    return sorted(p for p in landing.iterdir() if is_candidate(p))


def unread_id(path: Path) -> str:
    """A stand-in snapshot id for an arrival whose bytes are not read: unique per arrival, so it never
    counts as a duplicate of anything."""
    try:
        info = path.lstat()
        detail = f"{info.st_size}\n{info.st_mtime_ns}\n{info.st_ino}"
    except OSError:
        detail = ""
    return hashlib.sha256(f"unread\n{path.name}\n{detail}\n{time.time_ns()}".encode()).hexdigest()


@dataclass(frozen=True)
class LandedFile:
    """A file whose rows go to raw."""

    path: Path
    sha256: str
    format: str
    rows: int
    listing_date: date | None
    captured_at: datetime
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RejectedFile:
    """A file not loaded, and why: rejected (quarantined), or a duplicate."""

    path: Path
    sha256: str
    reason: str
    format: str | None = None


@dataclass
class Intake:
    """What one run found in landing (how each file it read ends)."""

    to_load: list[LandedFile] = field(default_factory=list)
    duplicates: list[RejectedFile] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.to_load) + len(self.duplicates) + len(self.rejected)


#: Checks the rows of one parsed batch before they are loaded: ``(format, table)`` -> the snapshot
#: ids to reject, each with its reason (their rows are dropped, their files quarantined).
Audit = Callable[[str, pa.Table], dict[str, str]]


class LandingStream:
    """The files of one run, read in bounded batches, as Arrow tables per format.

    Each batch (about ``batch_bytes`` of files: what a run holds in memory at once) is read, hashed
    once, checked for duplicates (same bytes as a snapshot seen before — one ``lookup_seen`` query per
    batch — or earlier in this run), parsed together and turned into one table per format. :meth:`tables`
    reads batches on demand, so a loader consuming both formats holds about one batch at a time (and
    the next, being parsed). :meth:`finish` reads what is left, so every file gets an outcome.

    A file of ``large_file_bytes`` or more is never held whole (at the parse peak a file costs several
    times its size): it is a batch of its own, hashed as a stream, parsed in pieces of about
    ``piece_bytes`` whose rows are spilled to an Arrow file (in ``spill_dir``, else the system's
    temporary folder) and handed out once the whole file has parsed (loaded whole or not at all).
    While a batch is audited and loaded, the next one (unless a large file) is read, hashed and checked
    for duplicates here and parsed on a second thread: the parser uses one core, the audit and the
    loader mostly the other.
    """

    def __init__(self, paths: Sequence[Path], lookup_seen: Callable[[set[str]], dict[str, str]],
                 *, audit: Audit | None = None, batch_bytes: int = 64 << 20, large_file_bytes: int = 64 << 20,
                 piece_bytes: int = 32 << 20, spill_dir: Path | None = None,
                 on_batch: Callable[[int, int, Intake], None] | None = None) -> None:
        self.intake = Intake()
        self._on_batch = on_batch  # called after each batch: (batch number, its files, the intake so far)
        self._lookup_seen = lookup_seen
        self._audit = audit
        self._batches = _batched_by_size(paths, batch_bytes, large_file_bytes)
        self._piece_bytes = piece_bytes
        self._spill_dir = spill_dir
        self._spill: tempfile.TemporaryDirectory | None = None
        self._first_seen: dict[str, str] = {}
        self._pending: dict[str, deque[pa.Table | _Spilled]] = {"api_json": deque(), "page_text": deque()}
        self._handed_out: set[str] = set()
        self._taking: set[str] = set()  # formats whose iterator is running
        self.batches_read = 0
        self.files_in_pieces = 0
        self._ahead: _Batch | None = None  # the next batch, read while the last one is audited and loaded
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-parse")

    def tables(self, fmt: str, idle: pa.Table | None = None) -> Iterator[pa.Table]:
        """Tables of format ``fmt`` (``api_json`` / ``page_text``), one per batch that has such files.

        ``idle`` (an empty table of the format's schema) is yielded after reading a batch that holds
        none of this format, so each step reads at most one batch: a loader that takes its tables in
        turns (dlt's round-robin over resources) never has the other format's tables pile up.
        """
        self._handed_out.add(fmt)
        self._taking.add(fmt)
        try:
            while True:
                while self._pending[fmt]:
                    if isinstance(self._pending[fmt][0], _Spilled):
                        # a large file: one piece at a time, read back from disk; it stays pending
                        # (the other format waits) until its last piece is taken
                        yield from self._pending[fmt][0].tables()
                        self._pending[fmt].popleft()
                    else:
                        yield self._pending[fmt].popleft()
                if idle is not None and any(self._pending[other] for other in self._taking - {fmt}):
                    # the other format still has tables of the last batch (e.g. the pieces of a
                    # large file): let it take them before another batch is read
                    yield idle
                    continue
                if not self._read_next_batch():
                    # the parsed batches are gone: hand their memory back to the OS before the load
                    # (Arrow's allocator keeps freed pages for reuse otherwise)
                    pa.default_memory_pool().release_unused()
                    return
                if not self._pending[fmt] and idle is not None:
                    yield idle
        finally:
            self._taking.discard(fmt)

    def finish(self) -> Intake:
        """Read every remaining batch (so every file has an outcome) and return :attr:`intake`. The files
        of a format nobody asked for (a loader that ran a subset of its tables) stay in landing."""
        while self._read_next_batch():
            pass
        self.intake.to_load = [f for f in self.intake.to_load if f.format in self._handed_out]
        for queue in self._pending.values():
            queue.clear()
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None
        self._parser.shutdown()
        return self.intake

    def _read_next_batch(self) -> bool:
        """Settle the next batch: its tables pending, each of its files with an outcome. While it is
        audited and loaded, the batch after it (unless a large file) is read and parses in the background."""
        batch, self._ahead = self._ahead or self._read(next(self._batches, None)), None
        if batch is None:
            return False
        self.batches_read += 1
        if batch.large:  # (the batch's one file)
            path = batch.paths[0]
            if problem := _read_problem(path, self._read_large_file):
                self.intake.rejected.append(RejectedFile(path, unread_id(path), problem))
        else:
            self._ahead = self._read(next(self._batches, None))
            self.intake.rejected += batch.unread
            self.intake.duplicates += batch.duplicates
            self._settle(batch.fresh, batch.parsing.result())
        if self._on_batch is not None:
            self._on_batch(self.batches_read, len(batch.paths), self.intake)
        return True

    def _read(self, batch: _Batch | None) -> _Batch | None:
        """Read a batch of small files, each once: hashed, checked for duplicates, and the fresh ones'
        parse started in the background."""
        if batch is None or batch.large:
            return batch  # a large file is read when its turn comes
        read: list[tuple[Path, bytes]] = []
        for path in batch.paths:  # a file that cannot be read is rejected
            if problem := _read_problem(path, lambda p: read.append((p, p.read_bytes()))):
                batch.unread.append(RejectedFile(path, unread_id(path), problem))
        digests = [hashlib.sha256(body).hexdigest() for _, body in read]
        fresh, batch.duplicates = self._sort_out_duplicates([p for p, _ in read], digests)
        batch.fresh = [(read[n][0], digests[n]) for n in fresh]
        batch.parsing = self._parser.submit(parse_snapshots, [(read[n][1], read[n][0].name, _mtime(read[n][0]))
                                                              for n in fresh], snapshot_ids=[d for _, d in batch.fresh])
        return batch

    def _read_large_file(self, path: Path) -> None:
        """A file too large to hold whole: hashed as a stream, parsed in pieces (spilled). What the pieces
        cannot vouch for (not split at paper boundaries, a piece rejected) is parsed whole."""
        sha = file_sha256(path)
        fresh, duplicates = self._sort_out_duplicates([path], [sha])
        self.intake.duplicates += duplicates
        if not fresh:
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryDirectory(prefix="papers-intake-", dir=self._spill_dir)
        try:
            spilled = _parse_in_pieces(path, sha, self._piece_bytes, Path(self._spill.name) / f"{sha}.arrows",
                                       self._audit)
        except SnapshotRejected as rejected:  # its name's date, or the audit of a piece
            self.intake.rejected.append(RejectedFile(path, sha, rejected.reason, "api_json"))
            return
        if spilled is None:
            self._settle([(path, sha)], parse_snapshots([(path.read_bytes(), path.name, _mtime(path))],
                                                        snapshot_ids=[sha]))
            return
        self.files_in_pieces += 1
        problem = _listing_date_problem(spilled.listing_date, spilled.listing_dates)
        if problem:
            spilled.discard()
            self.intake.rejected.append(RejectedFile(path, sha, problem))
            return
        self.intake.to_load.append(LandedFile(path, sha, "api_json", spilled.rows, spilled.listing_date,
                                              spilled.captured_at))
        self._pending["api_json"].append(spilled)

    def _settle(self, files: list[tuple[Path, str]], snapshots: list[ParsedSnapshot | SnapshotRejected]) -> None:
        """Audit the parsed ``snapshots`` of ``files`` (path, sha256), queue their tables, record each outcome."""
        problems = [s.reason if isinstance(s, SnapshotRejected) else _snapshot_listing_date_problem(s)
                    for s in snapshots]
        parts: dict[str, list[pa.Table]] = {}
        for snapshot, problem in zip(snapshots, problems):
            if not problem:
                parts.setdefault(snapshot.format, []).append(snapshot.table)
        failed: dict[str, str] = {}
        for fmt, tables in parts.items():
            table = pa.concat_tables(tables)
            rejected = self._audit(fmt, table) if self._audit is not None else {}
            if rejected:
                failed.update(rejected)
                table = table.filter(pc.invert(pc.is_in(table.column("snapshot_id"),
                                                        pa.array(sorted(rejected), pa.string()))))
            if table.num_rows:
                self._pending[fmt].append(table)
        for (path, sha), snapshot, problem in zip(files, snapshots, problems):
            if problem:
                self.intake.rejected.append(RejectedFile(path, sha, problem))
            elif sha in failed:
                self.intake.rejected.append(RejectedFile(path, sha, failed[sha], snapshot.format))
            else:
                self.intake.to_load.append(LandedFile(path, sha, snapshot.format, snapshot.rows, snapshot.listing_date,
                                                      snapshot.captured_at, snapshot.warnings))

    def _sort_out_duplicates(self, batch: list[Path], digests: list[str]) -> tuple[list[int], list[RejectedFile]]:
        """The positions of the fresh files, and the duplicates."""
        seen_before = self._lookup_seen(set(digests))
        fresh: list[int] = []
        duplicates: list[RejectedFile] = []
        for n, (path, sha) in enumerate(zip(batch, digests)):
            if sha in seen_before:
                duplicates.append(RejectedFile(path, sha, f"same bytes as a snapshot already {seen_before[sha]}"))
            elif sha in self._first_seen:
                earlier = self._first_seen[sha]
                duplicates.append(RejectedFile(path, sha, f"same bytes as {earlier}, read earlier in this run"))
            else:
                self._first_seen[sha] = path.name
                fresh.append(n)
        return fresh, duplicates


@dataclass
class _Batch:
    """Files read together: those that could not be read, the duplicates, and the fresh ones (path,
    sha256) whose parse runs in the background (a large file: read when its turn comes)."""

    paths: list[Path]
    large: bool
    unread: list[RejectedFile] = field(default_factory=list)
    duplicates: list[RejectedFile] = field(default_factory=list)
    fresh: list[tuple[Path, str]] = field(default_factory=list)
    parsing: Future | None = None


def _read_problem(path: Path, read: Callable[[Path], object]) -> str | None:
    """Why ``path`` was not read: not a regular file, or ``read(path)`` raised an OSError; None once read."""
    problem = not_a_regular_file(path)
    if problem is None:
        try:
            read(path)
        except OSError as error:
            problem = f"could not be read ({error.strerror or type(error).__name__})"
    return problem


#: Where one paper of the API array ends and the next begins (compact or pretty-printed JSON). A match
#: that is not between two papers of the top-level array (inside a string, deeper in the document)
#: cuts a piece that is not valid JSON: the reader refuses it and the file takes the whole-file path.
_PAPER_BOUNDARY = re.compile(rb'\}[ \t\r\n]*,[ \t\r\n]*(?=\{[ \t\r\n]*"paper"[ \t\r\n]*:)')
_BOUNDARY_WINDOW = 1 << 20


@dataclass
class _Spilled:
    """The rows of a large API file, parsed piece by piece into an Arrow stream file on disk."""

    path: Path
    captured_at: datetime
    listing_date: date | None
    listing_dates: set[date] = field(default_factory=set)
    rows: int = 0

    def tables(self) -> Iterator[pa.Table]:
        """The rows, one table per piece (read back one at a time); the file is deleted once read."""
        try:
            with pa.OSFile(str(self.path)) as source:
                for batch in pa.ipc.open_stream(source):
                    yield pa.Table.from_batches([batch])
        finally:
            self.discard()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _parse_in_pieces(path: Path, sha: str, piece_bytes: int, spill_path: Path,
                     audit: Audit | None = None) -> _Spilled | None:
    """The rows of a large API file, parsed in pieces of about ``piece_bytes`` into ``spill_path``,
    or None when only the whole-file path can vouch for the outcome (also when a paper is listed in two
    pieces: the raw suite's uniqueness rule must see the whole file). Each piece is a run of whole
    papers parsed alone (ranks continued): the parser reads each paper on its own, so the rows are
    those of the whole file."""
    name = path.name
    listing_date = api_listing_date(name)
    papers: list[pa.ChunkedArray] = []
    spilled = _Spilled(spill_path, capture_time_from_name(name) or as_utc(_mtime(path)), listing_date)
    done = False
    try:
        with pa.OSFile(str(spill_path), "wb") as sink, pa.ipc.new_stream(sink, API_PAPERS_SCHEMA) as writer:
            for piece in _api_array_pieces(path, piece_bytes):
                table = None if piece is None else _piece_table(
                    ApiBody(piece, sha, name, spilled.captured_at, listing_date, spilled.rows + 1))
                del piece
                if table is None:
                    return None
                problems = audit("api_json", table) if audit is not None else {}
                if problems:
                    raise SnapshotRejected(problems.get(sha) or next(iter(problems.values())))
                spilled.rows += table.num_rows
                spilled.listing_dates.update(pc.unique(table.column("listing_date")).to_pylist())
                papers.append(table.column("arxiv_id"))
                writer.write_table(table)
                del table
        done = True
    finally:
        if not done:
            spilled.discard()
    ids = pa.chunked_array([chunk for column in papers for chunk in column.chunks], pa.string())
    if pc.count_distinct(ids).as_py() < len(ids):  # a paper listed twice: the whole file is audited at once
        spilled.discard()
        return None
    if listing_date is None and len(spilled.listing_dates) == 1:
        spilled.listing_date = next(iter(spilled.listing_dates))
    return spilled


def _piece_table(piece: ApiBody) -> pa.Table | None:
    """The table of one piece (None: not UTF-8 text, or rejected: the whole file decides)."""
    try:
        decode_text(piece.body)
    except SnapshotRejected:
        return None
    table = parse_api_bodies([piece])[0]
    return None if isinstance(table, SnapshotRejected) else table


def _api_array_pieces(path: Path, piece_bytes: int) -> Iterator[bytes | None]:
    """The file's top-level JSON array as several arrays of about ``piece_bytes``, cut between
    papers (see :data:`_PAPER_BOUNDARY`); None when no cut is found within a few pieces' worth."""
    with path.open("rb") as stream:
        carry = b""
        opening = b""  # the first piece keeps the file's own opening bracket (and any BOM)
        while True:
            chunk = stream.read(piece_bytes)
            buf = carry + chunk if carry else chunk
            if not chunk:
                if buf:
                    yield opening + buf  # the last papers and the file's closing bracket
                return
            cut = _last_boundary(buf)
            if cut is None:
                if len(buf) > 4 * piece_bytes:
                    yield None
                    return
                carry = buf
                continue
            end, start = cut
            yield opening + buf[:end] + b"]"
            opening, carry = b"[", buf[start:]


def _last_boundary(buf: bytes) -> tuple[int, int] | None:
    """(end of the last complete paper, start of the next) of the last boundary in ``buf`` (its end
    searched first)."""
    for start in (max(0, len(buf) - _BOUNDARY_WINDOW), 0):
        last = None
        for last in _PAPER_BOUNDARY.finditer(buf, start):
            pass
        if last is not None:
            return last.start() + 1, last.end()
    return None


def _batched_by_size(paths: Sequence[Path], batch_bytes: int, large_file_bytes: int) -> Iterator[_Batch]:
    """Batches of about ``batch_bytes``; a regular file of ``large_file_bytes`` or more is a batch of its own."""
    batch: list[Path] = []
    size = 0
    for path in paths:
        try:
            info = path.lstat()
            file_size = info.st_size if stat.S_ISREG(info.st_mode) else 0
        except OSError:
            file_size = 0
        if file_size >= large_file_bytes:
            if batch:
                yield _Batch(batch, False)
                batch, size = [], 0
            yield _Batch([path], True)
            continue
        batch.append(path)
        size += file_size
        if size >= batch_bytes:
            yield _Batch(batch, False)
            batch, size = [], 0
    if batch:
        yield _Batch(batch, False)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)


def _snapshot_listing_date_problem(snapshot: ParsedSnapshot) -> str | None:
    if snapshot.format != "api_json":
        return None
    return _listing_date_problem(snapshot.listing_date, pc.unique(snapshot.table.column("listing_date")).to_pylist())


def _listing_date_problem(listing_date: date | None, dates: Collection[date | None]) -> str | None:
    """A listing date outside the partitions (before the listing existed, or in the future), among
    ``dates`` (the distinct listing dates of an API file's rows) or else the file's ``listing_date``."""
    first = date.fromisoformat(FIRST_LISTING_DATE)
    last = datetime.now(timezone.utc).date() + timedelta(days=1)
    bad = sorted(d for d in (dates or [listing_date]) if d is not None and not first <= d <= last)
    if not bad:
        return None
    return (f"listing date {bad[0].isoformat()} is not a valid partition: listings exist from "
            f"{first.isoformat()} to {last.isoformat()} (check the YYYY-MM-DD at the start of the file name)")
