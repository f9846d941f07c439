"""Every command of the README's ```sh blocks, as written, run here or by the test named for it.

The `papers` commands run in order through a shell from the repository (so `../shared/...` globs
expand as for a reader) against a fresh home and a real HTTP server on 127.0.0.1 replaying the
demo month; the Python one-liner runs where `data/` is a published demo home. Each output is
checked for its shape: the summary lines a reader is told to expect.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from werkzeug import Response

from tests.pipeline_runs import API_FIXTURES, REPO, TEXT_FIXTURES

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

DEMO = REPO.parent / "shared" / "demo" / "daily_papers_2025-10"

#: the README's `make` lines are the Makefile's targets; what each does is checked by these tests
MAKE_TARGETS = {
    "make run": "tests/cli/test_cli_output.py (the same `papers run` of the sample; its output is the README's, line for line)",
    "make test": ".ci/run (CI runs exactly this)",
    "make dashboard": "tests/dashboard/test_dashboard_browser.py",
    "make ui": "tests/cli/test_cli_usage.py::test_make_ui_creates_the_home_before_it_starts, tests/e2e/test_ui_browser.py",
}


def readme_commands() -> list[str]:
    """Each command line of the README's ```sh blocks, without its trailing comment."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S):
        for line in block.splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command:
                commands.append(command)
    return commands


def test_every_readme_command_is_run_by_a_test():
    commands = readme_commands()
    papers = [c for c in commands if c.startswith(".venv/bin/papers ")]
    python = [c for c in commands if c.startswith(".venv/bin/python ")]
    makes = [c for c in commands if c.startswith("make ")]
    assert sorted(set(commands)) == sorted(set(papers + python + makes)), "a README command no test runs"
    assert set(makes) <= set(MAKE_TARGETS), set(makes) - set(MAKE_TARGETS)
    assert papers and python
    for command in makes:  # each is a real target (a dry run prints what it would do)
        done = subprocess.run(["make", "-n", command.split()[1]], cwd=REPO, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0 and done.stdout.strip(), (command, done.stderr)


@pytest.fixture
def replayed_api(httpserver):
    """/api/daily_papers answering each demo date with its captured body (other dates: an empty list)."""
    bodies = {path.name[:10]: path.read_text() for path in sorted(DEMO.glob("*.json"))}

    def handler(request):
        page = int(request.args.get("p", 0))
        body = bodies.get(request.args["date"], "[]") if page == 0 else "[]"
        return Response(body, status=200, content_type="application/json")

    httpserver.expect_request("/api/daily_papers").respond_with_handler(handler)
    return httpserver.url_for("/").rstrip("/"), bodies


def run(command: str, env: dict[str, str], cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_the_readme_papers_commands(tmp_path, replayed_api):
    base_url, bodies = replayed_api
    home = tmp_path / "home"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PAPERS_", "DAGSTER_HOME"))},
           "PAPERS_HOME": str(home), "PAPERS_API_BASE_URL": base_url}
    ingest, backfill, status = [c for c in readme_commands() if c.startswith(".venv/bin/papers ")]

    done = run(ingest, env)
    lines = done.stdout.splitlines()
    # the fixtures hold malformed snapshots on purpose: they are quarantined, the run still succeeds
    assert done.returncode == 0, done.stdout + done.stderr
    files = len(API_FIXTURES) + len(TEXT_FIXTURES)
    counts = re.search(r"^files:\s+(\d+) loaded, (\d+) duplicate, (\d+) quarantined$", done.stdout, flags=re.M)
    assert counts and sum(map(int, counts.groups())) == files, done.stdout
    assert int(counts[3]) >= 1 and "  quarantined " in done.stdout
    assert re.search(r"^validation: \d+/\d+ suites passed", done.stdout, flags=re.M)
    assert lines[-2].startswith("result:     ok, ") and "quarantined" in lines[-2]

    done = run(backfill, env)
    assert done.returncode == 0, done.stdout + done.stderr
    served = [day for day in bodies if "2025-10-01" <= day <= "2025-10-07"]
    counts = re.search(r"^fetches:\s+(\d+) loaded, (\d+) duplicate, (\d+) quarantined, (\d+) not fetched$",
                       done.stdout, flags=re.M)
    assert counts, done.stdout
    # seven dates asked for: the demo's dates among them load (or are duplicates of what the
    # fixtures already held), the others answer an empty listing
    assert sum(map(int, counts.groups())) == 7 and int(counts[4]) == 0, done.stdout
    assert int(counts[1]) + int(counts[2]) >= len(served), done.stdout
    assert done.stdout.splitlines()[-2] == "result:     ok"

    done = run(status, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"warehouse: {home / 'warehouse.duckdb'}\n")
    assert re.search(r"^  api\s+loaded\s+\d+ file\(s\)", done.stdout, flags=re.M), done.stdout
    assert re.search(r"^marts\.papers: \d+ papers$", done.stdout, flags=re.M)
    assert re.search(rf"^published: {re.escape(str(home / 'published'))} -> run ", done.stdout, flags=re.M)


def test_the_readme_python_queries(tmp_path, demo_home):
    """The DuckDB file and the partitioned Parquet folder (polars) give the same top paper."""
    queries = sorted(set(c for c in readme_commands() if c.startswith(".venv/bin/python ")))
    assert len(queries) == 2 and any("duckdb.connect" in q for q in queries) and any("scan_parquet" in q for q in queries)
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / "data").symlink_to(demo_home)
    import duckdb

    with duckdb.connect(str(demo_home / "published" / "warehouse.duckdb"), read_only=True) as con:
        top = con.execute("select title from marts.papers order by upvotes desc limit 1").fetchone()[0]
    for query in queries:
        done = run(query, dict(os.environ), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        header = next(line for line in done.stdout.splitlines() if "title" in line)
        assert "upvotes" in header and top[:20] in done.stdout, (query, done.stdout)
