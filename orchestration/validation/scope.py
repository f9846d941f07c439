"""Which mart rows a run must validate: the rows affected since the mart was last validated.

Every row dbt (re)writes into ``intermediate.int_paper_observations`` carries ``_batch_at`` (the
dbt invocation's start time). A mart's *validation watermark* is the newest ``_batch_at`` whose
effects on the mart were validated successfully; it lives in ``ops.validation_watermarks``, one
row per mart table, and is advanced only by a passing validation (a failed one leaves it, so the
next run validates those rows again, plus whatever is new). "Touched papers" = paper ids of
``int_paper_observations`` rows with ``_batch_at`` after the watermark. Per mart:

==================  ==========================================================================
mart                rows validated (GX) when a watermark exists
==================  ==========================================================================
papers              ``paper_id`` of touched papers (uniqueness of paper_id / arxiv_id and the
                    row count: DuckDB aggregates over the whole table, ``meta.scope = table``)
paper_topics        ``paper_id`` of touched papers (all topics of each: complete groups)
paper_observations  rows of the snapshots in the touched batches (whole snapshots: complete
                    (paper_id, snapshot_id) groups; re-processed card snapshots included)
authors_daily,      every listing date on which a touched paper is listed
topics_daily        (``intermediate.int_listing_papers``; whole dates: complete groups)
authors             every author name ever listed on a touched paper
                    (``staging.stg_api_paper_authors``, all its snapshots: also names that
                    left a paper's latest author list)
authors_count,      whole table every run (a few hundred / thousand rows)
topics_weekly
==================  ==========================================================================

Everything is validated (and the watermark then set) when: the mart has no watermark yet (first
run, or its row in ``ops.validation_watermarks`` was deleted: the way to force a full
validation), the mart's suite file or the dbt models' code changed since its last validation
(``code_md5``: md5 of the suite JSON and of every model checksum in dbt's manifest; a new
expectation or a changed model may concern any row), the topic taxonomy changed (topic marts:
every paper's topics may change), or the dbt tables the scope reads do not exist (a warehouse not
built by this project's dbt models).

The new watermark is ``max(_batch_at)`` read before validating, capped for the incremental marts
by their own dbt watermark (``intermediate.mart_watermarks``) so rows a failed dbt build did not
incorporate yet are validated once it does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from .runner import MART_KEYS, SuiteTarget
from .suites import suite_path

from orchestration.sql import table_exists

OBSERVATIONS = "intermediate.int_paper_observations"
LISTINGS = "intermediate.int_listing_papers"
AUTHORS = "staging.stg_api_paper_authors"
DBT_WATERMARKS = "intermediate.mart_watermarks"
TAXONOMY = "staging.topic_taxonomy"
TOPICS = "staging.topics"
WATERMARKS = "ops.validation_watermarks"

SMALL_MARTS = ("authors_count", "topics_weekly")
TOPIC_MARTS = ("papers", "paper_topics", "topics_daily", "topics_weekly")
# the dbt tables each mart's scope reads, besides int_paper_observations
_SCOPE_NEEDS = {
    "papers": (), "paper_topics": (), "paper_observations": (),
    "authors_daily": (LISTINGS,), "topics_daily": (LISTINGS,), "authors": (AUTHORS,),
}

_DDL = f"""
create table if not exists {WATERMARKS} (
    table_name varchar primary key,
    batch_watermark timestamptz,
    taxonomy_md5 varchar,
    run_id varchar,
    validated_at timestamptz,
    code_md5 varchar
)
"""


@dataclass
class MartScope:
    mart: str
    target: SuiteTarget
    new_watermark: datetime | None  # recorded when the validation passes (None: record nothing)
    taxonomy_md5: str | None
    code_md5: str | None = None


def _ts(value: datetime) -> str:
    return f"'{value.isoformat()}'::timestamptz"


def taxonomy_md5(con) -> str | None:
    """md5 of the taxonomy seeds: terms with their weights, and the topics' base scores."""
    if not table_exists(con, TAXONOMY):
        return None
    weights = ("coalesce(cast(weight as varchar), '')"
               if "weight" in {c for (c,) in con.sql(f"select column_name from (describe {TAXONOMY})").fetchall()}
               else "''")
    base = (f"(select coalesce(string_agg(topic || '=' || coalesce(cast(base_score as varchar), ''), '|' "
            f"order by topic), '') from {TOPICS})" if table_exists(con, TOPICS) else "''")
    return con.sql(
        f"select md5(coalesce(string_agg(topic || '=' || coalesce(term, '') || '=' || {weights}, '|' "
        f"order by topic, term), '') || '#' || {base}) from {TAXONOMY}").fetchall()[0][0]


