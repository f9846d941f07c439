"""Runs whose process died (kill -9, the OOM killer, a power cut) still hold the warehouse's writer
slot in the Dagster instance: fail them and free their slots.

A run's slot in the ``duckdb_warehouse`` pool is freed by the run itself when it ends, and for a run
``dagster dev`` launched, by its code server (which fails a worker that exits) and the daemon (which
frees a finished run's slots). A run executed in a ``papers`` command's own process has neither: killed,
it stays STARTED and keeps its slot, and every later run of the instance waits for that slot
forever. :func:`free_dead_runs` ends that: a not-finished run whose process (the pid of its
RUN_START event) no longer exists on this machine — or is a newer process that got the same pid —
is reported failed and its slots are freed; a finished run still holding slots has them freed.
The ``papers`` command calls it before each run. Under `make ui`, the daemon's run monitoring does
the same through the launcher's health check (:mod:`orchestration.defs.launcher`, :func:`gone_process`).

The home (and its Dagster instance) belongs to one machine: a pid is only looked up here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg
from dagster import RunsFilter

FINISHED_STATUSES = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclass(frozen=True)
class FreedRun:
    run_id: str
    job_name: str
    pid: int | None
    failed: bool  # True: reported failed here; False: it had ended, only its slots were left


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            for line in stat:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _process_started_at(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds; None: unknown here, e.g. not Linux)."""
    boot = _boot_time()
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if boot is None:
        return None
    # field 22 of /proc/pid/stat (the 20th after the command name): start time in clock ticks after boot
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def process_alive(pid: int, since: float | None) -> bool:
    """Whether the process ``pid`` that was running at ``since`` (epoch seconds) still runs: a pid
    taken over by a process started later (pids are reused) is not it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    started = _process_started_at(pid)
    return started is None or since is None or started <= since + 1.0


def _run_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    if not records or records[0].event_log_entry.dagster_event is None:
        return None
    return records[0].event_log_entry.dagster_event.pid


def gone_process(instance: dg.DagsterInstance, record) -> int | None:
    """The pid of the started run ``record``'s process if that process no longer exists (None: it
    runs, or the run has not started / recorded no pid)."""
    pid = _run_pid(instance, record.dagster_run.run_id)
    if pid is None or process_alive(pid, record.start_time):
        return None
    return pid


def free_dead_runs(instance: dg.DagsterInstance) -> list[FreedRun]:
    """Fail the instance's started runs whose process is gone and free every slot of a run that is not
    running; returns what was done."""
    storage = instance.event_log_storage
    pooled = storage.supports_global_concurrency_limits
    holders = set(storage.get_concurrency_run_ids()) if pooled else set()
    freed = []
    if holders:
        for run in instance.get_runs(filters=RunsFilter(run_ids=sorted(holders), statuses=FINISHED_STATUSES)):
            storage.free_concurrency_slots_for_run(run.run_id)
            freed.append(FreedRun(run.run_id, run.job_name, None, failed=False))
    running = RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
    for record in instance.get_run_records(filters=running):
        run = record.dagster_run
        pid = gone_process(instance, record)
        if pid is None:
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status in FINISHED_STATUSES:
            continue  # it ended meanwhile (its launcher reported it)
        instance.report_run_failed(run, f"the run's process (pid {pid}) no longer exists: it was killed "
                                        "or crashed; failed and its warehouse slot freed by a later run")
        if pooled:
            storage.free_concurrency_slots_for_run(run.run_id)
        freed.append(FreedRun(run.run_id, run.job_name, pid, failed=True))
    return freed


def slot_holders(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """The live runs holding a slot (a run started now waits for them)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = storage.get_concurrency_run_ids()
    return [r for r in instance.get_runs(filters=RunsFilter(run_ids=sorted(holders)))] if holders else []
