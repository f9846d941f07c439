"""dbt in the Dagster step's own process (``dbtRunner``), its results as the events dagster-dbt makes.

No second Python starting and importing dbt (~2 s), no ``dbt --version`` and no adapter that
dagster-dbt would set up here just in case. Each node's result event goes through dagster-dbt's own
translation (``DbtCoreCliEventMessage.to_default_asset_events``), as its subprocess runner does with
dbt's JSON log lines, so materializations, test results and their metadata are the same. What dbt
prints goes to ``sys.stdout`` (the ``papers`` command's log; Dagster's compute log).

An interrupt (Terminate in the UI sends the run worker SIGINT; Ctrl-C) reaches dbt as a
``KeyboardInterrupt``, on which dbt cancels its queries and stops its worker threads; they get
``STOP_SECONDS`` to end, and one still running then is named in a warning.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._utils.interrupts import raise_interrupts_as
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

#: dbt's events that carry one node's result (what dagster-dbt turns into Dagster events)
RESULT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})
#: how long an interrupted dbt's worker threads may take to end (dagster-dbt's wait for its subprocess)
STOP_SECONDS = 25.0


@dataclass
class DbtBuild:
    """One dbt invocation: its Dagster events, the exception dbt ended with, the manifest the events refer to."""

    success: bool
    events: list = field(repr=False)
    error: BaseException | None
    manifest: dict[str, Any] = field(repr=False)


def dbt_flags(project_dir: Path, profiles_dir: Path, target: Path) -> list[str]:
    """Where dbt finds its project and profile and writes its target and log. ``--no-write-json``: dbt's
    manifest.json (written twice), semantic manifest and graph file are not written (nothing reads
    them: the folder is dropped after the build)."""
    return ["--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir), "--target-path", str(target),
            "--log-path", str(target), "--no-send-anonymous-usage-stats", "--no-write-json"]


def run_dbt(context: dg.AssetExecutionContext, args: list[str], target: Path,
            narrow: list[str] | None = None) -> DbtBuild:
    """``dbt ARGS`` in this process for the assets ``context`` selected (``narrow``: these dbt
    selectors instead, for a step that selected every asset), with ``target`` as its target and log
    folder. An interrupt stops dbt and raises ``DagsterExecutionInterruptedError``."""
    from dbt.cli.main import dbtRunner  # imported only when dbt runs (an idle run skips it)
    from dbt_common.events.functions import msg_to_dict

    # the dbt selection for the selected assets and checks, as dagster-dbt computes it for its CLI
    # (its project is a temporary copy holding a selector when the selection is long)
    params = get_updated_cli_invocation_params_for_context(context, {}, DagsterDbtTranslator())
    project = params.dbt_project
    # run_results.json is written below from the result dbt returns
    args = [*args, *dbt_flags(Path(project.project_dir), Path(project.profiles_dir), target),
            *(["--select", " ".join(narrow)] if narrow else params.selection_args)]
    if params.indirect_selection:
        args += ["--indirect-selection", params.indirect_selection]
    results: list[dict] = []

    def keep(message) -> None:  # called from dbt's worker threads: appending is atomic
        if message.info.name in RESULT_EVENTS:
            results.append(msg_to_dict(message))

    context.log.info(f"Running dbt in this process: `dbt {' '.join(args)}`")
    threads_before = set(threading.enumerate())
    interrupted = False
    try:
        with raise_interrupts_as(KeyboardInterrupt):  # dbt's own cancel path runs on KeyboardInterrupt
            outcome = dbtRunner(callbacks=[keep]).invoke(args)
        interrupted = _interrupted(outcome.exception)
    except KeyboardInterrupt:  # between dbt's end and the handler's restore
        interrupted = True
    finally:  # each clean-up runs, and none replaces dbt's outcome
        for cleanup in ([lambda: _stop_dbt_workers(threads_before, context.log)] if interrupted else []) + [
                close_dbt_duckdb, close_dbt_logs]:
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 - logged; the build's own outcome stands
                context.log.warning(f"cleaning up after dbt failed: {type(exc).__name__}: {exc}")
    if interrupted:
        context.log.info("dbt interrupted: its queries were cancelled and its threads ended")
        raise DagsterExecutionInterruptedError()
    if outcome.result is not None and hasattr(outcome.result, "write"):  # none when dbt failed before running
        outcome.result.write(str(target / "run_results.json"))
    events = [event for raw in results
              for event in DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={}).to_default_asset_events(
                  manifest=params.manifest, dagster_dbt_translator=params.dagster_dbt_translator,
                  context=context, target_path=target, project=project)]
    return DbtBuild(outcome.success, events, outcome.exception, dict(params.manifest))


def _interrupted(error: BaseException | None) -> bool:
    """Whether dbt ended on the interrupt (possibly an error of its cancelling, raised while it
    handled the ``KeyboardInterrupt``)."""
    while error is not None:
        if isinstance(error, (KeyboardInterrupt, DagsterExecutionInterruptedError)):
            return True
        error = error.__context__
    return False


def _stop_dbt_workers(threads_before: set[threading.Thread], log: Any) -> None:
    """After an interrupt: cancel every query dbt still runs and wait (up to STOP_SECONDS) for its
    worker threads to end; warn naming any still running then. dbt cancels its own, but a
    connection closed meanwhile makes dbt-duckdb's cancel raise and dbt return without waiting for
    its workers."""
    from dbt.adapters.factory import FACTORY

    for adapter in list(FACTORY.adapters.values()):
        for connection in list(adapter.connections.thread_connections.values()):
            with contextlib.suppress(Exception):  # one already closed: the others are still cancelled
                adapter.connections.cancel(connection)
    deadline = time.monotonic() + STOP_SECONDS
    # dbt's thread pool workers (multiprocessing's ThreadPool names them "Thread-N (worker)")
    workers = [t for t in threading.enumerate() if t not in threads_before and t.name.endswith("(worker)")]
    for thread in workers:
        thread.join(max(0.0, deadline - time.monotonic()))
    if alive := [t.name for t in workers if t.is_alive()]:
        log.warning(f"dbt threads still running {STOP_SECONDS:.0f} s after the interrupt: {', '.join(alive)}")


def close_dbt_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open for the next invocation (``keep_open``): its
    memory goes back, and this process can open the warehouse file with its own settings again."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    reset_adapters()  # closes what connections dbt left and drops the adapter
    try:
        environment = DuckDBConnectionManager.env()
    except Exception:  # dbt never connected (it failed before): nothing is open
        return
    environment.close()
    DuckDBConnectionManager.close_all_connections()  # forgets the closed environment


def close_dbt_logs() -> None:
    """Detach dbt's loggers and the callback from its event manager and close its log file (dbt
    leaves them in place until the next invocation)."""
    from dbt_common.events.event_manager_client import cleanup_event_logger

    cleanup_event_logger()
    for name in ("file_log", "stdout_log"):  # dbt_common's logger names
        python_logger = logging.getLogger(name)
        for handler in list(python_logger.handlers):
            python_logger.removeHandler(handler)
            handler.close()
