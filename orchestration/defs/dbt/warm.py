"""dbt's first invocation in a process, paid ahead: the run launcher's fork server imports this module
(``launcher.PRELOAD``), so every run worker forked from it starts with dbt warm (a process's first
invocation spends seconds that later ones do not: loading the adapter, building the JSON schemas dbt
validates its project and profile with, setting up its parser and task).

Importing the module runs ``dbt build`` selecting nothing, in a temporary folder seeded with the
partial-parse state ``dbt_state.ensure_manifest`` keeps in ``dbt_project/target`` (a stale state makes
dbt parse in full: slower, same result): dbt connects to no database and writes only to that folder.
A failure only costs the workers their warm start (one line on stderr). Then the project's modules this
import loaded are forgotten, so a worker imports them from disk (a code location reloaded in the UI
runs its new code).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

#: a selector that matches no node of the project
NOTHING = "tag:papers-warm-up-selects-nothing"
#: the modules loaded before this one's body runs (its own packages among them)
_LOADED_BEFORE = frozenset(sys.modules)


def warm_dbt() -> None:
    from dbt.cli.main import dbtRunner

    from orchestration.dbt_state import PARTIAL_PARSE_FILE, manifest_path
    from orchestration.defs.dbt.build import close_dbt_duckdb, close_dbt_logs, dbt_flags
    from orchestration.project import DBT_PROJECT_DIR

    folder = Path(tempfile.mkdtemp(prefix="papers-dbt-warm-"))
    try:
        state = manifest_path().parent / PARTIAL_PARSE_FILE
        if state.is_file():
            shutil.copyfile(state, folder / PARTIAL_PARSE_FILE)
        outcome = dbtRunner().invoke(["build", "--select", NOTHING, "--quiet",
                                      *dbt_flags(DBT_PROJECT_DIR, DBT_PROJECT_DIR, folder)])
        if not outcome.success:
            print(f"papers: warming dbt up failed ({outcome.exception}); run workers start it cold",
                  file=sys.stderr)
    finally:
        try:
            close_dbt_duckdb()
            close_dbt_logs()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _forget_project_modules() -> None:
    """Drop the project's modules this import loaded (and their names on the packages holding them)."""
    for name in [n for n in sys.modules if n.split(".")[0] == "orchestration" and n not in _LOADED_BEFORE]:
        del sys.modules[name]
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is not None:
            delattr(sys.modules[parent], child)


try:
    warm_dbt()
except Exception as error:  # noqa: BLE001 - the fork server must start; its workers then start dbt cold
    print(f"papers: warming dbt up failed ({type(error).__name__}: {error}); run workers start it cold",
          file=sys.stderr)
finally:
    _forget_project_modules()
