"""Where things live: PAPERS_HOME layout, the warehouse file, the API base URL.

Everything the pipeline writes goes under ``PAPERS_HOME`` (default ``./data``), except Dagster's own
run storage (``DAGSTER_HOME``). Paths are resolved to absolute paths once, so dbt, dlt and DuckDB all
see the same file whatever their working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
DEFAULT_API_BASE_URL = "https://hf.barry1.top"
# The first day the Daily Papers listing exists.
FIRST_LISTING_DATE = "2023-05-04"


@dataclass(frozen=True)
class PapersHome:
    """The folder layout under PAPERS_HOME."""

    root: Path

    @property
    def landing(self) -> Path:
        """Drop snapshot files here; the sensor and ``papers run`` pick them up."""
        return self.root / "landing"

    @property
    def quarantine(self) -> Path:
        """Rejected files, each with a ``<name>.reason.txt`` next to it."""
        return self.root / "quarantine"

    @property
    def archive(self) -> Path:
        """Loaded files, moved out of landing once their rows are in raw."""
        return self.root / "archive"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        """Symlink to the current validated release: what SQL clients and BI tools read."""
        return self.root / "published"

    @property
    def reports(self) -> Path:
        """Validation reports (Markdown), one per run."""
        return self.root / "reports"

    @property
    def dlt_runs(self) -> Path:
        """dlt working folders, one per run (dagster-dlt wipes a pipeline's folder on every run)."""
        return self.root / "dlt"

    @property
    def fetched(self) -> Path:
        """API listings a run's fetch step got (``<run_id>.jsonl``), until its load step loads them."""
        return self.root / "fetched"

    @property
    def dbt_target(self) -> Path:
        """dbt's target folder for this warehouse: one sub-folder per dbt invocation while it runs
        (kept when the build fails, with its ``dbt.log``), and the partial-parse state,
        ``run_results.json`` and ``dbt.log`` of the latest successful build."""
        return self.root / "dbt" / "target"

    def ensure(self) -> PapersHome:
        for folder in (self.root, self.landing, self.quarantine, self.archive, self.reports, self.dlt_runs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def papers_home(root: str | os.PathLike[str] | None = None) -> PapersHome:
    """The PAPERS_HOME layout: ``root`` if given, else $PAPERS_HOME, else ./data (absolute)."""
    chosen = root if root is not None else os.environ.get("PAPERS_HOME", "data")
    return PapersHome(Path(chosen).expanduser().resolve())


def api_base_url() -> str:
    """Base URL of the Hugging Face API ($PAPERS_API_BASE_URL; tests point it at a local server)."""
    return os.environ.get("PAPERS_API_BASE_URL", DEFAULT_API_BASE_URL).rstrip("/")


def api_fetch_limits() -> dict[str, float]:
    """Bounds of one listing date's fetch (``sources.hf_api.FetchLimits``): $PAPERS_API_DEADLINE_SECONDS
    (everything for one date, default 120) and $PAPERS_API_MAX_RETRY_AFTER_SECONDS (a longer
    ``Retry-After`` fails the date at once, default 60)."""
    limits = {}
    for variable, field in (("PAPERS_API_DEADLINE_SECONDS", "deadline_seconds"),
                            ("PAPERS_API_MAX_RETRY_AFTER_SECONDS", "max_retry_after_seconds")):
        if os.environ.get(variable, "").strip():
            limits[field] = float(os.environ[variable])
    return limits


def export_warehouse_env(home: PapersHome) -> None:
    """Expose the warehouse path to dbt's profiles.yml (``env_var('PAPERS_WAREHOUSE')``), and keep
    dbt's run folders with the warehouse they belong to (``PAPERS_HOME/dbt/target``)."""
    os.environ["PAPERS_WAREHOUSE"] = str(home.warehouse)
    os.environ["DBT_TARGET_PATH"] = str(home.dbt_target)
    os.environ.setdefault("PAPERS_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


#: DuckDB's buffer-pool cap for the pipeline's own connections and dbt's (profiles.yml reads the same
#: variable, exported by :func:`export_warehouse_env`). DuckDB's default is 80 % of RAM (a 100k-paper
#: build reached 20 GiB); bounded, it spills to a temp folder next to the warehouse instead.
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"


def duckdb_memory_limit() -> str:
    """$PAPERS_DUCKDB_MEMORY_LIMIT (a DuckDB size such as ``2GB``), else :data:`DEFAULT_DUCKDB_MEMORY_LIMIT`."""
    return os.environ.get("PAPERS_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT)


def bound_duckdb(con):
    """Apply the memory cap to a DuckDB connection (a database-wide setting); returns ``con``."""
    con.execute("set memory_limit = ?", [duckdb_memory_limit()])
    return con
