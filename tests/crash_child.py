"""`papers run` that dies (SIGKILL, as kill -9 or the OOM killer would) at a named step of ingestion.

    python -m tests.crash_child STEP HOME      (or run_forked(STEP, HOME) from a test)

tests/test_faults.py runs it in a forked child of the test process (Dagster, dbt and Great
Expectations already imported: seconds instead of a cold start each); each step is a window
between two writes:

- ``dlt_second_job``: dlt committed the first raw table of its load, not the second, and did not mark
  the load complete (``raw._dlt_loads``) — a partial load (ENOSPC, OOM mid-load).
- ``dlt_before_complete``: every raw table committed, the load not marked complete.
- ``before_registry``: the load complete, nothing recorded in ``ops.snapshot_files``.
- ``before_moves``: the arrivals recorded, no file moved out of landing yet.
- ``mid_moves``: two files archived, the rest still in landing.
- ``after_dbt``: every file settled, dbt built the marts, the build not recorded (``ops.watermarks``),
  nothing validated or published.
- ``before_publish``: the marts built and validated, not published.
"""

from __future__ import annotations

import os
import signal
import sys


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after_calls(module, name: str, n: int, *, when=lambda *a, **k: True) -> None:
    """Die at the ``n``-th call of ``module.name`` for which ``when(args…)`` holds."""
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        if when(*args, **kwargs):
            calls.append(1)
            if len(calls) == n:
                die()
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
    elif step == "mid_moves":
        from orchestration.ops import filing as intake

        _after_calls(intake, "archive", 3)
    else:
        raise SystemExit(f"unknown step {step!r}")


def crash_run(step: str, home: str) -> None:
    os.environ["LOAD__WORKERS"] = "1"  # dlt's load jobs one after another: the windows are exact
    os.environ.pop("DAGSTER_HOME", None)
    arm(step)
    from orchestration.cli import main

    code = main(["--home", home, "run"])
    print(f"crash_child: step {step} was never reached (exit {code})", file=sys.stderr)
    os._exit(99)


def run_forked(step: str, home: str) -> int:
    """Run :func:`crash_run` in a forked child; its exit status (-9: killed at the step)."""
    import great_expectations  # noqa: F401  (imported once here, not in every child)

    import orchestration.defs.definitions  # noqa: F401

    pid = os.fork()
    if pid == 0:
        try:
            crash_run(step, home)
        finally:
            os._exit(98)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


if __name__ == "__main__":
    crash_run(sys.argv[1], sys.argv[2])
