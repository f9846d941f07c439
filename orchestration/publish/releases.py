"""The release lifecycle on disk: ``PAPERS_HOME/releases/<name>/`` folders and the ``published`` link.

A release is built in ``releases/.building-<name>/`` under an exclusive lock (:func:`locked`), sealed
read-only (:func:`seal`), renamed and swapped in by an atomic rename of a fresh ``published`` symlink
(:class:`NewRelease`). Files of a release are never modified, so a new release may share them
(:func:`link_or_copy`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DUCKDB_FILE = "warehouse.duckdb"
PARQUET_DIR = "parquet"
RELEASES_DIR = "releases"
_BUILDING_PREFIX = ".building-"
_PREPARED_PREFIX = ".prepared-"
_LINK_PREFIX = ".published-"
_LOCK_FILE = ".publish.lock"
#: How long a publish waits for another one (a full publish of 1M papers takes ~30 s).
LOCK_WAIT_SECONDS = 600.0
_FILE_MODE = 0o444
_DIR_MODE = 0o555


class PublishError(RuntimeError):
    """Publishing did not happen; ``published/`` is exactly as it was."""


def releases_root(published_root: Path) -> Path:
    """Where the releases behind ``published_root`` are kept (``PAPERS_HOME/releases``)."""
    return Path(published_root).parent / RELEASES_DIR


def check_published_root(published_root: Path) -> None:
    if published_root.is_symlink() or not published_root.exists():
        return
    kind = "directory" if published_root.is_dir() else "file"
    raise PublishError(f"{published_root} is a real {kind}, not the symlink publish maintains: move it away "
                       f"(it is never overwritten); releases go to {releases_root(published_root)}")


@contextlib.contextmanager
def locked(published_root: Path) -> Iterator[None]:
    """One publisher at a time (waiting at most :data:`LOCK_WAIT_SECONDS`); holding the lock, checks
    ``published_root`` again and removes what a killed publisher left."""
    releases = releases_root(published_root)
    releases.mkdir(parents=True, exist_ok=True)
    with open(releases / _LOCK_FILE, "a+") as fh:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PublishError(f"another publish has held {releases / _LOCK_FILE} for over "
                                       f"{LOCK_WAIT_SECONDS:.0f} s: nothing published") from None
                time.sleep(0.1)
        try:
            check_published_root(published_root)  # again, now that no other publisher can act
            _remove_leftovers(published_root)
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(published_root: Path) -> None:
    """Half-built releases, temporary links and prepared copies of another release than the published one."""
    releases, home = releases_root(published_root), published_root.parent
    for path in releases.glob(f"{_BUILDING_PREFIX}*"):
        log.warning("removing the leftover of an interrupted publish: %s", path)
        rmtree(path)
    current = published_name(published_root)
    for path in releases.glob(f"{_PREPARED_PREFIX}*"):
        if current is None or path != prepared_copy(published_root, current):
            path.unlink(missing_ok=True)
    for path in home.glob(f"{_LINK_PREFIX}*.tmp"):
        if path.is_symlink():
            path.unlink()


@dataclass
class NewRelease:
    """The release this publish builds, named ``<UTC time>-<run id prefix>``."""

    published_root: Path
    name: str
    run_id: str
    published_at: datetime
    renamed: bool = False
    swapped: bool = False

    @classmethod
    def now(cls, published_root: Path, run_id: str) -> NewRelease:
        published_at = datetime.now(UTC)
        short_id = re.sub(r"[^A-Za-z0-9_-]", "_", run_id[:8])
        return cls(published_root, f"{published_at.strftime('%Y%m%dT%H%M%S%fZ')}-{short_id}", run_id, published_at)

    @property
    def building(self) -> Path:
        return releases_root(self.published_root) / f"{_BUILDING_PREFIX}{self.name}"

    @property
    def final(self) -> Path:
        return releases_root(self.published_root) / self.name

    @property
    def _link_tmp(self) -> Path:
        return self.published_root.parent / f"{_LINK_PREFIX}{self.name}.tmp"

    @contextlib.contextmanager
    def or_nothing(self) -> Iterator[None]:
        """Whatever fails before the swap: remove what was built, raise :class:`PublishError` (BaseException as is)."""
        try:
            yield
        except BaseException as exc:
            if not self.swapped:
                rmtree(self.final if self.renamed else self.building)
                self._link_tmp.unlink(missing_ok=True)
                if isinstance(exc, Exception):
                    why = str(exc) if isinstance(exc, PublishError) else f"{type(exc).__name__}: {exc}"
                    if "already attached" in why or "Conflicting lock" in why:
                        why += (" (close every connection to the warehouse, in this process too, and "
                                "publish from inside the writer pool)")
                    raise PublishError(f"publish failed, {self.published_root} left unchanged: {why}") from exc
            raise

    def swap_in(self) -> None:
        """Rename the sealed building folder to its final name and point ``published_root`` at it."""
        home, final = self.published_root.parent, self.final
        if final.exists():
            raise PublishError(f"release {final} already exists")
        os.rename(self.building, final)
        self.renamed = True
        _fsync(final.parent)
        with contextlib.suppress(OSError):
            final.chmod(_DIR_MODE)
        os.symlink(os.path.relpath(final, home), self._link_tmp, target_is_directory=True)
        os.replace(self._link_tmp, self.published_root)  # the commit point: atomic on POSIX
        self.swapped = True
        with contextlib.suppress(OSError):
            _fsync(home)


def seal(building: Path) -> None:
    """fsync every file written for this release and make it read-only, then every folder in it (deepest
    first); a file linked from the previous release was sealed with it (an fsync costs ~5 ms here)."""
    folders = []
    for path in sorted(building.rglob("*")):
        if path.is_file():
            if path.stat().st_nlink > 1:
                continue
            _fsync(path)
            path.chmod(_FILE_MODE)
        elif path.is_dir():
            folders.append(path)
    for folder in reversed(folders):
        _fsync(folder)
        folder.chmod(_DIR_MODE)
    _fsync(building)


def prune(published_root: Path, *, keep: int, spare: str | None) -> list[Path]:
    """Remove all but the newest ``keep`` releases, never ``spare``; one that cannot be removed is logged."""
    releases = releases_root(published_root)
    names = sorted(p.name for p in releases.iterdir() if p.is_dir() and not p.name.startswith("."))
    doomed = [releases / n for n in names[:max(len(names) - keep, 0)] if n != spare]
    removed = []
    for path in doomed:
        try:
            rmtree(path, strict=True)
            removed.append(path)
        except OSError as exc:  # a release is live already: report, don't fail the publish
            log.warning("could not prune old release %s: %s", path, exc)
    return removed


def published_name(published_root: Path) -> str | None:
    """The name of the release ``published_root`` points at (None when there is none)."""
    return Path(os.readlink(published_root)).name if published_root.is_symlink() else None


def rmtree(path: Path, *, strict: bool = False) -> None:
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


def prepared_copy(published_root: Path, name: str) -> Path:
    """Where :func:`prepare_copy` leaves its copy of release ``name``'s DuckDB file."""
    return releases_root(published_root) / f"{_PREPARED_PREFIX}{name}-{DUCKDB_FILE}"


