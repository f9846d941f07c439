"""Keep ``dbt_project/target/manifest.json`` present and current (dagster-dbt reads it at import).

``dbt parse`` runs only when the manifest is missing or older than a file of the project, so the
everyday cost is one ``stat`` per project file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from orchestration.project import DBT_PROJECT_DIR

#: what a parse reads (the manifest is rebuilt when one of them is newer)
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "seeds", "macros", "tests")
#: what the warehouse's contents depend on (not profiles.yml: where and how dbt connects; not tests/)
DATA_INPUTS = ("dbt_project.yml", "models", "seeds", "macros")


def manifest_path(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    return project_dir / "target" / "manifest.json"


def _files(project_dir: Path, inputs: tuple[str, ...]) -> Iterator[Path]:
    """The files of ``inputs`` (files or folders of the project), in a stable order."""
    for name in inputs:
        path = project_dir / name
        yield from [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())


def project_md5(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """md5 over the path and bytes of every file the built tables depend on: a changed model, seed
    (the topic taxonomy), macro or project var makes the next build a full rebuild."""
    digest = hashlib.md5()
    for file in _files(project_dir, DATA_INPUTS):
        digest.update(str(file.relative_to(project_dir)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run ``dbt parse`` if the manifest is missing or older than a project file; return its path."""
    target = manifest_path(project_dir)
    newest = max((f.stat().st_mtime for f in _files(project_dir, PROJECT_INPUTS)), default=0.0)
    if not target.exists() or target.stat().st_mtime < newest:
        from dbt.cli.main import dbtRunner  # imported only when a parse is needed

        result = dbtRunner().invoke(["parse", "--quiet", "--no-send-anonymous-usage-stats",
                                     "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
                                     "--target-path", str(target.parent)])
        if not result.success:
            raise RuntimeError(f"dbt parse failed for {project_dir}: {result.exception}")
    return target


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
KEPT_FROM_INVOCATION = (PARTIAL_PARSE_FILE, "run_results.json", "dbt.log")
#: The folders of failed (or killed) builds kept under the target folder for diagnosis: the newest.
KEEP_FAILED_INVOCATIONS = 5


def seed_invocation_state(target: Path, invocation_target: Path) -> Path:
    """A new invocation folder under ``target`` holding the partial-parse state kept there, so the
    build does not re-parse the project; returns the folder. Builds run one at a time (the
    warehouse's pool), so a folder already there is a failed or killed build's: all but the newest
    :data:`KEEP_FAILED_INVOCATIONS` of them are removed."""
    left = sorted((p for p in target.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime) \
        if target.is_dir() else []
    for folder in left[:max(len(left) - KEEP_FAILED_INVOCATIONS, 0)]:
        shutil.rmtree(folder, ignore_errors=True)
    invocation_target.mkdir(parents=True, exist_ok=True)
    state = target / PARTIAL_PARSE_FILE
    if state.is_file():
        shutil.copyfile(state, invocation_target / PARTIAL_PARSE_FILE)
    return invocation_target


def keep_invocation_state(invocation_target: Path, target: Path) -> None:
    """After a dbt build, keep its partial-parse state, run results and log in ``target``; drop its folder.

    dbt discards a partial-parse state written with other connection details or vars (the warehouse
    path differs per PAPERS_HOME), so the state is kept per home: without it every build re-parses the
    whole project. Files are replaced atomically (a concurrent build reads the old or the new state)."""
    for name in KEPT_FROM_INVOCATION:
        source = invocation_target / name
        if source.is_file():
            staging = target / f".{name}.{os.getpid()}"
            shutil.copyfile(source, staging)
            os.replace(staging, target / name)
    shutil.rmtree(invocation_target, ignore_errors=True)
