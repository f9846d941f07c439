"""End to end through a real `dagster dev` (webserver + daemon) on 127.0.0.1, offline.

One `dagster dev` serves every test of this module (temp PAPERS_HOME and DAGSTER_HOME, the HF API
replaced by a local HTTP server replaying fixture bodies):

- a fixture file dropped into landing (written as ``.part``, then renamed, as a producer would) is
  picked up by the landing sensor and reaches ``published/warehouse.duckdb``; the drop-to-published
  latency is measured and reported;
- a 3-date backfill of ``raw/api_fetched_papers`` launched through GraphQL the way the UI launches it
  is ONE run covering the range, fetching each date once;
- three runs triggered at once (a job launched from GraphQL, a sensor run, a partitioned API run)
  all succeed: the ``duckdb_warehouse`` pool (limit 1, dagster.yaml) queues their steps.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.conftest import DEMO
from tests.dagster_dev import DagsterDev, live_processes, running_dagster_dev
from tests.pipeline_runs import FIXTURES

pytestmark = pytest.mark.dagster_dev

DAILY = FIXTURES / "daily_papers"
DROPPED = "2025-10-03_captured-20251003T074927Z.json"          # 39 papers, listing date 2025-10-03
DROPPED_DATE = "2025-10-03"
CONCURRENT_DROP = "2024-05-27_captured-20240601T170721Z.json"
NEXT_DROP = DEMO / "2025-10-20_captured-20251020T074936Z.json"  # a real day, dropped once DROPPED's run ended
# Three consecutive listing dates, each answered with a real fixture body (older bodies first).
BACKFILL = {
    "2025-10-01": "2024-06-12_captured-20240613T035001Z.json",
    "2025-10-02": "2025-03-17_captured-20250317T074930Z.json",
    "2025-10-03": "2025-10-03_captured-20251003T074927Z.json",
}
SINGLE_FETCH = ("2025-09-30", "2025-09-30_captured-20250930T074947Z.json")
SERVED = {**BACKFILL, SINGLE_FETCH[0]: SINGLE_FETCH[1]}
DRIP_DATE = "2025-09-29"  # answered one byte every DRIP_SECONDS, for longer than the fetch deadline
DRIP_SECONDS = 5.0
FETCH_DEADLINE_SECONDS = 60  # PAPERS_API_DEADLINE_SECONDS of this dagster dev
KILLED_DROP = "2025-01-22_captured-20250122T061527Z.json"
AFTER_KILL_DROP = "2025-03-17_captured-20250317T074930Z.json"
WHILE_DRIPPING_DROP = "2024-06-12_captured-20240612T170641Z.json"

RUN_TIMEOUT = 300.0
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def fixture_body(name: str | Path) -> list[dict]:
    """The rows of a fixture of DAILY (by name), or of the file ``name``."""
    return json.loads((DAILY / name).read_text())


def arxiv_ids(name: str | Path) -> set[str]:
    return {row["paper"]["id"] for row in fixture_body(name)}


# ------------------------------------------------------------------------------------------------
# fixtures: the local API and the one dagster dev of this module
# ------------------------------------------------------------------------------------------------


class ReplayedApi:
    """/api/daily_papers?date=D&limit=100&p=N: a fixture body on page 0, then an empty page."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0)
        self.log: list[tuple[str, int]] = []  # (date, page) of every request
        self._lock = threading.Lock()

    def handler(self, request):
        day, page = request.args.get("date", ""), int(request.args.get("p", 0))
        with self._lock:
            self.log.append((day, page))
        if day == DRIP_DATE:
            def drip():
                for byte in b"[" + b" " * 40 + b"]":
                    time.sleep(DRIP_SECONDS)
                    yield bytes([byte])
            return Response(drip(), status=200, content_type="application/json")
        body = fixture_body(SERVED[day]) if day in SERVED and page == 0 else []
        return Response(json.dumps(body), status=200, content_type="application/json")

    def requests_for(self, day: str, page: int = 0) -> int:
        with self._lock:
            return sum(1 for d, p in self.log if d == day and p == page)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")


