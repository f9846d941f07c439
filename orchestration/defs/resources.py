"""The warehouse resource: the deployment's settings, PAPERS_HOME and its DuckDB file."""

from collections.abc import Callable

import duckdb

from orchestration.config import PapersHome, Settings, bound_duckdb

# Every asset and check that writes the DuckDB file runs in this pool; dagster.yaml limits it to 1.
WAREHOUSE_WRITER_POOL = "duckdb_warehouse"


class Warehouse:
    """The :class:`Settings` the definitions were built with, PAPERS_HOME and its warehouse file (one writer
    at a time: see WAREHOUSE_WRITER_POOL), and ``progress``: where the one-line progress of each phase and
    batch goes besides the run's log (the ``papers`` command prints it; ``None`` under Dagster's daemon and UI).
    """

    def __init__(self, settings: Settings, progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.progress = progress

    @property
    def home(self) -> PapersHome:
        return self.settings.layout.ensure()

    def report(self, log, message: str) -> None:
        """One line of progress: to the run's log (``context.log``) and to ``progress``."""
        log.info(message)
        if self.progress is not None:
            self.progress(message)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-write connection, closed when its ``with`` block ends (dbt and dlt open the file themselves)."""
        return bound_duckdb(duckdb.connect(str(self.home.warehouse)), self.settings.duckdb_memory_limit)
