"""Keep ``dbt_project/target/manifest.json`` present and current (dagster-dbt reads it at import).

``dbt parse`` runs only when the manifest is missing or older than a file of the project, so the
everyday cost is one ``stat`` per project file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from orchestration.warehouse.settings import DBT_PROJECT_DIR

PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "seeds", "macros", "tests")


def manifest_path(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    return project_dir / "target" / "manifest.json"


def _newest_input(project_dir: Path) -> float:
    newest = 0.0
    for name in PROJECT_INPUTS:
        path = project_dir / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for file in path.rglob("*"):
                if file.is_file():
                    newest = max(newest, file.stat().st_mtime)
    return newest


def manifest_is_stale(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    target = manifest_path(project_dir)
    return not target.exists() or target.stat().st_mtime < _newest_input(project_dir)


def ensure_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run ``dbt parse`` if the manifest is missing or stale; return its path."""
    if manifest_is_stale(project_dir):
        from dbt.cli.main import dbtRunner  # imported only when a parse is needed

        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        result = dbtRunner().invoke(
            ["parse", "--quiet", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
             "--target-path", str(manifest_path(project_dir).parent)]
        )
        if not result.success:
            raise RuntimeError(f"dbt parse failed for {project_dir}: {result.exception}")
    return manifest_path(project_dir)


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
KEPT_FROM_INVOCATION = (PARTIAL_PARSE_FILE, "run_results.json", "dbt.log")


def keep_invocation_state(invocation_target: Path, target: Path) -> None:
    """After a dbt build, keep its partial-parse state, run results and log in ``target``; drop its folder.

    dagster-dbt runs every invocation in a fresh sub-folder of the target folder, seeded with the
    target folder's ``partial_parse.msgpack``. dbt discards that state when the profile's connection
    details differ from the ones it was written with — and the warehouse path differs per
    PAPERS_HOME — so without this every build re-parses the whole project (~2 s). Files are replaced
    atomically (a concurrent build reads either the old or the new state; dbt checks it anyway).
    """
    for name in KEPT_FROM_INVOCATION:
        source = invocation_target / name
        if source.is_file():
            staging = target / f".{name}.{os.getpid()}"
            shutil.copyfile(source, staging)
            os.replace(staging, target / name)
    shutil.rmtree(invocation_target, ignore_errors=True)
