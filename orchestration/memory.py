"""Give memory a step no longer uses back to the operating system, between the steps of a run.

The steps of a run share one (in-process) Python process. The raw load and the validations allocate
GBs (Arrow tables, pandas frames, DuckDB's buffer pool) that are freed when they finish, but freed
memory is not necessarily returned: glibc keeps freed chunks in its heaps (the main heap and the
per-thread arenas DuckDB's and Arrow's worker threads use) until told to trim them, and Arrow's pool
keeps freed pages for reuse. The dbt step then runs dbt's own DuckDB (up to
``PAPERS_DUCKDB_MEMORY_LIMIT``) in the same process, which would otherwise still hold the raw
load's peak; and once dbt's DuckDB is closed, what it used goes back before the checks.

:func:`release_memory` asks Arrow's pool (mimalloc) to release the memory it keeps for reuse and
glibc to trim every arena (``malloc_trim(0)``): a few ms. It is called after the raw load and the
checks, at the start and end of the dbt build and at the start of the publish step. It does not run a full garbage collection
unless asked (``collect=True``): in the Dagster process that costs ~0.3 s (500k objects) and freed
nothing measurable at 1M records: what the steps leave is freed by reference counting once GX lets
go of its frames (``_gx.Validator.close``). Measured at 1M records (PAPERS_MEMORY_DEBUG): at the
start of the dbt step the parent held 1.79 GiB: GX's context still holding the raw check's
0.6 GiB frame, ~0.55 GiB kept by Arrow's pool, ~0.6 GiB of imports and Dagster; now 0.5 GiB.

``PAPERS_MEMORY_DEBUG=1`` also collects garbage, and adds the RSS after each stage of the release
and a census of what is still alive (pandas frames and who holds them, Arrow bytes, open DuckDB
files) to the logged figures.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import time
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MIB = 1024 * 1024
_LIBC: Any = None


def rss_bytes() -> int:
    """Resident set size of this process (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _malloc_trim() -> bool:
    """``malloc_trim(0)`` of glibc (every arena, not only the main heap); False elsewhere."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
            _LIBC.malloc_trim.restype = ctypes.c_int
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
            _LIBC = False
    if not _LIBC:
        return False
    _LIBC.malloc_trim(0)
    return True


def _census() -> dict[str, Any]:
    """What is still alive that could hold memory (debug only: walks every object)."""
    out: dict[str, Any] = {}
    pd = sys.modules.get("pandas")
    if pd is not None:
        objects = gc.get_objects()
        frames = [o for o in objects if isinstance(o, pd.DataFrame)]
        del objects
        out["pandas_frames"] = len(frames)
        out["pandas_frames_mib"] = round(sum(
            int(f.memory_usage(index=True, deep=False).sum()) for f in frames) / _MIB, 1)
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        out["arrow_allocated_mib"] = round(pa.total_allocated_bytes() / _MIB, 1)
        out["arrow_backend"] = pa.default_memory_pool().backend_name
        out["pandas_frames_held_by"] = [_holders(f, ignore=(frames,)) for f in frames[:3]]
    files = set()
    for fd in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if ".duckdb" in target:
            files.add(target)
    out["open_duckdb_files"] = sorted(files)
    out["threads"] = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
    return out


def _holders(obj, depth: int = 6, ignore: tuple = ()) -> list[str]:
    """A chain of types referring to ``obj`` (debug: who keeps a frame alive)."""
    import types

    chain: list[str] = []
    seen = {id(obj), id(chain), *(id(i) for i in ignore)}
    for _ in range(depth):
        refs = [r for r in gc.get_referrers(obj)
                if id(r) not in seen and not isinstance(r, types.FrameType)]
        seen.add(id(refs))
        if not refs:
            break
        obj = refs[0]
        seen.add(id(obj))
        desc = type(obj).__qualname__
        if isinstance(obj, dict):
            desc += "{" + ",".join(sorted(str(k) for k in list(obj)[:8])) + "}"
        elif isinstance(obj, (list, tuple)):
            desc += f"[{len(obj)}]"
        chain.append(desc)
    return chain


def release_memory(collect: bool = False, debug: bool = False) -> dict[str, Any]:
    """Release Arrow's unused pool memory and trim glibc's heaps (``collect``: run a full garbage
    collection first).

    Returns the RSS before and after (MiB) and the seconds it took; with ``PAPERS_MEMORY_DEBUG``
    also the RSS after each stage and a census of live objects (see module docstring).
    """
    started = time.perf_counter()
    before = rss_bytes()
    figures: dict[str, Any] = {"rss_before_mib": round(before / _MIB, 1)}
    if debug:
        figures["before"] = _census()
    if collect or debug:
        gc.collect()
        figures["rss_after_gc_mib"] = round(rss_bytes() / _MIB, 1)
    pa = sys.modules.get("pyarrow")  # never imported for this: a run without Arrow has nothing to free
    if pa is not None:
        pa.default_memory_pool().release_unused()
        if debug:
            figures["rss_after_arrow_mib"] = round(rss_bytes() / _MIB, 1)
    figures["malloc_trim"] = _malloc_trim()
    after = rss_bytes()
    figures["rss_after_mib"] = round(after / _MIB, 1)
    figures["released_mib"] = round((before - after) / _MIB, 1)
    figures["seconds"] = round(time.perf_counter() - started, 3)
    if debug:
        figures["after"] = _census()
    return figures


def log_release(log, where: str, collect: bool = False, debug: bool = False) -> dict[str, Any]:
    """:func:`release_memory`, logged at info level through ``log`` (a Dagster logger); ``debug``
    (Settings.memory_debug) adds a census of what holds memory."""
    figures = release_memory(collect, debug)
    log.info(f"memory ({where}): RSS {figures['rss_before_mib']:.0f} -> {figures['rss_after_mib']:.0f} MiB "
             f"in {figures['seconds']:.2f} s" + (f"; {figures}" if debug else ""))
    return figures
