"""Where a published table's rows go in the release's Parquet: one file, or a folder of listing-month
partitions, so a new batch rewrites only the months it touched.

The rule (:func:`plan_layouts`): a table with a ``paper_id`` column grows with every batch and is
split by the month of its own listing date (a DATE ``listing_date``, else ``first_listed_on``) or
else of its paper's ``first_listed_on`` in ``papers``, into ``parquet/<table>/listing_month=YYYY-MM/``
(rows without a date, and an empty table's one empty file: the NULL partition). Every other table
(small aggregates, touched all over by any batch) is one file, ``parquet/<table>.parquet``. The
partition column is not stored in the files: readers get it from the folder names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orchestration.publish.releases import PARQUET_DIR
from orchestration.publish.tables import Columns, Target
from orchestration.sql import quote_ident, quote_literal

#: The Hive partition column of a partitioned table (in the folder names, not in the files).
PARTITION_COLUMN = "listing_month"
#: A table's own listing-date columns, in order of preference (DATE columns only).
LISTING_DATE_COLUMNS = ("listing_date", "first_listed_on")
#: The column that makes a table's rows "about papers", and the table that dates a paper.
PAPER_KEY = "paper_id"
PAPERS_TABLE = "papers"
PAPER_DATE = "first_listed_on"
#: The partition of rows without a listing date (Hive's name for a NULL partition value).
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class Layout:
    """How one table is written: one file (``month_of`` None) or partitioned by the month of
    ``month_of``, a column of the table itself or, with ``via``, of its papers table."""

    target: Target
    month_of: str | None = None
    via: Target | None = None

    @property
    def partitioned(self) -> bool:
        return self.month_of is not None

    @property
    def folder(self) -> str:
        """A partitioned table's folder, relative to the release (``.parquet`` added: a one-file table's file)."""
        return f"{PARQUET_DIR}/{self.target.table}"

    @property
    def parquet(self) -> str:
        """What a reader opens, relative to the release: the file, or a glob over the partitions."""
        return f"{self.folder}/*/*.parquet" if self.partitioned else f"{self.folder}.parquet"

    def partition_dir(self, key: str) -> str:
        return f"{self.folder}/{PARTITION_COLUMN}={key}"

    def describe(self) -> dict[str, str] | None:
        """The partitioning as the manifest and catalog record it."""
        if not self.partitioned:
            return None
        source = self.via or self.target
        return {"column": PARTITION_COLUMN, "month_of": f"{source.qualified}.{self.month_of}"}

    def source_sql(self, database: str) -> str:
        """A FROM clause over the table in ``database`` (alias ``_t``), joined with its papers table
        (alias ``_p``) when its month comes from there (a paper listed twice there: see ``_fingerprint``)."""
        sql = f"{self.target.relation(database)} AS _t"
        if self.via is not None:
            key = quote_ident(PAPER_KEY)
            sql += f" LEFT JOIN {self.via.relation(database)} AS _p ON _p.{key} = _t.{key}"
        return sql

    def _date_sql(self) -> str:
        return f"{'_p' if self.via is not None else '_t'}.{quote_ident(self.month_of)}"

    def month_sql(self) -> str:
        """The listing month of a row of :meth:`source_sql` (``'2025-10'``, NULL without a date): the
        partition value ``COPY … PARTITION_BY`` writes (NULL as :data:`NULL_PARTITION`)."""
        return f"strftime({self._date_sql()}, '%Y-%m')"

    def key_sql(self) -> str:
        """A row's partition key as in its folder's name (``'2025-10'``, the NULL partition); NULL for one file."""
        return f"coalesce({self.month_sql()}, {quote_literal(NULL_PARTITION)})" if self.partitioned else "NULL"

    def keys_filter_sql(self, keys: Iterable[str]) -> str:
        """A predicate on :meth:`source_sql` rows: the row is in one of the partitions ``keys``. Date
        ranges, which DuckDB pushes into the scan (only those months' row groups are read; a
        condition on the formatted month would read every row)."""
        date, ranges = self._date_sql(), []
        for key in sorted(set(keys)):
            if key == NULL_PARTITION:
                ranges.append(f"{date} IS NULL")
                continue
            year, month = (int(part) for part in key.split("-"))
            after = f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"
            ranges.append(f"({date} >= DATE '{year:04d}-{month:02d}-01' AND {date} < DATE '{after}')")
        return "(" + " OR ".join(ranges) + ")" if ranges else "false"


def plan_layouts(targets: list[Target], columns: dict[str, Columns]) -> dict[str, Layout]:
    """Each table's layout, by the rule in the module docstring."""
    types = {q: dict(cols) for q, cols in columns.items()}
    layouts = {}
    for t in targets:
        own, papers = types[t.qualified], Target(t.schema, PAPERS_TABLE)
        date = next((c for c in LISTING_DATE_COLUMNS if own.get(c) == "DATE"), None)
        dated_via = types.get(papers.qualified, {})
        if PAPER_KEY in own and date is not None:
            layouts[t.qualified] = Layout(t, date)
        elif PAPER_KEY in own and PAPER_KEY in dated_via and dated_via.get(PAPER_DATE) == "DATE":
            layouts[t.qualified] = Layout(t, PAPER_DATE, via=papers)
        else:
            layouts[t.qualified] = Layout(t)
    return layouts
