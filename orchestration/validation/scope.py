"""Which mart rows a run must validate: the rows of the loads no passing validation took in yet.

The change ledger (``orchestration/ops/ledger.py``) keeps one watermark per mart,
``validation:marts.<mart>``: the newest dlt load whose effects on the mart were validated
successfully, and the md5 of the code they were validated with (the mart's suite file and the dbt
project). It is advanced only by a passing validation (a failed one leaves it, so the next run
validates those rows again, plus whatever is new), up to the load the last dbt build took in.
"Touched papers" = paper ids of ``int_paper_observations`` rows whose ``_dlt_load_id`` is after the
watermark. Per mart:

==================  ==========================================================================
mart                rows validated (GX) when a watermark exists
==================  ==========================================================================
papers              ``paper_id`` of touched papers
paper_topics        ``paper_id`` of touched papers (all topics of each)
paper_observations  rows of the snapshots holding rows of the window (whole snapshots;
                    re-keyed card snapshots included)
authors_daily,      every listing date on which a touched paper is listed
topics_daily        (``intermediate.int_listing_papers``; whole dates)
authors             every author name ever listed on a touched paper
                    (``staging.stg_api_paper_authors``, all its snapshots: also names that
                    left a paper's latest author list)
authors_count,      whole table every run (a few hundred / thousand rows)
topics_weekly
==================  ==========================================================================

Everything is validated (and the watermark then set) when the mart has no watermark yet (first
run, or its row in ``ops.watermarks`` was deleted: the way to force a full validation), when its
suite or the dbt project changed since its last validation (a new expectation, a changed model
or taxonomy may concern any row), or when the dbt tables the scope reads do not exist (a
warehouse not built by this project's dbt models).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .runner import MART_KEYS, SuiteTarget
from .suites import suite_path

from orchestration.dbt_state import project_md5
from orchestration.ops import ledger
from orchestration.sql import quote_literal, table_exists

OBSERVATIONS = ledger.OBSERVATIONS
LISTINGS = "intermediate.int_listing_papers"
AUTHORS = "staging.stg_api_paper_authors"

SMALL_MARTS = ("authors_count", "topics_weekly")
# the dbt tables a mart's scope reads besides int_paper_observations
_SCOPE_NEEDS = {"authors_daily": LISTINGS, "topics_daily": LISTINGS, "authors": AUTHORS}


@dataclass
class MartScope:
    mart: str
    target: SuiteTarget
    window: ledger.Window | None  # recorded when the validation passes (None: record nothing)
    code_md5: str


def consumer(mart: str) -> str:
    """The mart's watermark in the change ledger."""
    return f"validation:marts.{mart}"


def code_md5(mart: str, project: str) -> str:
    """What the mart's validated rows were checked with: its suite file and the dbt project."""
    path = suite_path(mart)
    suite = path.read_bytes() if path.is_file() else b""
    return hashlib.md5(suite + b"|" + project.encode()).hexdigest()


def plan_mart_targets(con, marts) -> list[MartScope]:
    """One target per mart, restricted to the rows of the loads not validated yet."""
    has_obs = table_exists(con, OBSERVATIONS)
    built = ledger.read(con, ledger.DBT)  # validated up to what dbt took in
    project = project_md5()
    scopes = []
    for mart in marts:
        code = code_md5(mart, project)
        window = ledger.plan(con, consumer(mart), code, through=built[0]) if built else None
        if not has_obs or (mart in _SCOPE_NEEDS and not table_exists(con, _SCOPE_NEEDS[mart])):
            window = None
        where, scope = None, "all rows"
        if mart in SMALL_MARTS:
            scope = "all rows (small mart)"
        elif window is None:
            scope = "all rows (no dbt build recorded to scope by)"
        elif window.full:
            scope = f"all rows ({window.reason})"
        else:
            where, scope = _touched_where(mart, window.loaded_after)
        scopes.append(MartScope(
            mart=mart,
            target=SuiteTarget(suite=mart, table=f"marts.{mart}", where=where, key_column=MART_KEYS.get(mart),
                               scope=scope),
            window=window, code_md5=code))
    return scopes


def _touched_where(mart: str, since: str) -> tuple[str, str]:
    new = f"_dlt_load_id > {quote_literal(since)}" if since else "true"
    touched = ledger.touched_papers_sql(since)
    when = ledger.after_load(since)
    if mart in ("papers", "paper_topics"):
        return f"paper_id in ({touched})", f"paper_id of papers observed in {when}"
    if mart == "paper_observations":
        return (f"snapshot_id in (select snapshot_id from {OBSERVATIONS} where {new})",
                f"rows of the snapshots of {when}")
    if mart in ("authors_daily", "topics_daily"):
        return (f"listing_date in (select listing_date from {LISTINGS} where paper_id in ({touched}))",
                f"listing dates of papers observed in {when}")
    if mart == "authors":
        return (f"author_name in (select author_name from {AUTHORS} where arxiv_id in ({touched}))",
                f"author names of papers observed in {when}")
    return None, "all rows"  # a mart without a scope rule: validated whole


def record_watermarks(con, scopes: list[MartScope], outcomes, *, run_id: str) -> list[str]:
    """Advance the watermark of each mart whose validation passed; returns the tables advanced."""
    done = []
    for scope, outcome in zip(scopes, outcomes):
        if not outcome.success or scope.window is None:
            continue
        ledger.advance(con, consumer(scope.mart), scope.window, scope.code_md5, run_id)
        done.append(scope.target.table)
    return done
