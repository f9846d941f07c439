"""A run whose process was killed while it held a pool slot: it is failed and its slot freed by the
function the `papers` command calls, and reported FAILED by the `make ui` launcher's health check
(which the daemon's run monitoring acts on); a live run is left alone.

The runs are real: a child process executes a one-op job in the `duckdb_warehouse` pool of an
instance with the project's dagster.yaml, and is killed (SIGKILL) while the op holds the slot.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.dead_runs import free_dead_runs, identity_alive, process_identity, slot_holders
from orchestration.defs.launcher import PreloadedRunLauncher

from tests.pipeline_runs import REPO

HOLDER = textwrap.dedent("""
    import os, sys, time
    import dagster as dg
    from orchestration.defs.dead_runs import PROCESS_TAG, process_identity

    @dg.op(pool="duckdb_warehouse")
    def write(context):
        print("holding", flush=True)
        time.sleep(600)

    @dg.job
    def holder():
        write()

    tags = {PROCESS_TAG: process_identity(os.getpid())} if sys.argv[1:] == ["tagged"] else {}
    with dg.DagsterInstance.get() as instance:
        holder.execute_in_process(instance=instance, tags=tags)
""")


@pytest.fixture
def dagster_home(tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return home


def hold_the_slot(dagster_home: Path, tagged: bool = True) -> subprocess.Popen:
    """A child running a job whose op holds the pool's slot, once it says so; ``tagged``: its run
    names its process, as every run of the `papers` command and of the launcher does."""
    child = subprocess.Popen([sys.executable, "-c", HOLDER, *(["tagged"] if tagged else [])],
                             env={**os.environ, "DAGSTER_HOME": str(dagster_home)}, cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    assert line.strip() == "holding", line
    return child


def killed(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)


def test_a_dead_run_is_failed_and_its_slot_freed_a_live_one_is_not(dagster_home):
    child = hold_the_slot(dagster_home)
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            (run_id,) = instance.event_log_storage.get_concurrency_run_ids()
            assert free_dead_runs(instance) == []  # alive: left alone
            assert [r.run_id for r in slot_holders(instance)] == [run_id]
            killed(child)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
            (freed,) = free_dead_runs(instance)
            assert (freed.run_id, freed.job_name, freed.pid, freed.failed) == (run_id, "holder", child.pid, True)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
            assert not instance.event_log_storage.get_concurrency_run_ids()
            assert slot_holders(instance) == []
            assert free_dead_runs(instance) == []
    finally:
        if child.poll() is None:
            killed(child)


def test_the_launchers_health_check_fails_a_dead_run_for_the_run_monitor(dagster_home):
    """Under `make ui` the daemon's run monitoring asks the launcher about every started run (a
    `papers` command's too): RUNNING while its process lives, FAILED once it is gone."""
    from dagster._core.launcher import WorkerStatus

    child = hold_the_slot(dagster_home)
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            launcher = instance.run_launcher
            assert isinstance(launcher, PreloadedRunLauncher) and launcher.supports_check_run_worker_health
            (run_id,) = instance.event_log_storage.get_concurrency_run_ids()
            run = instance.get_run_by_id(run_id)
            assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
            killed(child)
            health = launcher.check_run_worker_health(run)
            assert health.status == WorkerStatus.FAILED and f"pid {child.pid}" in health.msg
    finally:
        if child.poll() is None:
            killed(child)


def test_a_run_that_does_not_name_its_process_is_never_judged_dead(dagster_home):
    child = hold_the_slot(dagster_home, tagged=False)
    killed(child)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (run_id,) = instance.event_log_storage.get_concurrency_run_ids()
        assert free_dead_runs(instance) == []
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED


def test_a_process_identity_names_one_process_on_one_machine():
    me = process_identity(os.getpid())
    host, boot, pid, start = me.rsplit(":", 3)
    assert identity_alive(me) is True
    assert identity_alive(f"{host}:{boot}:{pid}:{int(start) + 1}") is False  # the pid reused by a later process
    assert identity_alive(f"{host}:another-boot:{pid}:{start}") is False      # rebooted since
    assert identity_alive(f"elsewhere.example:{boot}:{pid}:{start}") is None  # another machine: not told here
