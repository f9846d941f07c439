"""The one configuration object: :class:`Settings`, built once per process and passed as a value.

Each setting has one name: ``PAPERS_<NAME>`` in the environment, ``<name>`` in the optional config
file (``papers.toml``: ``--config FILE``, else ``$PAPERS_CONFIG``, else ``./papers.toml`` when it
exists). Precedence: command-line option, environment, config file, default. ``papers config``
prints the effective values and where each came from.

Everything the pipeline writes goes under ``home`` (PAPERS_HOME, default ``./data``), except
Dagster's own run storage (``DAGSTER_HOME``). Paths are resolved to absolute paths once, so dbt,
dlt and DuckDB all see the same file whatever their working directory.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIG_FILE = "papers.toml"
#: DuckDB's buffer-pool cap unless configured (DuckDB's own default is 80 % of RAM)
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"


class ConfigError(ValueError):
    """A setting has a value that cannot be used (names the setting and where the value came from)."""


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

    @property
    def logs(self) -> Path:
        """``papers.log``: what the libraries of each ``papers`` command printed (Dagster's, dlt's and
        dbt's output), appended; the terminal gets one line per phase and the summary."""
        return self.root / "logs"

    #: the folders :meth:`ensure` creates (``papers init`` prints them)
    FOLDERS = ("landing", "quarantine", "archive", "reports", "logs", "dlt")

    def ensure(self) -> PapersHome:
        self.root.mkdir(parents=True, exist_ok=True)
        for name in self.FOLDERS:
            (self.root / name).mkdir(exist_ok=True)
        return self


@dataclass(frozen=True)
class Settings:
    """Every setting of a deployment. Build with :meth:`load`; never read the environment elsewhere."""

    home: Path = field(default=Path("data"), metadata={
        "help": "holds `landing/`, `archive/`, `quarantine/`, `warehouse.duckdb`, `published/` → `releases/…`, `reports/`, `fetched/`, `dlt/` (dlt's working folders, one per run), `dbt/target/` (dbt's partial-parse state, `run_results.json` and `dbt.log` of the latest build; the newest five failed builds keep their own folders there)"})
    api_base_url: str = field(default="https://hf.barry1.top", metadata={
        "help": "where `/api/daily_papers` is fetched from (tests point it at a local server)"})
    api_deadline_seconds: float = field(default=120.0, metadata={
        "help": "everything one listing date's fetch may take: every page, retry and wait (429, 5xx and connection errors are retried up to 5 times with backoff). When no connection can be made at all (the host name does not resolve, the connection is refused), the run's later dates are not tried: each says `not tried: the API could not be reached for <date> (…)`"})
    api_max_retry_after_seconds: float = field(default=60.0, metadata={
        "help": "a `Retry-After` up to this is waited for; a longer one fails the date at once"})
    duckdb_memory_limit: str = field(default=DEFAULT_DUCKDB_MEMORY_LIMIT, metadata={
        "help": "DuckDB's memory cap for dbt and the pipeline's own connections; above it DuckDB spills to `warehouse.duckdb.tmp/` instead of taking 80 % of RAM"})
    duckdb_threads: int = field(default=2, metadata={
        "help": "DuckDB threads in dbt builds"})
    sensor_interval_seconds: int = field(default=5, metadata={
        "help": "minimum interval between landing-sensor ticks"})
    automation_interval_seconds: int = field(default=30, metadata={
        "help": "minimum interval between the automation sensor's evaluations (it requests the model build and publish after a raw-only run, e.g. a backfill from the asset graph)"})
    sensor_max_files_per_run: int = field(default=5000, metadata={
        "help": "files per sensor run (each run reads its files in bounded 64 MB batches, a file of 64 MB or more in 32 MB pieces): 12,000 files dropped at once make 3 runs"})
    landing_settle_seconds: float = field(default=30.0, metadata={
        "help": "a file modified longer ago than this counts as complete at first sight"})
    refetch_enabled: bool = field(default=True, metadata={
        "help": "whether the rolling re-fetch schedule starts running (it needs the network to reach `api_base_url`; `false` on an offline machine). Applies while the schedule was never started or stopped by hand in the UI, which the instance remembers"})
    refetch_cron: str = field(default="0 * * * *", metadata={
        "help": "when the rolling re-fetch of recent API dates runs (UTC cron)"})
    refetch_days: int = field(default=14, metadata={
        "help": "how many recent listing dates it re-fetches"})
    published_freshness_hours: float = field(default=26.0, metadata={
        "help": "the freshness policy of `published/marts` fails when nothing was published for longer (warns at half)"})
    validation_chunk_rows: int = field(default=250_000, metadata={
        "help": "Great Expectations checks at most this many rows per frame (outcomes merged into those of one pass; `0`: one frame), so validation memory stays flat however many rows a run adds"})
    #: where each value came from: ``default``, ``file <path>``, ``env PAPERS_X`` or ``option``
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, *, environ: Mapping[str, str] | None = None, config_file: str | os.PathLike[str] | None = None,
             **options: Any) -> Settings:
        """Settings from ``options`` (command line; ``None`` = not given), the environment and the config file."""
        environ = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls) if f.name != "origins"}
        given: dict[str, tuple[Any, str]] = {}  # name -> (value, origin); a later source overrides
        path = config_file or environ.get("PAPERS_CONFIG") or (CONFIG_FILE if Path(CONFIG_FILE).is_file() else None)
        if path is not None:
            path = Path(path).expanduser().resolve()
            try:
                document = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as error:
                raise ConfigError(f"config file {path}: {error}") from None
            for name, value in document.items():
                if name not in known:
                    raise ConfigError(f"config file {path}: unknown setting {name!r} "
                                      f"(known: {', '.join(sorted(known))})")
                if name == "home":
                    value = path.parent / Path(str(value)).expanduser()
                given[name] = value, f"file {path}"
        for name in known:
            if value := environ.get(env_name(name), "").strip():
                given[name] = value, f"env {env_name(name)}"
        for name, value in options.items():
            if name not in known:
                raise TypeError(f"unknown setting {name!r}")
            if value is not None:
                given[name] = value, "option"
        typed = {name: _typed(known[name], value, origin) for name, (value, origin) in given.items()}
        typed["home"] = Path(typed.get("home", known["home"].default)).expanduser().resolve()
        return cls(**typed, origins={name: given[name][1] if name in given else "default" for name in known})

    @property
    def layout(self) -> PapersHome:
        return PapersHome(self.home)

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, value, origin) of every setting, as ``papers config`` prints them."""
        return [(f.name, str(getattr(self, f.name)), self.origins.get(f.name, "default"))
                for f in fields(self) if f.name != "origins"]

    def dbt_vars(self) -> dict[str, str]:
        """What dbt's profiles.yml reads (``--vars``): the warehouse file and DuckDB's bounds."""
        return {"warehouse": str(self.layout.warehouse), "duckdb_memory_limit": self.duckdb_memory_limit,
                "duckdb_threads": str(self.duckdb_threads)}


def env_name(setting: str) -> str:
    """The environment variable of a setting: ``home`` -> ``PAPERS_HOME``."""
    return f"PAPERS_{setting.upper()}"


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _typed(spec, value: Any, origin: str) -> Any:
    kind = {"float": float, "int": int, "bool": bool, "str": str, "Path": Path}[str(spec.type)]
    try:
        if kind is bool and isinstance(value, str):
            return _BOOLEANS[value.strip().lower()]
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        converted = kind(value)
    except (TypeError, ValueError, KeyError):
        raise ConfigError(f"{spec.name} = {value!r} ({origin}): not a valid {kind.__name__}") from None
    if kind in (int, float) and converted < 0:
        raise ConfigError(f"{spec.name} = {value!r} ({origin}): must not be negative")
    return converted


def bound_duckdb(con, memory_limit: str):
    """Apply the memory cap to a DuckDB connection (a database-wide setting); returns ``con``."""
    con.execute("set memory_limit = ?", [memory_limit])
    return con
