"""Runs whose process died (kill -9, the OOM killer, a reboot) still hold the warehouse's writer slot
in the Dagster instance: fail them and free their slots.

A killed run stays STARTED and keeps its slot in the ``duckdb_warehouse`` pool, and every later run waits
for it. So every run is tagged ``papers/process``: host, boot id, pid and the process's start time in
clock ticks, which name one process exactly (a reused pid has another start time; a reboot changes the
boot id). The ``papers`` command tags its runs and calls :func:`free_dead_runs` before each run; under
`make ui` the launcher tags its workers and the daemon's run monitoring asks it
(:mod:`orchestration.defs.launcher`). A run of another machine, or one without the tag, is never judged dead.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import dagster as dg
from dagster import RunsFilter

FINISHED_STATUSES = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
PROCESS_TAG = "papers/process"


@dataclass(frozen=True)
class FreedRun:
    run_id: str
    job_name: str
    pid: int | None
    failed: bool  # True: reported failed (or canceled) here; False: it had ended, only its slots were left


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
            return file.read().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks after boot) of process ``pid``; None: no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], fields[19]  # fields 3 and 22 of proc(5)


def process_identity(pid: int) -> str | None:
    """``host:boot:pid:start`` of the running process ``pid`` (None where /proc is not available)."""
    boot, stat = _boot_id(), _stat(pid)
    if boot is None or stat is None:
        return None
    return f"{socket.gethostname()}:{boot}:{pid}:{stat[1]}"


def identity_alive(identity: str) -> bool | None:
    """Whether the process ``identity`` names still runs; None: it cannot be told here (another host)."""
    try:
        host, boot, pid, start = identity.rsplit(":", 3)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if boot != _boot_id():
        return False  # the machine rebooted since
    stat = _stat(int(pid))
    return stat is not None and stat[1] == start and stat[0] != "Z"


def run_process(run: dg.DagsterRun) -> tuple[int | None, bool | None]:
    """The pid of ``run``'s process and whether it still runs (None, None: it cannot be told: no tag,
    another host)."""
    identity = run.tags.get(PROCESS_TAG)
    alive = identity_alive(identity) if identity else None
    return (None if alive is None else int(identity.rsplit(":", 3)[2])), alive


def free_dead_runs(instance: dg.DagsterInstance) -> list[FreedRun]:
    """Fail (a run being canceled: cancel) the instance's started runs whose process is gone, and free
    every slot of a run that is not running; returns what was done."""
    storage = instance.event_log_storage
    pooled = storage.supports_global_concurrency_limits
    holders = set(storage.get_concurrency_run_ids()) if pooled else set()
    freed = []
    if holders:
        for run in instance.get_runs(filters=RunsFilter(run_ids=sorted(holders), statuses=FINISHED_STATUSES)):
            storage.free_concurrency_slots_for_run(run.run_id)
            freed.append(FreedRun(run.run_id, run.job_name, None, failed=False))
    running = RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
    for run in instance.get_runs(filters=running):
        pid, alive = run_process(run)
        if alive is not False:
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status in FINISHED_STATUSES:
            continue  # it ended meanwhile
        why = f"the run's process (pid {pid}) no longer exists: it was killed or crashed"
        if current.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(current, why)
        else:
            instance.report_run_failed(current, why)
        if pooled:
            storage.free_concurrency_slots_for_run(run.run_id)
        freed.append(FreedRun(run.run_id, run.job_name, pid, failed=True))
    return freed


def slot_holders(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """The live runs holding or waiting for a slot (a run started now queues behind them)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = storage.get_concurrency_run_ids()
    return list(instance.get_runs(filters=RunsFilter(run_ids=sorted(holders)))) if holders else []
