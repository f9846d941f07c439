"""Faults: a crash at any step of ingestion, then a run, gives exactly the marts of a clean run; a bad
input is quarantined with its reason and the rest of its batch goes on; nothing outside landing is
read through it.

Every mart is compared with the clean run of the same fixtures (``fixtures_warehouse``) with EXCEPT
ALL both ways, and every input must end in archive/ or quarantine/ with exactly one registry row.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.project import PUBLIC_MARTS
from tests.crash_child import run_forked
from tests.pipeline_runs import API_FIXTURES, MALFORMED, REPO, TEXT_FIXTURES, papers_env, query, run_papers

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

GOOD_API = [p for p in API_FIXTURES if p.name not in MALFORMED]
BAD_API = [p for p in API_FIXTURES if p.name in MALFORMED]


def mart_differences(warehouse: Path, clean: Path) -> dict[str, tuple[int, int]]:
    """Rows per mart only in ``warehouse`` / only in ``clean`` (EXCEPT ALL both ways); empty: equal."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(f"attach '{clean}' as clean (read_only)")
        found = {}
        for mart in PUBLIC_MARTS:
            ours = con.sql(f"select count(*) from (select * from marts.{mart} except all "
                           f"select * from clean.marts.{mart})").fetchall()[0][0]
            theirs = con.sql(f"select count(*) from (select * from clean.marts.{mart} except all "
                             f"select * from marts.{mart})").fetchall()[0][0]
            if ours or theirs:
                found[mart] = (ours, theirs)
        return found
    finally:
        con.close()


def drop(landing: Path, files) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, landing / path.name)


def crash_at(step: str, home: Path, dagster_home: Path | None = None) -> None:
    with papers_env(home):
        status = run_forked(step, str(home), str(dagster_home) if dagster_home else None)
    assert status == -9, f"{step}: the run was not killed at its step (exit {status})"


def raw_state(warehouse: Path) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {t for (t,) in con.sql("select table_name from information_schema.tables "
                                        "where table_schema = 'raw'").fetchall()}
        state = {t: con.sql(f"select count(*) from raw.{t}").fetchall()[0][0]
                 for t in ("landed_api_papers", "landed_page_cards") if t in tables}
        state["loads_complete"] = (con.sql("select count(*) from raw._dlt_loads").fetchall()[0][0]
                                   if "_dlt_loads" in tables else 0)
        registry = con.sql("select count(*) from information_schema.tables where table_schema = 'ops' "
                           "and table_name = 'snapshot_files'").fetchall()[0][0]
        state["registered"] = (con.sql("select count(*) from ops.snapshot_files").fetchall()[0][0]
                               if registry else 0)
        state["pending"] = (con.sql("select count(*) from ops.snapshot_files where file_pending").fetchall()[0][0]
                            if registry else 0)
        return state
    finally:
        con.close()