@pytest.fixture(scope="module")
def api():
    replayed = ReplayedApi()
    replayed.server.expect_request("/api/daily_papers").respond_with_handler(replayed.handler)
    replayed.server.start()
    try:
        yield replayed
    finally:
        replayed.server.clear()
        replayed.server.stop()


@pytest.fixture(scope="module")
def dev(tmp_path_factory, api):
    root = tmp_path_factory.mktemp("dagster_dev_e2e")
    with running_dagster_dev(root / "papers_home", root / "dagster_home",
                             {"PAPERS_API_BASE_URL": api.base_url,
                              "PAPERS_API_DEADLINE_SECONDS": str(FETCH_DEADLINE_SECONDS)}) as running:
        yield running


@pytest.fixture
def on_failure_dump(dev, request):
    """Print the dagster dev log tail after a failed test (pytest shows it with the failure)."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(dev.log_tail(120))


# ------------------------------------------------------------------------------------------------
# GraphQL helpers
# ------------------------------------------------------------------------------------------------

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status creationTime startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""

TERMINATE_RUN = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId launchedRunIds }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status numPartitions partitionNames error { message } }
    ... on Error { message }
  }
}
"""

STEP_STATS = """
query Steps($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { stepStats { runId stepKey status startTime endTime } }
  }
}
"""



def writes_warehouse(step_key: str) -> bool:
    """Every step of the jobs is in the duckdb_warehouse pool but the freshness check (reads Dagster
    only) and the API fetch (network only: api/listing_fetches)."""
    return not step_key.startswith(("freshness_check", "api__listing_fetches"))

RUN_LOGS = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}
"""


def runs(dev: DagsterDev, **filter_) -> list[dict]:
    data = dev.graphql(RUNS_QUERY, {"filter": filter_})["runsOrError"]
    assert data["__typename"] == "Runs", data
    for run in data["results"]:
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
    return data["results"]


def launch_run(dev: DagsterDev, job: str, tags: dict[str, str] | None = None) -> str:
    result = dev.graphql(LAUNCH_RUN, {"executionParams": {
        "selector": dev.job_selector(job),
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", f"launchRun {job} failed: {result}"
    return result["run"]["runId"]


def wait_for(what: str, probe, dev: DagsterDev, timeout: float = RUN_TIMEOUT, every: float = 1.0):
    """Poll ``probe()`` until it returns something truthy; fail with the dagster dev log tail."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if dev.process.poll() is not None:
            pytest.fail(f"dagster dev exited ({dev.process.returncode}) while waiting for {what}\n{dev.log_tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{dev.log_tail()}")
        time.sleep(every)


def wait_for_runs_done(dev: DagsterDev, run_ids: list[str], timeout: float = RUN_TIMEOUT) -> dict[str, dict]:
    def done():
        found = {r["runId"]: r for r in runs(dev, runIds=run_ids)}
        return found if len(found) == len(run_ids) and all(r["status"] in TERMINAL for r in found.values()) \
            else None
    return wait_for(f"runs {run_ids} to finish", done, dev, timeout)


def step_stats(dev: DagsterDev, run_id: str) -> list[dict]:
    data = dev.graphql(STEP_STATS, {"runId": run_id})["runOrError"]
    assert data["__typename"] == "Run", data
    return data["stepStats"]


def run_messages(dev: DagsterDev, run_id: str) -> list[str]:
    data = dev.graphql(RUN_LOGS, {"runId": run_id})["logsForRun"]
    return [e.get("message") or "" for e in data.get("events", [])]


def failure_details(dev: DagsterDev, run: dict) -> str:
    errors = [m for m in run_messages(dev, run["runId"]) if "rror" in m or "FAIL" in m or "ailed" in m]
    return f"run {run['runId']} ({run['jobName']}) ended {run['status']}:\n" + "\n".join(errors[-15:])


def assert_succeeded(dev: DagsterDev, found: dict[str, dict]) -> None:
    failed = [r for r in found.values() if r["status"] != "SUCCESS"]
    assert not failed, "\n\n".join(failure_details(dev, r) for r in failed) + "\n" + dev.log_tail()


