"""Resources shared by the assets: the warehouse (PAPERS_HOME and its DuckDB file)."""


from contextlib import contextmanager
from collections.abc import Iterator

import dagster as dg
import duckdb

from orchestration.warehouse.settings import PapersHome, bound_duckdb, export_warehouse_env, papers_home

# Every asset and check that writes the DuckDB file runs in this pool; dagster.yaml limits it to 1.
WAREHOUSE_WRITER_POOL = "duckdb_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """PAPERS_HOME and the warehouse file in it (one writer at a time: see WAREHOUSE_WRITER_POOL)."""

    papers_home: str

    @property
    def home(self) -> PapersHome:
        return papers_home(self.papers_home).ensure()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        export_warehouse_env(self.home)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed on exit (dbt and dlt open the file themselves)."""
        con = bound_duckdb(duckdb.connect(str(self.home.warehouse)))
        try:
            yield con
        finally:
            con.close()
