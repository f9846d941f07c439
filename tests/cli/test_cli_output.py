"""What a person sees: `papers` run as a command (a subprocess, output piped: not a terminal).

The demo month prints one line per phase and batch and a summary — at most 25 lines, no terminal
colour codes — while dbt's, Dagster's and dlt's own output goes to the home's logs; an unreachable API
names its cause within the first lines; `--json` and `--strict` serve scripts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.cli import EXIT_PIPELINE_ERROR, EXIT_QUARANTINED
from tests.pipeline_runs import API_DIR, MALFORMED, REPO, land_sample

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

PAPERS = str(Path(sys.executable).with_name("papers"))
ESC = "\x1b"


def papers(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "PAPERS_HOME")}
    return subprocess.run([PAPERS, "--home", str(home), *args], cwd=REPO, env={**environ, **env},
                          capture_output=True, text=True, timeout=900)


def assert_readme_example(lines: list[str]) -> None:
    """The Quick start's `make run` output is this run's, line for line (``…`` stands for paths,
    release names, run ids and seconds)."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("`make run` prints one line per phase", 1)[1].split("```\n", 2)[1].splitlines()
    assert len(block) == len(lines), "\n".join(lines)
    for documented, printed in zip(block, lines):
        pattern = ".*".join(map(re.escape, documented.split("…")))
        assert re.fullmatch(pattern, printed), (documented, printed)


def test_a_run_on_the_demo_month_is_short_and_plain_and_scripts_get_json(tmp_path):
    home = tmp_path / "data"  # as `make run`'s, so the README's example names the same paths
    written = land_sample(home / "landing")
    done = papers(home, "run")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    lines = output.splitlines()
    assert len(lines) <= 25, output
    assert ESC not in output
    assert done.stderr == ""
    assert lines[0] == f"papers run: {len(written)} file(s) waiting in {home / 'landing'}"
    # one line per phase and per batch, in order, then the summary
    phases = [line.split(":")[0] for line in lines[1:]]
    assert phases.index("landing") < phases.index("dbt") < phases.index("validation") < phases.index("publish")
    assert "landing: batch 1 read (22 file(s); so far 22 new, 0 duplicate, 0 rejected)" in lines
    assert f"files:      {len(written)} loaded, 0 duplicate, 0 quarantined" in lines
    assert lines[-2] == "result:     ok"
    assert_readme_example(lines)
    # what the libraries printed is in the logs, without colour codes
    log = (home / "logs" / "papers.log").read_text()
    assert "Done. PASS=" in log and ESC not in log
    dbt_log = (home / "dbt" / "target" / "dbt.log").read_text()
    assert "Completed successfully" in dbt_log and ESC not in dbt_log and not dbt_log.startswith("{")

    # again, with a malformed file: --strict gives its own exit code, --json one object to parse
    land_sample(home / "landing")
    bad = next(p for p in sorted(API_DIR.glob("*.json")) if p.name in MALFORMED)
    shutil.copyfile(bad, home / "landing" / bad.name)
    done = papers(home, "run", "--strict", "--json")
    assert done.returncode == EXIT_QUARANTINED, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["files"] == {"loaded": 0, "duplicate": len(written), "quarantined": 1}
    assert [q["name"] for q in summary["quarantined"]] == [bad.name] and summary["quarantined"][0]["reason"]
    assert summary["exit_code"] == EXIT_QUARANTINED and summary["result"] == "1 file(s) quarantined (--strict)"
    # nothing new was loaded: the published build is current, so dbt, validation and publish skip
    assert summary["validation"]["skipped"] and summary["validation"]["failed"] == []
    assert summary["published"] and not summary["published"]["now"]


def test_an_unreachable_api_names_the_cause_in_a_few_lines(tmp_path):
    home = tmp_path / "home"
    done = papers(home, "backfill", "--start", "2025-10-01", "--end", "2025-10-11",
                  PAPERS_API_BASE_URL="http://127.0.0.1:9", PAPERS_API_DEADLINE_SECONDS="1")
    output = done.stdout + done.stderr
    assert done.returncode == EXIT_PIPELINE_ERROR, output
    lines = output.splitlines()
    assert "connection refused" in "\n".join(lines[:5]), output
    assert len(lines) <= 12 and ESC not in output and "Traceback" not in output, output
    # the first date waits out its retries; offline, the others are not tried
    assert "  not fetched 2025-10-01: connection refused" in output
    assert ("  not fetched 2025-10-02 .. 2025-10-11 (10 dates): not tried: the API could not be reached "
            "for 2025-10-01 (connection refused") in output
    # nothing is claimed that did not happen
    assert "files:" not in output and "0/0" not in output
    assert "fetches:    0 loaded, 0 duplicate, 0 quarantined, 11 not fetched" in lines
    assert lines[-2].startswith("result:     FAILED: hf_api_raw: no listing date could be fetched (11 asked for): "
                                "connection refused")
    assert "STEP_FAILURE" in (home / "logs" / "papers.log").read_text()  # the details are kept