# ------------------------------------------------------------------------------------------------
# published/ and landing
# ------------------------------------------------------------------------------------------------


def published_query(home: Path, sql: str, params: list | None = None) -> list[tuple] | None:
    """Query published/warehouse.duckdb read-only; None while nothing is published yet."""
    path = home / "published" / "warehouse.duckdb"
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None  # the symlink moved between exists() and open: look again
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def papers_published(home: Path, listing_date: str, ids: set[str]) -> int:
    rows = published_query(
        home,
        "select count(distinct paper_id) from marts.paper_observations "
        "where listing_date = ?::date and paper_id in (select unnest(?::varchar[]))",
        [listing_date, sorted(ids)],
    )
    return rows[0][0] if rows else 0


def drop_into_landing(landing: Path, name: str | Path) -> float:
    """Copy a fixture of DAILY (or the file ``name``) as ``<name>.part``, then rename it into place;
    return the rename time."""
    landing.mkdir(parents=True, exist_ok=True)
    source = DAILY / name
    partial = landing / f"{source.name}.part"
    shutil.copyfile(source, partial)
    os.rename(partial, landing / source.name)
    return time.monotonic()


def sensor_runs_for(dev: DagsterDev, listing_date: str) -> list[dict]:
    return [r for r in runs(dev, pipelineName="ingest_landing")
            if r["tags"].get("papers/listing_dates", "").startswith(listing_date)]


# ------------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------------


def drop_and_wait(dev: DagsterDev, name: str | Path) -> dict:
    """Drop a fixture of DAILY (or the file ``name``) into landing; wait until published/ serves its
    papers. The latency in s, and where it went: the sensor's tick, the queue and the run worker's
    start, the run itself."""
    ids, day = arxiv_ids(name), Path(name).name[:10]
    dropped_at = drop_into_landing(dev.papers_home / "landing", name)
    dropped_wall = time.time() - (time.monotonic() - dropped_at)
    wait_for(f"published/ to contain the {len(ids)} papers of {name}",
             lambda: papers_published(dev.papers_home, day, ids) == len(ids),
             dev, timeout=RUN_TIMEOUT, every=0.5)
    latency = time.monotonic() - dropped_at
    published = json.loads((dev.papers_home / "published" / "manifest.json").read_text())["run_id"]
    run = sensor_runs_for(dev, day)[0]
    parts = {"drop to run requested": run["creationTime"] - dropped_wall,
             "queued and launched": (run["startTime"] or run["creationTime"]) - run["creationTime"],
             "run start to published": dropped_wall + latency - (run["startTime"] or run["creationTime"])}
    return {"latency": latency, "ids": ids, "parts": parts, "run_id": run["runId"], "published_by": published}


@pytest.fixture(scope="module")
def first_drop(dev):
    """DROPPED dropped into landing as `dagster dev` starts (its run may wait for the fork server, and
    builds every model), then, once that run ended, NEXT_DROP: the everyday case, one more file onto a
    built warehouse."""
    first = drop_and_wait(dev, DROPPED)
    assert len(first["ids"]) == 39
    assert_succeeded(dev, wait_for_runs_done(dev, [first["run_id"]], timeout=120))
    return {**first, "next": drop_and_wait(dev, NEXT_DROP)}