def test_a_crash_at_any_step_then_a_run_gives_the_marts_of_a_clean_run(tmp_path, fixtures_warehouse):
    """Five crashes in a row, each in another window, each run recovering the one before; then a run."""
    home = tmp_path / "home"
    landing = home / "landing"
    stages = [
        # (step, files dropped before it, what the warehouse must show after the crash)
        ("dlt_second_job", [*TEXT_FIXTURES, *GOOD_API[:2]],
         lambda s: s["loads_complete"] == 0 and s["registered"] == 0
         and (s.get("landed_api_papers", 0) > 0) != (s.get("landed_page_cards", 0) > 0)),
        ("dlt_before_complete", GOOD_API[2:4],
         lambda s: s["loads_complete"] == 0 and s["registered"] == 0 and s["landed_page_cards"] == 85),
        ("before_registry", GOOD_API[4:6],
         lambda s: s["loads_complete"] >= 1 and s["registered"] == 0 and s["landed_page_cards"] == 85),
        ("before_moves", [*GOOD_API[6:8], BAD_API[0]],
         lambda s: s["pending"] > 0),
        ("mid_moves", [*GOOD_API[8:], *BAD_API[1:]],
         lambda s: s["pending"] > 0),
    ]
    for step, files, crashed_as_planned in stages:
        drop(landing, files)
        crash_at(step, home)
        state = raw_state(home / "warehouse.duckdb")
        assert crashed_as_planned(state), (step, state)

    code, output = run_papers(home, "run")
    assert code == 0, output
    assert "recovered from an interrupted run" not in output  # said in the run's log, not the summary
    warehouse = home / "warehouse.duckdb"
    assert mart_differences(warehouse, fixtures_warehouse) == {}
    # raw holds each snapshot exactly once, as a clean run does
    for table in ("landed_api_papers", "landed_page_cards"):
        assert query(warehouse, f"select count(*), count(distinct (snapshot_id, rank)) from raw.{table}") == \
            query(fixtures_warehouse, f"select count(*), count(distinct (snapshot_id, rank)) from raw.{table}")
    # every input ends in archive/ or quarantine/, with exactly one registry row per arrival
    names = sorted(p.name for p in [*API_FIXTURES, *TEXT_FIXTURES])
    rows = query(warehouse, "select source_uri, status, file_pending from ops.snapshot_files order by 1")
    assert [r[0] for r in rows] == names
    assert {r[0]: r[1] for r in rows if r[1] != "loaded"} == dict.fromkeys(sorted(MALFORMED), "quarantined")
    assert not any(r[2] for r in rows)
    assert sorted(os.listdir(landing)) == []
    assert sorted(os.listdir(home / "archive")) == sorted(p.name for p in [*GOOD_API, *TEXT_FIXTURES])
    assert sorted(p.name for p in (home / "quarantine").iterdir() if not p.name.endswith(".reason.txt")) == \
        sorted(MALFORMED)
    assert not [p for p in (home / "dlt").iterdir() if p.name != "definitions"]  # dead runs' dlt folders removed

    # a re-dropped file is a duplicate, not a new load (and not quarantined)
    drop(landing, GOOD_API[:1])
    code, output = run_papers(home, "run")
    assert code == 0 and "0 loaded, 1 duplicate, 0 quarantined" in output, output


def test_a_run_killed_after_its_files_were_settled_is_finished_by_the_next_run(tmp_path, fixtures_warehouse):
    """Killed once dbt has built (build not recorded), then again once validation passed (nothing
    published): every file is archived by then, so the next `papers run` finds none waiting — it
    still builds, validates and publishes what the warehouse holds, and the marts are a clean run's."""
    home = tmp_path / "home"
    drop(home / "landing", [*API_FIXTURES, *TEXT_FIXTURES])
    crash_at("after_dbt", home)
    assert not os.listdir(home / "landing")
    crash_at("before_publish", home)  # the rerun of the unrecorded build, killed later
    assert not (home / "published" / "manifest.json").exists()

    code, output = run_papers(home, "run")
    assert code == 0, output
    assert output.startswith("papers run: no file waiting; the warehouse holds what is not published yet"), output
    assert "published:  " in output and "unchanged" not in output
    assert mart_differences(home / "warehouse.duckdb", fixtures_warehouse) == {}
    code, output = run_papers(home, "run")
    assert code == 0 and output.startswith("papers run: nothing to do: no file waiting"), output


def test_a_run_interrupted_while_dbt_builds_stops_dbt_and_the_next_run_finishes_it(tmp_path, fixtures_warehouse):
    """SIGINT while dbt builds a model (Ctrl-C; a run terminated from the UI gets the same): dbt,
    running in the run's process, stops with the run — no dbt thread left, the warehouse file free
    (checked in the child) — and the next run builds the marts of a clean run."""
    home = tmp_path / "home"
    drop(home / "landing", [*API_FIXTURES, *TEXT_FIXTURES])
    with papers_env(home):
        status = run_forked("interrupted_dbt", str(home))
    assert status == 0, f"dbt outlived the interrupted run, or it was not interrupted (exit {status})"
    # stopped while it built int_paper_observations: nothing downstream of it was built
    assert query(home / "warehouse.duckdb", "select count(*) from information_schema.tables "
                                            "where table_schema = 'marts' and table_name = 'papers'") == [(0,)]

    code, output = run_papers(home, "run")
    assert code == 0, output
    assert mart_differences(home / "warehouse.duckdb", fixtures_warehouse) == {}


