"""Filing a snapshot file where it ends: ``archive/`` (loaded) or ``quarantine/`` (with a
``<name>.reason.txt``). Names are bounded and never overwrite another file."""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timezone
from pathlib import Path

from orchestration.sources.landing_files import exists


#: Longest file name written into archive/ or quarantine/ (a quarantined file gets
#: ``<name>.reason.txt`` next to it, and a name taken gets ``.N``: both must fit the file system's 255 bytes).
MAX_STORED_NAME_BYTES = 200


def _bounded(name: str) -> str:
    """``name``, shortened (with a hash of the whole name, keeping its extension) when too long."""
    if len(name.encode()) <= MAX_STORED_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    ext = f".{ext}" if dot and stem and len(ext.encode()) <= 16 else ""
    tag = "~" + hashlib.sha256(name.encode()).hexdigest()[:12]
    keep = MAX_STORED_NAME_BYTES - len(tag.encode()) - len(ext.encode())
    return name.encode()[:keep].decode("utf-8", "ignore") + tag + ext


def free_name(folder: Path, name: str, planned: set[Path] | None = None) -> Path:
    """``folder/name`` (bounded), or ``folder/name.N`` when taken by a file or by another
    ``planned`` target (added to it): nothing is overwritten."""
    base = _bounded(name)
    target = folder / base
    n = 1
    while exists(target) or (planned is not None and target in planned):
        target = folder / f"{base}.{n}"
        n += 1
    if planned is not None:
        planned.add(target)
    return target


def _write_reason(target: Path, name: str, reason: str, what: str = "file") -> None:
    target.with_name(target.name + ".reason.txt").write_text(
        f"{what}: {name}\nquarantined_at: {datetime.now(timezone.utc).isoformat()}\nreason: {reason}\n",
        encoding="utf-8",
    )


def quarantine(path: Path, reason: str, target: Path) -> None:
    """Move ``path`` (never followed: a link is moved as a link) to ``target`` in quarantine/ and
    write ``<target>.reason.txt`` next to it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not exists(target):
        shutil.move(str(path), str(target))
    _write_reason(target, path.name, reason)


def write_quarantined_body(body: bytes, name: str, reason: str, quarantine_dir: Path) -> Path:
    """Keep a rejected API response in quarantine (there is no landing file to move)."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = free_name(quarantine_dir, name)
    target.write_bytes(body)
    _write_reason(target, name, reason, what="source")
    return target


def archive(path: Path, target: Path) -> None:
    """Move a loaded file out of landing to ``target`` in archive/ (kept, never re-read)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(target))
