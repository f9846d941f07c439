"""dlt source for snapshot files dropped into landing/: one resource (raw table) per format.

The files are parsed before dlt runs (``orchestration.warehouse.intake``); each resource yields the
parsed Arrow tables of its format as one batch. Nested data stays as JSON text columns
(``max_table_nesting=0``), unnested by dbt.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dlt
import pyarrow as pa

from orchestration.snapshots import API_PAPERS_SCHEMA, PAGE_CARDS_SCHEMA, ParsedSnapshot

LANDED_API_TABLE = "landed_api_papers"
LANDED_CARDS_TABLE = "landed_page_cards"


def _batch(snapshots: Sequence[ParsedSnapshot], fmt: str, schema: pa.Schema) -> Iterator[pa.Table]:
    tables = [s.table for s in snapshots if s.format == fmt]
    # An empty batch still creates the table, so dbt sources exist from the first run on.
    yield pa.concat_tables(tables) if tables else schema.empty_table()


@dlt.source(name="landing", max_table_nesting=0)
def landing_source(snapshots: Sequence[ParsedSnapshot] = ()) -> Sequence[dlt.sources.DltResource]:
    """Raw observations from landed files: API JSON papers and page-text cards (append-only)."""

    @dlt.resource(name=LANDED_API_TABLE, write_disposition="append")
    def landed_api_papers() -> Iterator[pa.Table]:
        """Papers from API JSON files dropped into landing/, one row per paper per file."""
        yield from _batch(snapshots, "api_json", API_PAPERS_SCHEMA)

    @dlt.resource(name=LANDED_CARDS_TABLE, write_disposition="append")
    def landed_page_cards() -> Iterator[pa.Table]:
        """Cards from page-text snapshots of the listing page, one row per card per file."""
        yield from _batch(snapshots, "page_text", PAGE_CARDS_SCHEMA)

    return landed_api_papers, landed_page_cards