def test_dropped_file_reaches_published(dev, first_drop, record_property, capsys, on_failure_dump):
    latency, after = first_drop["latency"], first_drop["next"]
    record_property("drop_to_published_seconds", round(after["latency"], 1))
    record_property("first_drop_to_published_seconds", round(latency, 1))
    with capsys.disabled():
        for what, drop in (("first file after the start", first_drop), ("next file", after)):
            print(f"\n[dagster dev e2e] drop-to-published latency, {what}: {drop['latency']:.1f} s ("
                  + ", ".join(f"{k} {v:.1f} s" for k, v in drop["parts"].items()) + ")")

    home = dev.papers_home
    ids = first_drop["ids"]
    # every paper of the snapshot is a public paper, and the file went through exactly one sensor run
    assert published_query(home, "select count(*) from marts.papers where paper_id in "
                                 "(select unnest(?::varchar[]))", [sorted(ids)])[0][0] == 39
    assert (home / "archive" / DROPPED).exists(), sorted(p.name for p in home.rglob("*") if p.is_file())[:50]
    assert not (home / "landing" / DROPPED).exists()
    sensor_runs = sensor_runs_for(dev, DROPPED_DATE)
    assert len(sensor_runs) == 1, sensor_runs
    # published/ is swapped in by the publish step; the run still has its freshness check to do
    finished = wait_for_runs_done(dev, [sensor_runs[0]["runId"]], timeout=120)
    assert_succeeded(dev, finished)
    assert sensor_runs[0]["tags"].get("dagster/sensor_name") == "landing_sensor"
    assert first_drop["published_by"] == sensor_runs[0]["runId"]
    assert latency < RUN_TIMEOUT
    # the next file went through its own sensor run, which published it
    next_runs = sensor_runs_for(dev, NEXT_DROP.name[:10])
    assert [r["runId"] for r in next_runs] == [after["run_id"]] == [after["published_by"]], next_runs
    assert_succeeded(dev, wait_for_runs_done(dev, [after["run_id"]], timeout=120))
    assert (home / "archive" / NEXT_DROP.name).exists()


