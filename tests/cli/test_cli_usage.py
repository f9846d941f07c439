"""Bad arguments and first-run states of the `papers` command: plain one-line messages, exit codes.

Nothing here builds a warehouse (`make check`): each bad argument is refused before any work starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.cli import EXIT_OK, EXIT_USAGE
from orchestration.config import PapersHome
from tests.pipeline_runs import REPO, SAMPLE_FILES, run_papers

PAPERS = str(Path(sys.executable).with_name("papers"))


def _one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["backfill", "--start", "2025-13-01", "--end", "2025-10-02"],
     "papers backfill: argument --start: '2025-13-01' is not a date (YYYY-MM-DD, e.g. 2025-10-01)"),
    (["backfill", "--start", "2025-10-01", "--end", "tomorrow"],
     "papers backfill: argument --end: 'tomorrow' is not a date (YYYY-MM-DD, e.g. 2025-10-01)"),
    (["backfill", "--start", "2025-10-02", "--end", "2025-10-01"],
     "papers backfill: --end 2025-10-01 is before --start 2025-10-02"),
    (["backfill", "--start", "2025-10-01"], "papers backfill: the following arguments are required: --end"),
    (["digest", "--week", "2025-W60"], "papers digest: "),
    (["frobnicate"], "papers: argument COMMAND: invalid choice: 'frobnicate'"),
    (["run", "--fast"], "papers: unrecognized arguments: --fast"),
])
def test_a_bad_argument_exits_2_with_one_line(tmp_path, args, message):
    code, output = run_papers(tmp_path / "home", *args)
    assert code == EXIT_USAGE
    assert _one_line(output).startswith(message), output
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()


def test_ingest_names_what_is_wrong_with_each_path(tmp_path):
    folder = tmp_path / "snapshots"
    folder.mkdir()
    code, output = run_papers(tmp_path / "home", "ingest", str(folder), str(tmp_path / "missing.json"))
    assert code == EXIT_USAGE
    assert _one_line(output) == (f"papers ingest: {folder}: is a directory (give the files in it: {folder}/*); "
                                 f"{tmp_path / 'missing.json'}: no such file")
    assert not any((tmp_path / "home" / "landing").iterdir())  # nothing copied


def test_an_unreadable_file_is_a_usage_error_not_a_crash(tmp_path):
    unreadable = tmp_path / "2025-10-01_captured-20251001T080000Z.json"
    shutil.copyfile(SAMPLE_FILES[0], unreadable)
    unreadable.chmod(0)
    prefix = []
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that allow it (as tests/e2e/test_faults.py)
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        prefix = [setpriv, "--inh-caps=-dac_override,-dac_read_search",
                  "--bounding-set=-dac_override,-dac_read_search", "--"]
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "PAPERS_HOME")}
    done = subprocess.run([*prefix, PAPERS, "--home", str(tmp_path / "home"), "ingest", str(unreadable)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert _one_line(done.stdout + done.stderr) == f"papers ingest: {unreadable}: cannot be read (Permission denied)"


def test_a_home_that_is_a_file_is_refused(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    code, output = run_papers(home, "status")
    assert code == EXIT_USAGE and _one_line(output) == f"papers: the home {home} is not a directory"


def test_read_only_commands_create_nothing(tmp_path):
    home = tmp_path / "home"
    code, output = run_papers(home, "status")
    assert code == EXIT_OK and "no warehouse yet" in output and "`papers init`" in output
    assert not home.exists()


def test_an_empty_home_has_nothing_to_do(tmp_path):
    home = tmp_path / "home"
    code, output = run_papers(home, "run")
    assert code == EXIT_OK
    assert _one_line(output) == (f"papers run: nothing to do: no file waiting in {home / 'landing'} (drop snapshot "
                                 "files there, or fetch listing dates with `papers backfill`)")
    code, output = run_papers(home, "rebuild")
    assert code == EXIT_OK and _one_line(output) == f"papers rebuild: nothing to do: no warehouse yet at {home / 'warehouse.duckdb'}"
    code, output = run_papers(home, "run", "--json")
    assert code == EXIT_OK and '"result": "nothing to do"' in _one_line(output)
    assert not (home / "warehouse.duckdb").exists()


def test_init_creates_the_home_layout(tmp_path):
    home = tmp_path / "fresh" / "home"
    code, output = run_papers(home, "init")
    assert code == EXIT_OK
    assert sorted(p.name for p in home.iterdir()) == sorted(PapersHome.FOLDERS)
    assert output.splitlines()[0] == (f"papers init: created {home}: "
                                      + ", ".join(f"{name}/" for name in PapersHome.FOLDERS))
    code, output = run_papers(home, "init")  # again: nothing lost, says it is ready
    assert code == EXIT_OK and output.startswith(f"papers init: ready {home}")


def _readme() -> str:
    return (REPO / "README.md").read_text()


def test_readme_command_table_is_the_parser_s():
    import argparse
    import re

    from orchestration.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    section = _readme().split("## The `papers` command", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `papers (\w+)", section, flags=re.M)
    assert documented == list(commands)
    # every option of every command is named in the section
    for name, sub in commands.items():
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section or f"{option} " in section, (name, option)


def test_readme_exit_codes_are_the_module_s():
    import orchestration.cli as cli

    codes = {name: value for name, value in vars(cli).items() if name.startswith("EXIT_")}
    section = _readme().split("## The `papers` command", 1)[1].split("\n## ", 1)[0]
    listed = section.split("Exit codes:", 1)[1].split("\n\n", 1)[0]
    import re

    assert sorted(int(n) for n in re.findall(r"`(\d)`", listed)) == sorted(codes.values())


def test_make_ui_creates_the_home_before_it_starts(tmp_path):
    home = tmp_path / "data"
    plan = subprocess.run(["make", "-n", "ui", f"PAPERS_HOME={home}"], cwd=REPO, capture_output=True, text=True,
                          timeout=60).stdout.splitlines()
    starts = [i for i, line in enumerate(plan) if "dagster dev" in line]
    inits = [i for i, line in enumerate(plan) if line.endswith("papers init")]
    assert starts and inits and inits[0] < starts[0], plan
    done = subprocess.run(["make", "init", f"PAPERS_HOME={home}"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in home.iterdir()) == sorted(PapersHome.FOLDERS)
