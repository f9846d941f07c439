"""Give memory a step no longer uses back to the operating system, between the steps of a run.

The steps of a run share one Python process. What the raw load and the validations allocate (Arrow
tables, pandas frames, DuckDB's buffer pool) is freed when they finish but not necessarily returned:
glibc keeps freed chunks in its heaps and per-thread arenas until told to trim them, and Arrow's pool
keeps freed pages. The dbt step's own DuckDB (up to ``PAPERS_DUCKDB_MEMORY_LIMIT``) would otherwise run
on top of the raw load's peak. No garbage collection runs here: reference counting frees what the
steps leave once GX lets go of its frames (``_gx.Validator.close``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import time
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")
_MIB = 1024 * 1024


def rss_bytes() -> int:
    """Resident set size of this process (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


@functools.cache
def _libc() -> Any:
    """glibc, for ``malloc_trim``; None elsewhere (musl, macOS: nothing to trim)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


def release_memory() -> dict[str, Any]:
    """Release Arrow's unused pool memory and trim glibc's heaps; the RSS before and after (MiB)
    and the seconds it took."""
    started = time.perf_counter()
    before = rss_bytes()
    pa = sys.modules.get("pyarrow")  # never imported for this: a run without Arrow has nothing to free
    if pa is not None:
        pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:  # every arena, not only the main heap
        libc.malloc_trim(0)
    after = rss_bytes()
    return {"rss_before_mib": round(before / _MIB, 1), "rss_after_mib": round(after / _MIB, 1),
            "released_mib": round((before - after) / _MIB, 1), "malloc_trim": libc is not None,
            "seconds": round(time.perf_counter() - started, 3)}


def log_release(log, where: str) -> None:
    """:func:`release_memory`, logged at info level through ``log`` (a Dagster logger)."""
    figures = release_memory()
    log.info(f"memory ({where}): RSS {figures['rss_before_mib']:.0f} -> {figures['rss_after_mib']:.0f} MiB "
             f"in {figures['seconds']:.2f} s")
