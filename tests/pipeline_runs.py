"""Helpers to run the real pipeline from tests (in this process, through the `papers` CLI)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
API_FIXTURES = sorted((FIXTURES / "daily_papers").glob("*.json"))
TEXT_FIXTURES = sorted((FIXTURES / "listing_text").glob("*.txt"))
MALFORMED = {"2024-06-01_captured-20240601T165731Z.json", "2024-12-11_captured-20241212T101858Z.json",
             "2025-01-10_captured-20250112T084652Z.json"}
API_DIR = FIXTURES / "daily_papers"
#: the real month bundled as the project's sample data (`make sample`), copied from ../shared/demo
SAMPLE = REPO / "sample" / "daily_papers_2025-10"
SAMPLE_FILES = sorted(SAMPLE.glob("*.json"))
#: names of the API fixtures that parse (the rest are MALFORMED on purpose)
GOOD_API_NAMES = sorted(p.name for p in API_FIXTURES if p.name not in MALFORMED)


def land_sample(landing: Path) -> list[Path]:
    """Copy the bundled sample files into ``landing`` (what `make sample` does); return the copies."""
    landing.mkdir(parents=True, exist_ok=True)
    copies = []
    for source in SAMPLE_FILES:
        copy = landing / source.name
        shutil.copyfile(source, copy)
        copies.append(copy)
    return copies


@contextlib.contextmanager
def papers_env(home: Path, **extra: str):
    """PAPERS_HOME (and any extra variables) set for the duration, restored after."""
    values = {"PAPERS_HOME": str(home), **extra}
    saved = {k: os.environ.get(k) for k in [*values, "PAPERS_WAREHOUSE", "DAGSTER_HOME"]}
    os.environ.update(values)
    os.environ.pop("DAGSTER_HOME", None)  # ephemeral Dagster instance per run
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_papers(home: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run `papers --home HOME ARGS...` in-process; return (exit code, printed output)."""
    from orchestration.cli import main

    out = io.StringIO()
    with papers_env(home, **env), contextlib.redirect_stdout(out):
        code = main(["--home", str(home), *args])
    return code, out.getvalue()


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
