"""The run launcher of `make ui` (``dagster.yaml``: ``run_launcher``): each run's worker is forked from a
process that has already imported Dagster, dlt, dbt, Great Expectations and DuckDB.

Dagster's default launcher starts every run in a fresh interpreter (the code server's ``spawn``),
which imports all of them again before the run's first step — seconds of every sensor run that
moves one file. Here a fork server (Python's ``multiprocessing`` ``forkserver``, started once by the
daemon as it launches its first run) imports them once; a run's worker is a fork of it that executes
``dagster api execute_run`` — the command the default launcher's workers and Dagster's container
launchers run — so the run executes exactly as it would there. The project's own modules are not
preloaded: a worker imports them, so a code location reloaded in the UI runs its new code.

The daemon's run monitoring asks :meth:`check_run_worker_health` about every started run — a
`papers` command's too — and fails one whose process died (kill -9, OOM); within
``free_slots_after_run_end_seconds`` its warehouse slot is freed. Terminating a run from the UI sends
its worker (pid in the run's tag ``papers/worker_pid``) SIGINT, which Dagster turns into a canceled
run (dbt stops with it).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import Array, Field
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from orchestration.defs.dead_runs import gone_process

WORKER_PID_TAG = "papers/worker_pid"

#: what the fork server imports before it forks any worker (third-party only: see the module doc)
PRELOAD = ["dagster", "dagster._cli", "dagster_dlt", "dagster_dbt", "dlt", "dbt.cli.main", "duckdb", "polars",
           "pyarrow", "great_expectations"]


def _execute(command: Sequence[str]) -> None:
    """In the forked worker: ``dagster api execute_run <args>``, as the command line would run it."""
    from dagster._cli import cli

    cli.main(args=list(command[1:]), prog_name="dagster", auto_envvar_prefix="DAGSTER_CLI")


class PreloadedRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(self, inst_data: ConfigurableClassData | None = None, preload_modules: Sequence[str] | None = None):
        self._inst_data = inst_data
        self._preload = list(preload_modules if preload_modules is not None else PRELOAD)
        self._context = None
        self._lock = threading.Lock()
        self._workers: dict[str, multiprocessing.process.BaseProcess] = {}
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {"preload_modules": Field(Array(str), is_required=False,
                                         description="modules the fork server imports once (default: PRELOAD)")}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, preload_modules=config_value.get("preload_modules"))

    def _fork_context(self):
        if self._context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(self._preload)  # read when the server starts (the first run)
            self._context = context
        return self._context

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        command = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id,
                                 instance_ref=self._instance.get_ref()).get_command_args()
        with self._lock:
            for run_id in [r for r, p in self._workers.items() if p.exitcode is not None]:
                self._workers.pop(run_id).close()  # finished workers: release their handles
            worker = self._fork_context().Process(target=_execute, args=(command,), name=f"run-{run.run_id[:8]}")
            worker.start()
            self._workers[run.run_id] = worker
        self._instance.add_run_tags(run.run_id, {WORKER_PID_TAG: str(worker.pid)})

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        pid = run.tags.get(WORKER_PID_TAG, "")
        try:
            os.kill(int(pid), signal.SIGINT)  # Dagster turns it into a canceled run
        except (ValueError, ProcessLookupError):
            self._instance.report_engine_event(f"no live worker to stop (pid {pid or 'unknown'})", run,
                                               cls=self.__class__)
            return False
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        """Any started run of the instance (a `papers` command's too): failed when the process that
        executes it (its RUN_START event's pid) is gone."""
        record = self._instance.get_run_record_by_id(run.run_id)
        pid = gone_process(self._instance, record) if record else None
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's process (pid {pid}) is gone: killed or crashed")

    def dispose(self) -> None:
        with self._lock:
            for worker in self._workers.values():
                if worker.exitcode is not None:
                    worker.close()
            self._workers.clear()
