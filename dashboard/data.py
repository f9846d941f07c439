"""What the dashboard reads, and only from ``PAPERS_HOME/published`` (no Streamlit here).

Every query opens the release ``published`` points at *now* (the symlink resolved at call time),
read-only, and closes it again: a publish that swaps the link while a page is open is seen by the
next query, and the previous release's files stay readable until pruned. DuckDB reuses a database
that is still open in the same process, so no connection is kept; the Streamlit layer caches results
by the resolved release path, never by the link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

#: Upvotes of a paper count as settled once its latest capture is this many days after its first
#: listing date (listings grow and upvotes rise for about two weeks, most of it in the first week).
SETTLE_DAYS = 7
DUCKDB_FILE = "warehouse.duckdb"


def published_root() -> Path:
    """PAPERS_HOME/published of this process's settings (environment, papers.toml: orchestration.config)."""
    from orchestration.config import Settings

    return Settings.load().layout.published


def current_release(root: Path | None = None) -> Path:
    """The release folder ``published`` points at now."""
    root = root or published_root()
    try:
        release = root.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise FileNotFoundError(f"nothing published at {root} yet: run `make run` (or `papers run`) first") from None
    if not (release / DUCKDB_FILE).is_file():
        raise FileNotFoundError(f"{release} holds no {DUCKDB_FILE}")
    return release


def query(release: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run ``sql`` on the release's DuckDB file, opened read-only for this query only."""
    con = duckdb.connect(str(Path(release) / DUCKDB_FILE), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def manifest(release: Path) -> dict:
    return json.loads((Path(release) / "manifest.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    topic: str | None = None  # a primary topic, None for all


def topic_clause(filters: Filters, column: str = "primary_topic") -> tuple[str, list]:
    return (f" and {column} = ?", [filters.topic]) if filters.topic else ("", [])


# --- SQL of each page (marts and quality tables of the release; aggregates of marts only) ----------

BOUNDS = "select min(listing_date) as first, max(listing_date) as last, max(captured_at) as last_capture " \
         "from marts.paper_observations where listing_date is not null"
TOPICS = "select distinct topic from marts.topics_weekly order by topic"

STATUS = f"""
    case when last_seen_at >= first_listed_on + interval {SETTLE_DAYS} day then 'settled'
         when upvote_velocity > 0 then 'rising'
         else 'provisional' end
"""


def top_papers_sql(filters: Filters, limit: int) -> tuple[str, list]:
    where, params = topic_clause(filters)
    sql = f"""
        select arxiv_id, title, upvotes, num_comments, first_listed_on, primary_topic, organization,
               observations, upvote_velocity, {STATUS} as upvotes_status,
               'https://hf.barry1.top/papers/' || arxiv_id as hf_url,
               'https://arxiv.org/abs/' || arxiv_id as arxiv_url
        from marts.papers
        where first_listed_on between ? and ? and arxiv_id is not null{where}
        order by upvotes desc nulls last, arxiv_id
        limit {int(limit)}
    """
    return sql, [filters.start, filters.end, *params]


def papers_per_day_sql(filters: Filters) -> tuple[str, list]:
    where, params = topic_clause(filters, "topic")
    return (f"select listing_date, sum(papers)::integer as papers from marts.topics_daily "
            f"where listing_date between ? and ?{where} group by 1 order by 1",
            [filters.start, filters.end, *params])


def topic_share_sql(filters: Filters) -> tuple[str, list]:
    where, params = topic_clause(filters, "topic")
    return (f"select week_start, topic, papers, share_of_week from marts.topics_weekly "
            f"where week_start between date_trunc('week', ?::date) and ?{where} order by 1, 2",
            [filters.start, filters.end, *params])


def latest_complete_week(release: Path) -> date | None:
    """Monday of the latest week that ended (Sunday 24:00 UTC) before the latest capture."""
    last = query(release, BOUNDS)["last_capture"].iloc[0]
    if pd.isna(last):
        return None
    last = pd.Timestamp(last).tz_convert("UTC")
    monday = (last - pd.Timedelta(days=last.weekday())).date()
    return monday - timedelta(days=7)


def topic_movers_sql(week: date) -> tuple[str, list]:
    """Each topic's share of the given week vs its mean share over the 4 weeks before (weeks with
    no listed paper are left out of the mean); sorted by the change."""
    return ("""
        with w as (select topic, share_of_week, week_start from marts.topics_weekly
                   where week_start between ?::date - interval 28 day and ?::date)
        select topic,
               max(share_of_week) filter (where week_start = ?::date) as share_latest,
               avg(share_of_week) filter (where week_start < ?::date) as share_previous_4,
               share_latest - share_previous_4 as change
        from w group by topic
        having share_latest is not null and share_previous_4 is not null
        order by change desc, topic
    """, [week, week, week, week])


def team_sizes_sql() -> str:
    return "select author_count, papers, share_of_papers, upvotes_median from marts.authors_count order by 1"


def authors_daily_sql(filters: Filters) -> tuple[str, list]:
    return ("select * from marts.authors_daily where listing_date between ? and ? order by listing_date",
            [filters.start, filters.end])


def top_authors_sql(filters: Filters, limit: int = 20) -> tuple[str, list]:
    return (f"select author_name, papers, upvotes_total, first_listed_on, last_listed_on from marts.authors "
            f"where last_listed_on >= ? and first_listed_on <= ? "
            f"order by papers desc, upvotes_total desc, author_name limit {int(limit)}",
            [filters.start, filters.end])


def top_orgs_sql(filters: Filters, limit: int = 20) -> tuple[str, list]:
    where, params = topic_clause(filters)
    return (f"select organization, count(*) as papers, sum(upvotes) as upvotes from marts.papers "
            f"where organization is not null and first_listed_on between ? and ?{where} "
            f"group by 1 order by papers desc, upvotes desc, organization limit {int(limit)}",
            [filters.start, filters.end, *params])


PAPER = "select * from marts.papers where paper_id = ? or arxiv_id = ?"
PAPER_HISTORY = ("select captured_at, listing_date, upvotes, num_comments, rank, source_format "
                 "from marts.paper_observations where paper_id = ? order by captured_at")
PAPER_TOPICS = "select * from marts.paper_topics where paper_id = ? order by is_primary desc, topic"

RELEASE = "select release, run_id, published_at, mart_rows from quality.release"
VALIDATION_RUNS = "select * from quality.validation_runs order by last_validated_at desc"
VALIDATION_RESULTS = "select * from quality.validation_results order by validated_at desc, suite"
QUARANTINED = "select recorded_at, source_uri, reason, listing_date, run_id from quality.quarantined_files " \
              "order by recorded_at desc, source_uri"
INTAKE = "select status, count(*) as files, sum(rows) as rows from quality.snapshot_files group by 1 order by 1"


def freshness(published_at: datetime, now: datetime | None = None) -> timedelta:
    now = now or datetime.now(published_at.tzinfo)
    return now - published_at
