"""Shared fixtures: the real pipeline run once per test session on all shared fixtures.

`fixtures_ingest` runs `papers ingest` of the 13 shared fixture files into an empty PAPERS_HOME, then
the same command again, and records what each run printed and the table counts after each.
`fixtures_warehouse` is the resulting DuckDB file (marts built), for tests that only read it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from tests.pipeline_runs import API_FIXTURES, FIXTURES, REPO, TEXT_FIXTURES, query, run_papers

COUNTED_TABLES = [
    "raw.landed_api_papers", "raw.landed_page_cards", "marts.papers", "marts.paper_observations",
    "marts.authors_count", "marts.authors_daily", "marts.authors", "marts.paper_topics",
    "marts.topics_daily",
]


def run_id_of(output: str) -> str | None:
    found = re.findall(r"\(run ([0-9a-f-]{36})[;)]", output)
    return found[-1] if found else None


def table_counts(warehouse) -> dict[str, int]:
    return {t: query(warehouse, f"select count(*) from {t}")[0][0] for t in COUNTED_TABLES}


def pytest_configure(config):
    """In every process of the session: SIGINT gets Python's handler if it came in ignored (a suite
    started in the background, ``cmd &``). Dagster gives SIGTERM SIGINT's disposition after each run
    in a main thread, so SIGTERM would be ignored too, and so would it be by every process started
    from here: the compute-log ``tail`` of a run in another thread (Dagster waits 30 s for each to
    stop) and the `dagster dev` services (each stop would wait for its SIGKILL).

    Before the workers start: parse the dbt project once (each worker would otherwise race to
    write dbt_project/target/manifest.json when it is stale). The processes of the session read the
    bytecode `make setup` compiled into the venv."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if not hasattr(config, "workerinput"):
        from orchestration.dbt_state import ensure_manifest

        ensure_manifest()


#: the markers of the longest modules: they start first (`--no-loadscope-reorder` keeps the collection
#: order), so the short modules fill in at the end and the two xdist workers finish together
LONG_FIRST = ("dagster_dev", "pipeline", "browser")


#: the fixtures that run the pipeline (dbt builds a warehouse): a test that uses one, directly or
#: through another fixture, is a `pipeline` test (`make test`, not `make check`)
PIPELINE_FIXTURES = frozenset({"fixtures_ingest", "fixtures_warehouse", "demo_home"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pipeline)

    def tier(item):
        return next((i for i, name in enumerate(LONG_FIRST) if item.get_closest_marker(name)), len(LONG_FIRST))

    items.sort(key=tier)  # stable: files and tests keep their order within a tier


def built_once(tmp_path_factory, name: str, build) -> Path:
    """``<session temp>/<name>``, made by ``build(folder)`` once per test session.

    The xdist workers share the session's temp folder: the first to ask builds under a file lock, the
    others wait for it and reuse the result (a ``.done`` marker says it is complete; a failed build
    leaves none, so the next one to ask builds again)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # basetemp is <session>/popen-gwN: share <session>
        shared = shared.parent
    folder, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                build(folder)
                done.touch()
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return folder


def ingest_fixtures_twice(home: Path) -> None:
    """`papers ingest` of the 13 shared fixture files, then again; what each printed and the state
    after each go to ``home/runs.json``."""
    files = [str(p) for p in API_FIXTURES + TEXT_FIXTURES]
    runs = {}
    for name in ("first", "second"):
        code, output = run_papers(home, "ingest", *files)
        runs[name] = {"code": code, "output": output, "run_id": run_id_of(output)}
        assert code == 0, output
        runs[f"tables_after_{name}"] = table_counts(home / "warehouse.duckdb")
        runs[f"files_after_{name}"] = {folder: sorted(p.name for p in (home / folder).iterdir())
                                       for folder in ("landing", "archive", "quarantine")}
    (home / "runs.json").write_text(json.dumps(runs))


@pytest.fixture(scope="session")
def fixtures_ingest(tmp_path_factory):
    """The two `papers ingest` runs of the shared fixtures (built once per session: read only)."""
    home = built_once(tmp_path_factory, "fixtures_home", ingest_fixtures_twice)
    runs = json.loads((home / "runs.json").read_text())
    return {"home": home, "warehouse": home / "warehouse.duckdb", **runs}


@pytest.fixture(scope="session")
def fixtures_warehouse(fixtures_ingest):
    return fixtures_ingest["warehouse"]


#: the real month the dashboard, README, digest and publish-description tests read (in place)
DEMO = REPO.parent / "shared" / "demo" / "daily_papers_2025-10"
#: one malformed fixture landed with it, so the quality record holds a quarantined file
DEMO_BAD_FILE = FIXTURES / "daily_papers" / "2024-06-01_captured-20240601T165731Z.json"


def ingest_demo(home: Path) -> None:
    code, output = run_papers(home, "ingest", *map(str, sorted(DEMO.glob("*.json"))), str(DEMO_BAD_FILE))
    assert code == 0, output


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """PAPERS_HOME after `papers ingest` of the demo month (+ one malformed file), published.

    Built once per test session (`built_once`). Tests must not write to it (copy it: `copy_home`)."""
    return built_once(tmp_path_factory, "demo_home", ingest_demo)


def copy_home(home, dest):
    """A private copy of a PAPERS_HOME (warehouse, releases, the `published` link) to publish into."""
    shutil.copytree(home, dest, symlinks=True, ignore=shutil.ignore_patterns("*.lock", "dagster"))
    for path in dest.rglob("*"):  # releases are read-only: the copy must be removable by pytest
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    return dest
