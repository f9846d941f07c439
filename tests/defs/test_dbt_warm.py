"""The dbt warm-up the `make ui` fork server imports: dbt has run once in the process, and nothing of it
is left behind — no project module (a worker imports the project's code from disk), no thread (a
fork would inherit it), no folder, no database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from orchestration.defs.launcher import PRELOAD

from tests.pipeline_runs import REPO

PROBE = """
import json, sys, threading
import orchestration.defs.dbt.warm
from dbt_common.dataclass_schema import dbtClassMixin
import orchestration.defs.dbt as package
print(json.dumps({
    "project_modules": sorted(n for n in sys.modules if n.split(".")[0] == "orchestration"),
    "package_attributes": sorted(n for n in vars(package) if not n.startswith("__")),
    "threads": [t.name for t in threading.enumerate()],
    "schemas_built": dbtClassMixin.json_schema.cache_info().currsize,
    "polars": "polars" in sys.modules,
}))
"""


def test_the_fork_server_warms_dbt_up():
    assert "orchestration.defs.dbt.warm" in PRELOAD
    assert PRELOAD.index("orchestration.defs.dbt.warm") > PRELOAD.index("dbt.cli.main")


def test_the_warm_up_runs_dbt_and_leaves_nothing_behind(tmp_path):
    cwd, temp = tmp_path / "cwd", tmp_path / "temp"
    cwd.mkdir()
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PAPERS_WAREHOUSE"}  # the profile's default path
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**env, "TMPDIR": str(temp), "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert "warming dbt up failed" not in done.stderr, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["schemas_built"] > 0  # dbt validated its project and profile: it ran
    # the packages the import itself needs stay: they hold no code a reloaded code location could change
    kept = ["orchestration", "orchestration.defs", "orchestration.defs.dbt"]
    assert all((REPO.joinpath(*name.split(".")) / "__init__.py").read_text().strip() == "" for name in kept)
    assert state["project_modules"] == [*kept, "orchestration.defs.dbt.warm"]
    assert state["package_attributes"] == ["warm"]
    assert state["threads"] == ["MainThread"]
    assert not state["polars"]
    assert list(temp.iterdir()) == []  # its dbt target folder is gone
    assert list(cwd.iterdir()) == [] and not (tmp_path / "data").exists()  # no warehouse was opened