def models_fingerprint() -> str:
    """md5 over the checksums of every dbt model and seed in the manifest ('' without one)."""
    try:
        from orchestration.dbt_state import manifest_path

        nodes = json.loads(manifest_path().read_text(encoding="utf-8")).get("nodes", {})
    except (OSError, ValueError, ImportError):
        return ""
    parts = sorted(f"{uid}={(node.get('checksum') or {}).get('checksum', '')}"
                   for uid, node in nodes.items()
                   if node.get("resource_type") in ("model", "seed"))
    return hashlib.md5("|".join(parts).encode()).hexdigest()


def code_md5(mart: str, models: str) -> str:
    """What the mart's validated rows were checked with: its suite file and the dbt code."""
    suite = suite_path(mart).read_bytes() if suite_path(mart).is_file() else b""
    return hashlib.md5(suite + b"|" + models.encode()).hexdigest()


def read_watermarks(con) -> dict[str, tuple[datetime | None, str | None, str | None]]:
    if not table_exists(con, WATERMARKS):
        return {}
    cols = {c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_schema = 'ops' "
        "and table_name = 'validation_watermarks'").fetchall()}
    code = "code_md5" if "code_md5" in cols else "null"  # a table of an older version
    return {t: (w, m, c) for t, w, m, c in con.sql(
        f"select table_name, batch_watermark, taxonomy_md5, {code} from {WATERMARKS}"
    ).fetchall()}


def plan_mart_targets(con, marts) -> list[MartScope]:
    """One target per mart, restricted to the rows affected since its last validation."""
    has_obs = table_exists(con, OBSERVATIONS)
    newest = con.sql(f"select max(_batch_at) from {OBSERVATIONS}").fetchall()[0][0] \
        if has_obs else None
    dbt_marks: dict[str, datetime] = {}
    if table_exists(con, DBT_WATERMARKS):
        dbt_marks = dict(con.sql(
            f"select model_name, batch_watermark from {DBT_WATERMARKS}").fetchall())
    marks = read_watermarks(con)
    md5 = taxonomy_md5(con)
    models = models_fingerprint()
    scopes = []
    for mart in marts:
        table = f"marts.{mart}"
        key = MART_KEYS.get(mart)
        new = newest
        if new is not None and dbt_marks.get(mart) is not None:
            new = min(new, dbt_marks[mart])
        old, old_md5, old_code = marks.get(table, (None, None, None))
        code = code_md5(mart, models)
        where, scope = None, "all rows"
        if mart in SMALL_MARTS:
            scope = "all rows (small mart)"
        elif not has_obs or any(not table_exists(con, t) for t in _SCOPE_NEEDS.get(mart, ())):
            scope = "all rows (no dbt batch bookkeeping to scope by)"
        elif old is None:
            scope = "all rows (first validation: no watermark)"
        elif old_code != code:
            scope = "all rows (suite or dbt models changed since the last validation)"
        elif mart in TOPIC_MARTS and old_md5 != md5:
            scope = "all rows (topic taxonomy changed)"
        else:
            where, scope = _touched_where(mart, old)
        scopes.append(MartScope(
            mart=mart,
            target=SuiteTarget(suite=mart, table=table, where=where, key_column=key,
                               scope=scope),
            new_watermark=new, taxonomy_md5=md5, code_md5=code))
    return scopes


def _touched_where(mart: str, since: datetime) -> tuple[str, str]:
    touched = f"select paper_id from {OBSERVATIONS} where _batch_at > {_ts(since)}"
    when = f"dbt batches after {since.isoformat(timespec='seconds')}"
    if mart in ("papers", "paper_topics"):
        return f"paper_id in ({touched})", f"paper_id of papers observed in {when}"
    if mart == "paper_observations":
        return (f"snapshot_id in (select snapshot_id from {OBSERVATIONS} "
                f"where _batch_at > {_ts(since)})", f"rows of the snapshots of {when}")
    if mart in ("authors_daily", "topics_daily"):
        return (f"listing_date in (select listing_date from {LISTINGS} "
                f"where paper_id in ({touched}))",
                f"listing dates of papers observed in {when}")
    if mart == "authors":
        return (f"author_name in (select author_name from {AUTHORS} "
                f"where arxiv_id in ({touched}))",
                f"author names of papers observed in {when}")
    return None, "all rows"  # a mart without a scope rule: validated whole


def record_watermarks(con, scopes: list[MartScope], outcomes, *, run_id: str) -> list[str]:
    """Advance the watermark of each mart whose validation passed; returns the tables advanced."""
    con.execute("create schema if not exists ops")
    con.execute(_DDL)
    con.execute(f"alter table {WATERMARKS} add column if not exists code_md5 varchar")
    done = []
    for scope, outcome in zip(scopes, outcomes):
        if not outcome.success or outcome.skipped or scope.new_watermark is None:
            continue
        con.execute(
            f"insert or replace into {WATERMARKS} (table_name, batch_watermark, taxonomy_md5, "
            "run_id, validated_at, code_md5) values (?, ?, ?, ?, now(), ?)",
            [scope.target.table, scope.new_watermark, scope.taxonomy_md5, run_id,
             scope.code_md5])
        done.append(scope.target.table)
    return done
