"""The systemd units of deploy/ run the service: their exact command lines (paths moved under a
temporary folder, the webserver on a free loopback port) start `dagster-daemon` and
`dagster-webserver`; a file dropped into landing is run by the sensor up to a published release.

What the units assume was installed is done the way deploy/README.md says: the repository with its
.venv (this checkout), /etc/papers/papers.toml (deploy/papers.toml plus offline test settings), and
DAGSTER_HOME holding the repository's dagster.yaml.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.dagster_dev import (DEAD_API_URL, DagsterDev, free_port, log_tail, stop_process_session,
                               wait_until_ready)
from tests.pipeline_runs import REPO, SAMPLE_FILES, query

pytestmark = pytest.mark.dagster_dev

INSTALLED = "/opt/daily-papers-warehouse"
PUBLISH_TIMEOUT_SECONDS = 900.0


def unit(name: str) -> dict[str, list[str]]:
    """The [Service] section of ``deploy/<name>``: every key with all its values, in order."""
    parser = configparser.RawConfigParser(strict=False, dict_type=_MultiDict, empty_lines_in_values=False)
    parser.optionxform = str
    parser.read(REPO / "deploy" / name)
    return {key: value.split("\n") for key, value in parser["Service"].items()}


class _MultiDict(dict):
    """Repeated keys (Environment=, ExecStartPre=) keep every value (joined by newlines)."""

    def __setitem__(self, key, value):
        if key in self and isinstance(value, list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def localize(text: str, root: Path, port: int) -> str:
    return (text.replace(INSTALLED, str(REPO)).replace("/var/lib/papers", str(root / "var"))
            .replace("/etc/papers", str(root / "etc")).replace("-p 3000", f"-p {port}"))


def service_env(service: dict[str, list[str]], root: Path, port: int) -> dict[str, str]:
    # what systemd gives a service: little beyond the unit's Environment= lines
    env = {k: os.environ[k] for k in ("PATH", "LANG", "HOME", "TMPDIR") if k in os.environ}
    for line in service.get("Environment", []):
        key, _, value = localize(line, root, port).partition("=")
        env[key] = value
    return env


def test_the_units_run_a_dropped_file_to_a_published_release(tmp_path):
    root = tmp_path
    port = free_port()
    daemon, webserver = unit("papers-dagster-daemon.service"), unit("papers-dagster-webserver.service")
    assert daemon["WorkingDirectory"] == webserver["WorkingDirectory"] == [INSTALLED]
    # installed as deploy/README.md says
    config = root / "etc" / "papers.toml"
    config.parent.mkdir(parents=True)
    config.write_text(localize((REPO / "deploy" / "papers.toml").read_text(), root, port)
                      + f'api_base_url = "{DEAD_API_URL}"\nsensor_interval_seconds = 1\n'
                        "landing_settle_seconds = 1\nrefetch_enabled = false\n")
    env = service_env(daemon, root, port)
    assert service_env(webserver, root, port) == env
    dagster_home = Path(env["DAGSTER_HOME"])
    dagster_home.mkdir(parents=True)
    shutil.copyfile(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    home = root / "var" / "home"

    for command in daemon["ExecStartPre"]:
        done = subprocess.run(shlex.split(localize(command, root, port)), cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert (home / "landing").is_dir()  # `papers init` of the unit made the home from the config file

    processes = []
    try:
        for name, service in (("daemon", daemon), ("webserver", webserver)):
            [command] = service["ExecStart"]
            with open(root / f"{name}.log", "wb") as log:
                processes.append(subprocess.Popen(shlex.split(localize(command, root, port)), cwd=REPO, env=env,
                                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True))
        dev = DagsterDev(url=f"http://127.0.0.1:{port}", process=processes[1], log_path=root / "webserver.log",
                         papers_home=home, dagster_home=dagster_home, env=env)

        # the daemon's sensor needs no webserver: the file is dropped while the webserver starts
        sample = SAMPLE_FILES[0]
        partial = home / "landing" / f"{sample.name}.part"
        shutil.copyfile(sample, partial)
        os.rename(partial, home / "landing" / sample.name)
        deadline = time.monotonic() + PUBLISH_TIMEOUT_SECONDS
        while not (home / "published" / "manifest.json").exists():
            for name, process in zip(("daemon", "webserver"), processes):
                assert process.poll() is None, f"{name} exited\n" + log_tail(root / f"{name}.log")
            assert time.monotonic() < deadline, "nothing published within the bound\n" + log_tail(root / "daemon.log")
            time.sleep(1)
        published = query(home / "published" / "warehouse.duckdb", "select count(*) from marts.papers")[0][0]
        assert published == len({r["paper"]["id"] for r in json.loads(sample.read_text())})
        assert (home / "archive" / sample.name).exists()
        # the sensor's run, recorded in the persistent instance (SQLite under DAGSTER_HOME)
        # (the release is swapped in before the run records its end: wait for that, within a bound)
        wait_until_ready(dev)
        query_runs = "{ runsOrError { ... on Runs { results { jobName status } } } }"
        runs = dev.graphql(query_runs)["runsOrError"]["results"]
        while {"jobName": "ingest_landing", "status": "STARTED"} in runs and time.monotonic() < deadline:
            time.sleep(1)
            runs = dev.graphql(query_runs)["runsOrError"]["results"]
        assert {"jobName": "ingest_landing", "status": "SUCCESS"} in runs, runs
        assert (dagster_home / "history" / "runs.db").is_file()
    finally:
        for process in processes:
            stop_process_session(process)