def test_backfill_of_three_dates_is_one_run(dev, api, first_drop, on_failure_dump):
    dates = sorted(BACKFILL)
    result = dev.graphql(LAUNCH_BACKFILL, {"backfillParams": {
        # what the asset graph's "Materialize" -> partition range dialog sends for an asset backfill
        "selector": None,
        "assetSelection": [{"path": ["raw", "api_fetched_papers"]}],
        "partitionNames": dates,
        "fromFailure": False,
        "tags": [],
    }})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    backfill_id = result["backfillId"]

    def backfill_finished():
        data = dev.graphql(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
        assert data["__typename"] == "PartitionBackfill", data
        return data if data["status"] in {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED",
                                          "FAILED", "CANCELED"} else None

    backfill = wait_for(f"backfill {backfill_id} to complete", backfill_finished, dev, every=0.5)
    launched = runs(dev, tags=[{"key": "dagster/backfill", "value": backfill_id}])
    assert len(launched) == 1, f"expected ONE run for the 3-date backfill, got {len(launched)}: {launched}"
    run = launched[0]
    assert run["status"] == "SUCCESS", failure_details(dev, run)
    assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, backfill
    assert sorted(backfill["partitionNames"]) == dates
    assert run["tags"].get("dagster/asset_partition_range_start") == dates[0], run["tags"]
    assert run["tags"].get("dagster/asset_partition_range_end") == dates[-1], run["tags"]
    # each date fetched once (page 0 with the body; page 1 empty ends paging)
    assert {d: api.requests_for(d, 0) for d in dates} == {d: 1 for d in dates}, api.log
    messages = "\n".join(run_messages(dev, run["runId"]))
    for day in dates:
        assert f"{day}: loaded, {len(fixture_body(BACKFILL[day]))} rows" in messages, messages[-3000:]
    # the backfill touched only the raw asset: the automation sensor rebuilds marts and publishes
    for day in ("2025-10-01", "2025-10-02"):
        ids = arxiv_ids(BACKFILL[day])
        wait_for(f"published/ to serve the backfilled {day}", lambda: papers_published(
            dev.papers_home, day, ids) == len(ids), dev, timeout=240, every=0.5)


def test_concurrent_triggers_all_succeed(dev, api, first_drop, on_failure_dump):
    started = time.time()
    # the drop first: the sensor's run is queued before the two launched runs, which may take only
    # seconds (a build with nothing new) and must not end before the sensor's tick queued its run
    drop_into_landing(dev.papers_home / "landing", CONCURRENT_DROP)
    sensor_run = wait_for("the landing sensor's run for the concurrent drop",
                          lambda: sensor_runs_for(dev, CONCURRENT_DROP[:10]), dev, timeout=120, every=0.2)
    assert len(sensor_run) == 1, sensor_run
    build = launch_run(dev, "build_marts", {"papers/test": "concurrent"})
    fetch = launch_run(dev, "fetch_api", {"dagster/partition": SINGLE_FETCH[0], "papers/test": "concurrent"})
    ids = [build, fetch, sensor_run[0]["runId"]]

    found = wait_for_runs_done(dev, ids)
    assert_succeeded(dev, found)
    # the three were in flight together: every one was queued before any of them had finished ...
    assert all(r["creationTime"] >= started - 1 for r in found.values()), found
    last_queued = max(r["creationTime"] for r in found.values())
    first_end = min(r["endTime"] for r in found.values())
    assert last_queued < first_end, found
    # ... yet no two warehouse writers ever ran at once: the duckdb_warehouse pool (limit 1) queued
    # them (runs wait in the queue while the pool is taken; started runs' steps wait for a slot)
    spans = sorted((s["startTime"], s["endTime"], s["runId"][:8], s["stepKey"])
                   for rid in ids for s in step_stats(dev, rid)
                   # a step skipped (nothing new for it: no start time) wrote nothing
                   if writes_warehouse(s["stepKey"]) and s["startTime"] is not None)
    assert {rid[:8] for *_, rid, _ in spans} == {rid[:8] for rid in ids}, spans
    clashes = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    assert not clashes, f"pooled steps of different runs overlapped: {clashes}"
    # the last publish saw every writer's data
    assert papers_published(dev.papers_home, CONCURRENT_DROP[:10], arxiv_ids(CONCURRENT_DROP)) \
        == len(arxiv_ids(CONCURRENT_DROP))
    assert papers_published(dev.papers_home, SINGLE_FETCH[0], arxiv_ids(SINGLE_FETCH[1])) \
        == len(arxiv_ids(SINGLE_FETCH[1]))
    assert api.requests_for(SINGLE_FETCH[0], 0) == 1


def run_worker_pids(dev: DagsterDev, run_id: str) -> list[int]:
    """The live process of this dagster dev executing ``run_id`` (the run's log names its pid)."""
    pids = {int(m) for message in run_messages(dev, run_id)
            for m in re.findall(r"Executing steps in process \(pid: (\d+)\)", message)}
    return [pid for pid, _, session in live_processes() if pid in pids and session == dev.process.pid]


def test_a_bad_day_heals_itself(dev, api, first_drop, on_failure_dump, record_property):
    """While the API drips one byte at a time, a run worker is killed (kill -9) and a loaded file is
    dropped again: the dead run's writer slot is freed, a new file is published within 2 minutes,
    the re-dropped file ends duplicate, the dripping date fails at its deadline, nothing is lost."""
    landing = dev.papers_home / "landing"
    fetch = launch_run(dev, "fetch_api", {"dagster/partition": DRIP_DATE})
    wait_for("the API to be asked for the dripping date", lambda: api.requests_for(DRIP_DATE) >= 1, dev,
             timeout=120, every=0.5)
    asked_at = time.monotonic()

    drop_into_landing(landing, KILLED_DROP)
    victim = wait_for("the sensor run of the file to be killed", lambda: [
        (r, pids) for r in sensor_runs_for(dev, KILLED_DROP[:10])
        if r["status"] == "STARTED" and (pids := run_worker_pids(dev, r["runId"]))], dev, timeout=120, every=0.2)
    run, pids = victim[0]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)  # kill -9 of the run worker, as the OOM killer would
    killed_at = time.monotonic()
    found = wait_for_runs_done(dev, [run["runId"]], timeout=120)
    assert found[run["runId"]]["status"] == "FAILURE"

    # a new file, and the same bytes as an already loaded one, dropped after the kill
    def runs_with(day: str) -> set[str]:
        return {r["runId"] for r in runs(dev, pipelineName="ingest_landing")
                if day in r["tags"].get("papers/listing_dates", "")}

    before = runs_with(DROPPED_DATE)
    drop_into_landing(landing, DROPPED)
    drop_into_landing(landing, AFTER_KILL_DROP)
    ids = arxiv_ids(AFTER_KILL_DROP)
    wait_for(f"published/ to serve {AFTER_KILL_DROP} after the kill", lambda: papers_published(
        dev.papers_home, AFTER_KILL_DROP[:10], ids) == len(ids), dev, timeout=120, every=1.0)
    record_property("kill_to_new_file_published_seconds", round(time.monotonic() - killed_at, 1))
    assert time.monotonic() - killed_at < 120 + 5

    # the killed run's own file is not lost: its retry loads it
    killed_ids = arxiv_ids(KILLED_DROP)
    wait_for(f"published/ to serve {KILLED_DROP}", lambda: papers_published(
        dev.papers_home, KILLED_DROP[:10], killed_ids) == len(killed_ids), dev, timeout=180, every=1.0)
    # the re-dropped file went through a run of its own request and ended duplicate
    redrop_runs = sorted(runs_with(DROPPED_DATE) - before)
    assert redrop_runs, "the re-dropped file was never requested"
    done = wait_for_runs_done(dev, redrop_runs)
    messages = "\n".join(m for r in done for m in run_messages(dev, r))
    assert " 1 duplicate, 0 rejected" in messages, messages[-2000:]
    for name in (KILLED_DROP, AFTER_KILL_DROP, DROPPED):
        assert not (landing / name).exists() and not (dev.papers_home / "quarantine" / name).exists()

    # the dripping date failed at its deadline, and never held the writer: landing runs went on; a
    # fetch run that got no date fails (marts untouched), naming the cause, and is not run again
    found = wait_for_runs_done(dev, [fetch], timeout=FETCH_DEADLINE_SECONDS + 180)
    assert found[fetch]["status"] == "FAILURE"
    assert found[fetch]["tags"]["papers/not_fetched"] == "1"
    messages = "\n".join(run_messages(dev, fetch))
    assert f"api: {DRIP_DATE} not fetched: the body did not arrive within the {FETCH_DEADLINE_SECONDS} s deadline" \
        in messages, messages[-3000:]
    assert f"{DRIP_DATE}: quarantined, 0 rows" in messages
    # (the step's error, "no listing date could be fetched (1 asked for): …", is its failure event's error, not a message)
    assert "api: 1 listing date(s): 0 loaded, 0 duplicate, 0 quarantined, 1 not fetched" in messages
    assert not [r for r in runs(dev, pipelineName="fetch_api") if r["tags"].get("dagster/parent_run_id") == fetch]
    fetch_step = [s for s in step_stats(dev, fetch) if s["stepKey"] == "api__listing_fetches"][0]
    assert fetch_step["endTime"] - fetch_step["startTime"] < FETCH_DEADLINE_SECONDS + 15
    # a landing step took the writer while the fetch step was waiting on the API (the killed run's,
    # launched right after the first request; whether a later one also fits in the window depends
    # on the machine's load)
    landed_while_fetching = [s for r in runs(dev, pipelineName="ingest_landing") for s in step_stats(dev, r["runId"])
                             if s["stepKey"] == "landing_raw" and s["startTime"]
                             and fetch_step["startTime"] < s["startTime"] < fetch_step["endTime"]]
    assert landed_while_fetching, "no landing step started while the API was dripping"
    assert time.monotonic() - asked_at < 41 * DRIP_SECONDS


def test_a_run_terminated_from_the_ui_is_canceled_and_its_worker_ends(dev, api, first_drop, on_failure_dump):
    """Terminate (the run page's button) while the run's step waits on the dripping API: the
    launcher sends its worker SIGINT, the run ends CANCELED and its worker process is gone."""
    asked = api.requests_for(DRIP_DATE)
    run_id = launch_run(dev, "fetch_api", {"dagster/partition": DRIP_DATE})
    wait_for("the run to ask the API for the dripping date", lambda: api.requests_for(DRIP_DATE) > asked, dev,
             timeout=120, every=0.5)
    assert run_worker_pids(dev, run_id)
    result = dev.graphql(TERMINATE_RUN, {"runId": run_id})["terminateRun"]
    assert result["__typename"] == "TerminateRunSuccess", result
    found = wait_for_runs_done(dev, [run_id], timeout=60)
    assert found[run_id]["status"] == "CANCELED", failure_details(dev, found[run_id])
    wait_for("the terminated run's worker to exit", lambda: not run_worker_pids(dev, run_id), dev, timeout=30)
