"""Start and stop a real `dagster dev` (webserver + daemon + code server) for end-to-end tests.

``running_dagster_dev(papers_home, dagster_home, env_extra)`` prepares DAGSTER_HOME like ``make ui``
does (the repo's dagster.yaml copied in, ``dagster instance migrate`` on the fresh sqlite storage),
starts ``.venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p <free port>`` from the repo root in
a session of its own, waits until the webserver answers and the code location is loaded, and yields
a :class:`DagsterDev` (``.url`` is the base URL). On exit the whole session — webserver, daemon, code
server and every run worker they spawned — gets SIGTERM, then SIGKILL after a timeout; survivors are
looked up by session id in /proc, so nothing started here outlives the test.

Offline: only 127.0.0.1, telemetry off, and the HF API pointed at a local URL (a dead port unless the
caller passes ``PAPERS_API_BASE_URL``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
DAGSTER = BIN / "dagster"

START_TIMEOUT_SECONDS = 180.0   # `dagster dev` answers after ~35-45 s here; loaded code location a bit later
STOP_TIMEOUT_SECONDS = 30.0

# A port nothing listens on: any accidental API call fails fast instead of reaching the internet.
DEAD_API_URL = "http://127.0.0.1:9"
# The hourly re-fetch schedule would fire a run at the top of every hour a test happens to span; a
# yearly cron keeps these tests deterministic (tests/defs/test_dagster_assets.py covers the schedule).
QUIET_REFETCH_CRON = "0 0 1 1 *"


class DagsterDevError(RuntimeError):
    pass


@dataclass
class DagsterDev:
    """A running `dagster dev`: its base URL, process, log file and code location."""

    url: str
    process: subprocess.Popen
    log_path: Path
    papers_home: Path
    dagster_home: Path
    location_name: str = ""
    repository_name: str = "__repository__"
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return self.url

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def graphql(self, query: str, variables: Mapping | None = None, timeout: float = 60.0) -> dict:
        return graphql(self.url, query, variables, timeout=timeout)

    def log_tail(self, lines: int = 80) -> str:
        return log_tail(self.log_path, lines)

    def job_selector(self, job_name: str) -> dict[str, str]:
        return {"repositoryLocationName": self.location_name, "repositoryName": self.repository_name,
                "jobName": job_name}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 80) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return f"--- last {lines} lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def graphql(url: str, query: str, variables: Mapping | None = None, timeout: float = 60.0) -> dict:
    """POST a GraphQL query to ``url`` (base URL or …/graphql); the ``data``, or raise on errors."""
    endpoint = url if url.rstrip("/").endswith("/graphql") else url.rstrip("/") + "/graphql"
    body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
    request = urllib.request.Request(endpoint, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise DagsterDevError(f"GraphQL HTTP {err.code}: {err.read()[:2000]!r}") from err
    if payload.get("errors"):
        raise DagsterDevError(f"GraphQL errors: {json.dumps(payload['errors'])[:4000]}")
    return payload["data"]


def dev_env(papers_home: Path, dagster_home: Path, env_extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PAPERS_WAREHOUSE", "DAGSTER_HOME", "PAPERS_HOME")}
    env.update({
        "PAPERS_HOME": str(papers_home),
        "DAGSTER_HOME": str(dagster_home),
        "PAPERS_API_BASE_URL": DEAD_API_URL,
        "PAPERS_SENSOR_INTERVAL_SECONDS": "1",
        "PAPERS_AUTOMATION_INTERVAL_SECONDS": "5",
        "PAPERS_LANDING_SETTLE_SECONDS": "1",
        "PAPERS_REFETCH_CRON": QUIET_REFETCH_CRON,
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(env_extra or {})
    return env


def live_processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, session id) of every live (non-zombie) process, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ... ; comm may contain spaces/parens: split after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            found.append((int(entry.name), int(fields[1]), int(fields[3])))
    return found


def _session_pids(sid: int) -> list[int]:
    """Every live process whose session id is ``sid`` (the dev process and all it spawned)."""
    return [pid for pid, _, session in live_processes() if session == sid]


def stop_process_session(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> list[int]:
    """SIGTERM the process group, wait, then SIGKILL whatever of the session is left.

    Returns the pids that needed SIGKILL (for the caller to report); raises if any survive that."""
    sid = process.pid  # start_new_session=True: the child leads its own session and group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()
        if process.returncode is not None and not _session_pids(sid):
            return []
        time.sleep(0.2)
    killed = _session_pids(sid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sid, signal.SIGKILL)
    for pid in killed:  # members that moved to a group of their own, same session
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _session_pids(sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _session_pids(sid)
    if left:
        raise DagsterDevError(f"processes of the dagster dev session {sid} survived SIGKILL: {left}")
    return killed


def prepare_dagster_home(dagster_home: Path, env: Mapping[str, str]) -> None:
    """What `make ui` does: dagster.yaml into DAGSTER_HOME, then migrate the fresh sqlite storage."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    done = subprocess.run([str(DAGSTER), "instance", "migrate"], cwd=REPO, env=dict(env),
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise DagsterDevError(f"dagster instance migrate failed ({done.returncode}):\n"
                              f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


LOCATIONS_QUERY = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name } }
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def wait_until_ready(dev: DagsterDev, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Poll /server_info, then the workspace until the code location is LOADED (or failed)."""
    deadline = time.monotonic() + timeout

    def alive() -> None:
        if dev.process.poll() is not None:
            raise DagsterDevError(f"dagster dev exited with {dev.process.returncode} while starting\n"
                                  + dev.log_tail())

    while not _http_ok(f"{dev.url}/server_info"):
        alive()
        if time.monotonic() > deadline:
            raise DagsterDevError(f"dagster dev did not answer {dev.url}/server_info within {timeout:.0f} s\n"
                                  + dev.log_tail())
        time.sleep(0.5)
    while True:
        alive()
        try:
            data = graphql(dev.url, LOCATIONS_QUERY, timeout=30)["workspaceOrError"]
        except (DagsterDevError, urllib.error.URLError, OSError):
            data = {}
        entries = data.get("locationEntries") or []
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise DagsterDevError("code location failed to load: "
                                      + json.dumps(errors[0]["locationOrLoadError"])[:4000])
            location = entries[0]
            dev.location_name = location["name"]
            dev.repository_name = location["locationOrLoadError"]["repositories"][0]["name"]
            return
        if time.monotonic() > deadline:
            raise DagsterDevError(f"code location not loaded within {timeout:.0f} s: {data}\n" + dev.log_tail())
        time.sleep(1)


@contextlib.contextmanager
def running_dagster_dev(papers_home: Path, dagster_home: Path,
                        env_extra: Mapping[str, str] | None = None,
                        start_timeout: float = START_TIMEOUT_SECONDS) -> Iterator[DagsterDev]:
    """A real `dagster dev` on 127.0.0.1:<free port> for PAPERS_HOME/DAGSTER_HOME; stopped on exit."""
    if not DAGSTER.exists():
        raise DagsterDevError(f"{DAGSTER} not found: run `make setup` first")
    papers_home, dagster_home = Path(papers_home).resolve(), Path(dagster_home).resolve()
    (papers_home / "landing").mkdir(parents=True, exist_ok=True)
    env = dev_env(papers_home, dagster_home, env_extra)
    prepare_dagster_home(dagster_home, env)
    port = free_port()
    log_path = dagster_home / "dagster-dev.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    dev = DagsterDev(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path,
                     papers_home=papers_home, dagster_home=dagster_home, env=env)
    try:
        wait_until_ready(dev, start_timeout)
        yield dev
    finally:
        stop_process_session(process)
