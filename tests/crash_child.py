"""`papers run` that dies (SIGKILL, as kill -9 or the OOM killer would) at a named step of ingestion.

    python -m tests.crash_child STEP HOME      (or run_forked(STEP, HOME) from a test)

tests/e2e/test_faults.py runs it in a child forked by a fork server that imported Dagster, dbt and Great
Expectations once (seconds instead of a cold start each). Not a fork of the test process: that one
may have run dbt already, and dbt's parser (dbt_extractor) keeps a thread pool that a forked child
does not get, so its next full parse waits forever. Each step is a window between two writes:

- ``dlt_second_job``: dlt committed the first raw table of its load, not the second, and did not mark
  the load complete (``raw._dlt_loads``) — a partial load (ENOSPC, OOM mid-load).
- ``dlt_before_complete``: every raw table committed, the load not marked complete.
- ``before_registry``: the load complete, nothing recorded in ``ops.snapshot_files``.
- ``before_moves``: the arrivals recorded, no file moved out of landing yet.
- ``mid_moves``: two files archived, the rest still in landing.
- ``after_dbt``: every file settled, dbt built the marts, the build not recorded (``ops.watermarks``),
  nothing validated or published.
- ``before_publish``: the marts built and validated, not published.

And one that is not a crash: ``interrupted_dbt`` sends the run SIGINT (Ctrl-C; terminating a run from
the Dagster UI sends its worker the same) while dbt builds a model. The run stops; the child then
checks that no dbt thread outlived it and that the warehouse file is free (exit 0, else 97).
"""

from __future__ import annotations

import os
import signal
import sys


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def interrupt() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def _after_calls(module, name: str, n: int, *, when=lambda *a, **k: True, then=die) -> None:
    """Die (or ``then()``) at the ``n``-th call of ``module.name`` for which ``when(args…)`` holds."""
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        if when(*args, **kwargs):
            calls.append(1)
            if len(calls) == n:
                then()
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def arm(step: str) -> None:
    if step == "dlt_second_job":
        from dlt.destinations.impl.duckdb import duck

        _after_calls(duck.DuckDbCopyJob, "run", 2)
    elif step == "dlt_before_complete":
        from dlt.load.load import Load

        _after_calls(Load, "complete_package", 1)
    elif step == "before_registry":
        from orchestration.defs.dlt import ingest

        _after_calls(ingest, "settle_landing", 1)
    elif step == "before_moves":
        from orchestration.ops import bookkeeping

        # the settle's own call (reconcile's, at the start of the run, verifies the bytes)
        _after_calls(bookkeeping, "move_pending_files", 1, when=lambda *a, verify=False, **k: not verify)
    elif step == "after_dbt":
        from orchestration.defs.dbt import assets

        _after_calls(assets, "keep_invocation_state", 1)
    elif step == "before_publish":
        from orchestration.defs.publish import assets

        _after_calls(assets, "publish", 1)
    elif step == "interrupted_dbt":
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        # in a dbt worker thread, as it sends the query that builds a model (the signal reaches the
        # main thread, waiting for the workers)
        _after_calls(DuckDBConnectionManager, "execute", 1, then=interrupt,
                     when=lambda self, sql="", *a, **k: "create" in sql and "int_paper_observations" in sql)
    elif step == "mid_moves":
        from orchestration.ops import filing as intake

        _after_calls(intake, "archive", 3)
    else:
        raise SystemExit(f"unknown step {step!r}")


def crash_run(step: str, home: str, dagster_home: str | None = None) -> None:
    """``dagster_home``: the Dagster instance the run records itself in (None: an ephemeral one)."""
    os.environ["LOAD__WORKERS"] = "1"  # dlt's load jobs one after another: the windows are exact
    os.environ.pop("DAGSTER_HOME", None)
    if dagster_home:
        os.environ["DAGSTER_HOME"] = dagster_home
    arm(step)
    from orchestration.cli import main

    code = main(["--home", home, "run"])
    if step == "interrupted_dbt":
        os._exit(0 if code and _dbt_stopped(home) else 97)
    print(f"crash_child: step {step} was never reached (exit {code})", file=sys.stderr)
    os._exit(99)


def _dbt_stopped(home: str) -> bool:
    """No dbt worker thread is left and this process opens the warehouse with its own settings."""
    import threading

    import duckdb

    workers = [t.name for t in threading.enumerate() if t.name.endswith("(worker)")]
    try:
        duckdb.connect(os.path.join(home, "warehouse.duckdb")).close()
    except duckdb.Error as error:
        print(f"crash_child: the warehouse is still held: {error}", file=sys.stderr)
        return False
    if workers:
        print(f"crash_child: dbt threads left: {workers}", file=sys.stderr)
    return not workers


#: what the fork server imports once, before it forks any child (it never runs dbt itself)
PRELOAD = ["great_expectations", "dbt.cli.main", "orchestration.defs.definitions", "orchestration.cli"]


def _child(step: str, home: str, dagster_home: str | None) -> None:
    try:
        crash_run(step, home, dagster_home)
    finally:
        os._exit(98)


def run_forked(step: str, home: str, dagster_home: str | None = None) -> int:
    """Run :func:`crash_run` in a child of the fork server; its exit status (-9: killed at the step)."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # read when the server starts (the first child)
    child = context.Process(target=_child, args=(step, home, dagster_home))
    child.start()
    child.join()
    return child.exitcode


if __name__ == "__main__":
    crash_run(sys.argv[1], sys.argv[2])