def prepare_copy(published_root: Path) -> Path | None:
    """Copy the published release's DuckDB file, written out to disk, to :func:`prepared_copy` (kept
    when there already), for the next publish to patch. The pipeline calls it while the marts are
    built, so that a publish of a small batch onto a large release does not wait for the copy.
    Returns the copy; None when nothing is published or the copy failed (logged)."""
    name = published_name(published_root)
    if name is None:
        return None
    dest = prepared_copy(published_root, name)
    # one part file per caller: the dbt step's copy may still run when the publish starts its own
    part = dest.with_name(f"{dest.name}.{os.getpid()}-{threading.get_ident()}.part")
    try:
        if not dest.is_file():
            part.unlink(missing_ok=True)
            copy_file(releases_root(published_root) / name / DUCKDB_FILE, part)
            _fsync(part)
            os.replace(part, dest)
        return dest
    except (OSError, PublishError) as exc:
        log.warning("could not prepare a copy of %s's DuckDB file (%s): the publish copies it", name, exc)
        return None
    finally:
        part.unlink(missing_ok=True)


def link_or_copy(source: Path, dest: Path) -> bool:
    """Hard-link a file of the previous release (never modified: sharing is safe), else copy; False if neither."""
    try:
        os.link(source, dest)
    except OSError as exc:  # another filesystem, or links not allowed: a copy holds the same bytes
        log.info("cannot hard-link %s (%s): copying it", source, exc)
        try:
            copy_file(source, dest)
        except OSError:
            dest.unlink(missing_ok=True)
            return False
    return True


def copy_file(source: Path, dest: Path) -> None:
    """Copy in the kernel (``copy_file_range``: a reflink on filesystems that share extents)."""
    with open(source, "rb") as src, open(dest, "xb") as dst:
        remaining = os.fstat(src.fileno()).st_size
        with contextlib.suppress(OSError):  # not supported here: a plain copy of what is left
            while remaining > 0:
                n = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
                if n == 0:
                    break
                remaining -= n
        shutil.copyfileobj(src, dst, 1 << 20)  # nothing, normally
    if dest.stat().st_size != source.stat().st_size:
        raise PublishError(f"copy of {source} is incomplete")


def _fsync(path: Path) -> None:
    """fsync a file or a folder."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
