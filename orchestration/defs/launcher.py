"""The run launcher of `make ui` (``dagster.yaml``: ``run_launcher``): each run's worker is forked from a
process that has already imported Dagster, dlt, dbt, Great Expectations and DuckDB and run dbt once
(:mod:`orchestration.defs.dbt.warm`), instead of a fresh interpreter importing them all before every run.

The fork server (``multiprocessing``'s ``forkserver``) starts as the daemon starts
(:class:`PreloadingRunCoordinator`); a worker forked from it executes ``dagster api execute_run``, as the
default launcher's workers do, with the interpreter, working directory and environment the fork server
started with (restart `make ui` after changing them). The project's own modules are not kept loaded, so a
code location reloaded in the UI runs its new code; one with another interpreter (``executable_path``)
gets a plain subprocess.

Each worker's process identity is tagged on its run (:mod:`orchestration.defs.dead_runs`), so the daemon's
run monitoring (:meth:`check_run_worker_health`) fails a run whose process is gone (kill -9, OOM) and its
warehouse slot is freed. Terminate sends a started run's process SIGINT, which Dagster turns into a
canceled run; a run not started yet is killed and marked canceled at once.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import DagsterRunStatus
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from orchestration.defs.dead_runs import PROCESS_TAG, process_identity, run_process

#: what the fork server imports before it forks any worker: third-party modules and the dbt warm-up
#: (not polars: a fork of a process whose polars thread pool has started can hang in it; streamlit:
#: dlt imports it to look for Streamlit secrets when no `.dlt/secrets.toml` exists, ~0.8 s a run)
PRELOAD = ["dagster", "dagster._cli", "dagster_dlt", "dagster_dbt", "dlt", "dbt.cli.main", "duckdb", "pyarrow",
           "great_expectations", "streamlit.runtime", "orchestration.defs.dbt.warm"]


def _in_daemon() -> bool:
    """``dagster-daemon run``, or ``python -m dagster._daemon`` as ``dagster dev`` starts it."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return os.path.basename(sys.argv[0]) == "dagster-daemon" or (
        spec is not None and spec.name.startswith("dagster._daemon"))


def _execute(command: Sequence[str]) -> None:
    """In the forked worker: ``dagster api execute_run <args>``."""
    from dagster._cli import cli

    cli.main(args=list(command[command.index("api"):]), prog_name="dagster", auto_envvar_prefix="DAGSTER_CLI")


def _fork_context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # read when the server starts (the first run, or start_fork_server)
    return context


class PreloadedRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(self, inst_data: ConfigurableClassData | None = None):
        self._inst_data = inst_data
        self._lock = threading.Lock()
        self._workers: dict[str, multiprocessing.process.BaseProcess] = {}
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data)

    def start_fork_server(self) -> None:
        """Start the fork server now, in the background: it imports while no run waits for it."""
        _fork_context()
        threading.Thread(target=multiprocessing.forkserver.ensure_running, name="papers-fork-server",
                         daemon=True).start()

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        command = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id,
                                 instance_ref=self._instance.get_ref()).get_command_args()
        executable = run.job_code_origin.executable_path if run.job_code_origin else None
        if executable and os.path.realpath(executable) != os.path.realpath(sys.executable):
            worker = subprocess.Popen(command)  # another interpreter: a worker of its own
        else:
            with self._lock:
                for run_id in [r for r, p in self._workers.items() if p.exitcode is not None]:
                    self._workers.pop(run_id).close()  # finished workers: release their handles
                worker = _fork_context().Process(target=_execute, args=(command,), name=f"run-{run.run_id[:8]}")
                worker.start()
                # the daemon exiting neither waits for its runs nor ends them (as with the default launcher)
                multiprocessing.process._children.discard(worker)
                self._workers[run.run_id] = worker
        identity = process_identity(worker.pid)
        if identity:
            self._instance.add_run_tags(run.run_id, {PROCESS_TAG: identity})
        elif (worker.poll() if isinstance(worker, subprocess.Popen) else worker.exitcode) is not None:
            # gone already: without the tag, the health check could not tell
            self._instance.report_run_failed(run, f"the run's worker (pid {worker.pid}) exited as it started")

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        pid, alive = run_process(run)
        if not alive:
            self._instance.report_engine_event("terminate: no live process of this run on this machine", run,
                                               cls=self.__class__)
            return False
        try:
            if run.status in (DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED):
                os.kill(pid, signal.SIGKILL)  # before its first step: nothing to clean up
                self._instance.report_run_canceled(run, "terminated before the run started")
                return True
            os.kill(pid, signal.SIGINT)  # Dagster turns it into a canceled run
        except OSError as error:
            self._instance.report_engine_event(f"terminate: could not signal pid {pid}: {error}", run,
                                               cls=self.__class__)
            return False
        self._instance.report_run_canceling(run)
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        pid, alive = run_process(run)
        if alive is not False:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's process (pid {pid}) is gone: killed or crashed")

    def dispose(self) -> None:
        with self._lock:
            for worker in self._workers.values():
                if worker.exitcode is not None:
                    worker.close()
            self._workers.clear()


class PreloadingRunCoordinator(QueuedRunCoordinator):
    """Dagster's queued run coordinator (``dagster.yaml``: ``run_coordinator``) that, in the daemon, has
    the run launcher start its fork server as the daemon starts: the first run does not wait for the imports."""

    def register_instance(self, instance) -> None:
        super().register_instance(instance)
        if _in_daemon() and isinstance(instance.run_launcher, PreloadedRunLauncher):
            instance.run_launcher.start_fork_server()