def test_a_killed_run_does_not_hold_the_warehouse_for_the_runs_after_it(tmp_path, fixtures_warehouse):
    """kill -9 while a step of the warehouse's writer pool runs, in a Dagster instance with the
    project's pools (as `make run` and `make ui` set up): the dead run keeps its slot (no daemon frees
    an in-process run's), so the next `papers run` fails it, frees the slot and finishes — instead of
    waiting for the slot forever."""
    import dagster as dg

    home, dagster_home = tmp_path / "home", tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    drop(home / "landing", [*API_FIXTURES, *TEXT_FIXTURES])
    crash_at("before_publish", home, dagster_home)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (killed,) = instance.event_log_storage.get_concurrency_run_ids()
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.STARTED

    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    done = subprocess.run([sys.executable, "-m", "orchestration.cli", "--home", str(home), "run"], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"recovered:  run {killed} (ingest_landing) was killed" in done.stdout, done.stdout
    assert "published:  " in done.stdout, done.stdout
    assert mart_differences(home / "warehouse.duckdb", fixtures_warehouse) == {}
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_run_ids()


def test_a_rebuild_after_an_interrupted_load_builds_only_completed_loads(tmp_path):
    """A load killed before dlt marked it complete leaves rows in raw; `papers rebuild` (dbt without
    a load first) rolls them back before building: the marts are those of the completed loads."""
    home = tmp_path / "home"
    drop(home / "landing", [*TEXT_FIXTURES, *GOOD_API[:3]])
    code, output = run_papers(home, "run")
    assert code == 0, output
    baseline = tmp_path / "baseline.duckdb"
    shutil.copyfile(home / "warehouse.duckdb", baseline)

    drop(home / "landing", GOOD_API[3:5])
    crash_at("dlt_before_complete", home)
    state = raw_state(home / "warehouse.duckdb")
    assert state["landed_api_papers"] > query(baseline, "select count(*) from raw.landed_api_papers")[0][0], state

    code, output = run_papers(home, "rebuild")
    assert code == 0, output
    assert mart_differences(home / "warehouse.duckdb", baseline) == {}
    # the interrupted files are still waiting: the next run loads them
    assert sorted(os.listdir(home / "landing")) == sorted(p.name for p in GOOD_API[3:5])
    code, output = run_papers(home, "run")
    assert code == 0 and "2 loaded, 0 duplicate, 0 quarantined" in output, output


def _without_read_override():
    """As root, a file with no read permission is still readable: drop the capabilities that allow
    it, so the child meets the PermissionError any other user would."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return [setpriv, "--inh-caps=-dac_override,-dac_read_search",
            "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_bad_inputs_are_quarantined_and_the_rest_of_the_batch_is_published(tmp_path, fixtures_warehouse):
    home = tmp_path / "home"
    landing = home / "landing"
    drop(landing, [*API_FIXTURES, *TEXT_FIXTURES])
    # a non-JSON file whose name is too long for a `<name>.reason.txt` next to it
    long_name = "2025-10-03_" + "x" * 230 + ".txt"
    (landing / long_name).write_text("this is not a snapshot\n")
    # a page card claiming 99999999999 authors (overflows the int32 column)
    text = TEXT_FIXTURES[0].read_text()
    (landing / "papers-listing_captured-20251105.txt").write_text(
        re.sub(r"• \d+ authors", "• 99999999999 authors", text, count=1))
    # a file nobody may read
    unreadable = landing / "2025-10-02_captured-20251002T080000Z.json"
    unreadable.write_text("[]")
    unreadable.chmod(0)
    # a link to a file outside the home (never followed: its bytes are a valid snapshot)
    outside = tmp_path / "outside" / "2025-10-01_captured-20251001T080000Z.json"
    outside.parent.mkdir()
    outside.write_bytes(GOOD_API[-1].read_bytes().replace(b"}", b"} ", 1))
    (landing / outside.name).symlink_to(outside)
    # a FIFO: opening it would block the run forever
    os.mkfifo(landing / "2025-09-30_captured-20250930T090000Z.json")
    # a paper published in 1985: passes parsing, breaks a rule of the raw suite
    rows = json.loads(GOOD_API[-1].read_text())
    rows[0]["paper"]["publishedAt"] = "1985-01-01T00:00:00.000Z"
    (landing / "2026-08-21_captured-20260822T000000Z.json").write_text(json.dumps(rows))

    # a path-like id and a paper listed twice in one file: both break raw rules, so never loaded
    rows = json.loads(GOOD_API[-2].read_text())
    rows[0]["paper"]["id"] = "../../etc"
    rows.append(rows[1])
    (landing / "2025-10-03_captured-20251004T000000Z.json").write_text(json.dumps(rows))
    # a title of 5 MB of words (would exhaust memory in topic matching downstream)
    rows = json.loads(GOOD_API[-2].read_text())
    rows[0]["paper"]["title"] = "attention " * 500_000
    (landing / "2025-10-03_captured-20251005T000000Z.json").write_text(json.dumps(rows))
    # a listing date that is not a date
    (landing / "2025-02-30_captured-20250301T000000Z.json").write_text(json.dumps(json.loads(GOOD_API[-2].read_text()),
                                                                                   indent=1))

    env = {**os.environ, "PAPERS_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    papers = [*_without_read_override(), str(Path(sys.executable).with_name("papers")), "--home", str(home), "run"]
    first = subprocess.run(papers, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "10 loaded, 0 duplicate, 12 quarantined" in out, out
    assert "Traceback" not in out + first.stderr

    warehouse = home / "warehouse.duckdb"
    reasons = dict(query(warehouse, "select source_uri, reason from ops.snapshot_files where status = 'quarantined'"))
    assert set(reasons) == {*MALFORMED, long_name, "papers-listing_captured-20251105.txt", unreadable.name,
                            outside.name, "2026-08-21_captured-20260822T000000Z.json",
                            "2025-09-30_captured-20250930T090000Z.json", "2025-10-03_captured-20251004T000000Z.json",
                            "2025-10-03_captured-20251005T000000Z.json", "2025-02-30_captured-20250301T000000Z.json"}
    assert reasons[unreadable.name] == "could not be read (Permission denied)"
    assert reasons[outside.name].startswith("a symbolic link, not a regular file")
    assert reasons["2025-09-30_captured-20250930T090000Z.json"].startswith("a FIFO, not a regular file")
    assert "could not be parsed (ArrowInvalid" in reasons["papers-listing_captured-20251105.txt"]
    assert "column=published_at" in reasons["2026-08-21_captured-20260822T000000Z.json"]
    path_like = reasons["2025-10-03_captured-20251004T000000Z.json"]
    assert "regex" in path_like and "expect_compound_columns_to_be_unique" in path_like, path_like
    assert "expect_column_value_lengths_to_be_between(column=title" in \
        reasons["2025-10-03_captured-20251005T000000Z.json"]
    assert "2025-02-30, which is not a date" in reasons["2025-02-30_captured-20250301T000000Z.json"]
    assert all(len(r) < 600 for r in reasons.values())  # short: no file content beyond a short excerpt
    assert query(warehouse, "select count(*) from raw.landed_api_papers where arxiv_id like '%/%'")[0][0] == 0
    assert outside.read_bytes()  # the link's target is untouched, and unread: nothing of it was quoted
    assert (home / "quarantine" / outside.name).is_symlink()
    assert not [r for r in reasons.values() if "1985" in r and "published" not in r]
    # the long name is kept under a bounded name, its reason file next to it
    stored = query(warehouse, "select stored_path from ops.snapshot_files where source_uri = ?", [long_name])[0][0]
    assert len(Path(stored).name.encode()) <= 200 and (home / (stored + ".reason.txt")).is_file()
    assert stored.startswith("quarantine/")  # relative to PAPERS_HOME: a moved home keeps its registry
    assert sorted(os.listdir(landing)) == []

    assert mart_differences(warehouse, fixtures_warehouse) == {}
    assert "published:  " in out and "unchanged" not in out

    code, output = run_papers(home, "run")
    assert code == 0 and output.startswith("papers run: nothing to do: no file waiting"), output
