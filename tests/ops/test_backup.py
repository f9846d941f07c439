"""`papers backup` then `papers restore` into a new home gives the same marts and release; a backup
waits for a warehouse in use, then says so."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest

from orchestration.cli import EXIT_OK, EXIT_USAGE
from orchestration.project import PUBLIC_MARTS
from tests.conftest import copy_home
from tests.pipeline_runs import query, run_papers

pytestmark = pytest.mark.pipeline  # reads the demo home the pipeline built


def marts(warehouse) -> dict[str, list[str]]:
    return {m: sorted(map(repr, query(warehouse, f"select * from marts.{m}"))) for m in PUBLIC_MARTS}


def release_files(home) -> dict[str, str]:
    root = (home / "published").resolve()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_backup_then_restore_gives_identical_marts_and_release(demo_home, tmp_path):
    home = copy_home(demo_home, tmp_path / "home")
    code, output = run_papers(home, "backup", str(tmp_path / "backup"))
    assert code == EXIT_OK, output
    assert output.startswith(f"papers backup: {home} -> {tmp_path / 'backup'}: ")
    code, output = run_papers(home, "backup", str(tmp_path / "backup"))
    assert code == EXIT_USAGE and "exists and is not empty" in output

    restored = tmp_path / "restored"
    code, output = run_papers(restored, "init")  # an empty home made by `papers init` is fine
    code, output = run_papers(restored, "restore", str(tmp_path / "backup"))
    assert code == EXIT_OK, output
    assert marts(restored / "warehouse.duckdb") == marts(home / "warehouse.duckdb")
    assert release_files(restored) == release_files(home)
    assert query(restored / "warehouse.duckdb", "select count(*) from ops.snapshot_files") == \
        query(home / "warehouse.duckdb", "select count(*) from ops.snapshot_files")
    assert sorted(p.name for p in (restored / "archive").iterdir()) == sorted(p.name for p in (home / "archive").iterdir())
    code, output = run_papers(restored, "status")
    assert code == EXIT_OK and "published:" in output
    # a home that holds data is never overwritten
    code, output = run_papers(restored, "restore", str(tmp_path / "backup"))
    assert code == EXIT_USAGE and "is not empty" in output


def test_a_backup_waits_for_the_warehouse_then_says_it_is_in_use(demo_home, tmp_path):
    home = copy_home(demo_home, tmp_path / "home")
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"con = duckdb.connect({str(home / 'warehouse.duckdb')!r}); print('held', flush=True); "
                               "time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        code, output = run_papers(home, "backup", str(tmp_path / "backup"), "--wait", "2")
        assert code == EXIT_USAGE and time.monotonic() - started >= 2
        assert output.startswith("papers backup: the warehouse is in use (a run, or an open SQL client) "
                                 "and stayed so for 2 s"), output
        assert len(output.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
