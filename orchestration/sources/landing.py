"""dlt source for snapshot files dropped into landing/: one resource (raw table) per format, each
yielding the Arrow table of its format for one batch of a
:class:`~orchestration.sources.landing_files.LandingStream` at a time. Nested data stays as JSON text
columns (``max_table_nesting=0``), unnested by dbt.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from orchestration.snapshots.schemas import RAW_TABLES
from orchestration.sources.landing_files import LandingStream

RAW_DATASET = "raw"
#: snapshot format -> the raw table its rows go to
FORMAT_TABLES = {raw.format: table for table, raw in RAW_TABLES.items() if raw.source == "landing"}


def _tables(stream: LandingStream | None, fmt: str) -> Iterator[pa.Table]:
    empty = RAW_TABLES[FORMAT_TABLES[fmt]].schema.empty_table()
    yielded = False
    # dlt takes the two resources in turns: an empty table while a batch had none of this format
    # lets the other resource take its table before the next batch is read (bounded memory)
    for table in stream.tables(fmt, idle=empty) if stream is not None else ():
        yielded = True
        yield table
    if not yielded:
        # An empty batch still creates the table, so dbt sources exist from the first run on.
        yield empty


@dlt.source(name="landing", max_table_nesting=0)
def landing_source(stream: LandingStream | None = None) -> Sequence[dlt.sources.DltResource]:
    """Raw observations from landed files: API JSON papers and page-text cards (append-only)."""

    @dlt.resource(name="landed_api_papers", write_disposition="append")
    def landed_api_papers() -> Iterator[pa.Table]:
        """Papers from API JSON files dropped into landing/, one row per paper per file."""
        yield from _tables(stream, "api_json")

    @dlt.resource(name="landed_page_cards", write_disposition="append")
    def landed_page_cards() -> Iterator[pa.Table]:
        """Cards from page-text snapshots of the listing page, one row per card per file."""
        yield from _tables(stream, "page_text")

    return landed_api_papers, landed_page_cards


def raw_pipeline(name: str, con: duckdb.DuckDBPyConnection, pipelines_dir: Path) -> dlt.Pipeline:
    """A dlt pipeline into schema ``raw`` of the warehouse, loading through the open connection ``con``
    (the caller keeps using it while dlt extracts, e.g. for the registry look-ups of a
    :class:`LandingStream`)."""
    # every raw row carries the id of the load that wrote it: rows of a load dlt did not complete
    # (no row in raw._dlt_loads) can be told apart and rolled back (ops.bookkeeping.reconcile)
    dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(con),
        dataset_name=RAW_DATASET,
        pipelines_dir=str(pipelines_dir),
    )
