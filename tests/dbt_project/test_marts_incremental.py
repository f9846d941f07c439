"""dbt-level tests of the marts' incremental behaviour and identity resolution.

The raw tables are written here directly (columns exactly as the interface spec: what dlt loads),
from the real fixtures with plain json, or from small API-shaped rows built in the test; then the
dbt project is built with `dbt build` into a temporary DuckDB file. Checks:

* adding one snapshot to a warehouse holding the other fixtures recomputes only the listing dates
  that snapshot touches (the dbt log says which), and the incremental result equals a full build;
* re-running with nothing new changes no mart row;
* the window comes from the change ledger exactly as the pipeline's dbt asset takes it
  (orchestration/ops/ledger.py): each insert here is one dlt load with its own load id;
* a page-text card whose title equals an API paper's title resolves to that paper, also when the
  API row arrives after the card (the `title:` paper disappears, its observation moves).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
from pathlib import Path

import duckdb
import pytest

from dbt.cli.main import dbtRunner

from orchestration.dbt_state import project_md5
from orchestration.defs.dbt.build import close_dbt_duckdb, close_dbt_logs
from orchestration.ops import ledger

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

from tests.pipeline_runs import REPO
PROJECT = REPO / "dbt_project"
FIXTURES = REPO.parent / "shared" / "fixtures"

MARTS = ["papers", "paper_observations", "authors_count", "authors_daily", "authors",
         "paper_topics", "topics_daily", "topics_weekly"]

API_DDL = """
    snapshot_id varchar not null, source_uri varchar not null, listing_date date not null,
    captured_at timestamptz not null, rank integer not null, arxiv_id varchar not null,
    title varchar, summary varchar, authors_json varchar, author_count integer,
    published_at timestamptz, upvotes integer, num_comments integer, github_repo varchar,
    github_stars integer, project_page varchar, organization varchar, ai_keywords_json varchar,
    ai_summary varchar, submitted_on_daily_at timestamptz, submitted_by varchar, _dlt_load_id varchar
"""
CARD_DDL = """
    snapshot_id varchar not null, source_uri varchar not null, captured_at timestamptz not null,
    rank integer not null, title varchar not null, summary varchar, author_count integer,
    published_on date, num_comments integer, _dlt_load_id varchar
"""
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


# ------------------------------------------------------------------ raw loading (plain json)

def _captured(name: str) -> dt.datetime:
    m = re.search(r"captured-(\d{8})(?:T(\d{6})Z)?", name)
    return dt.datetime.strptime(m.group(1) + (m.group(2) or "000000"), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)


def api_file_rows(path: Path) -> list[tuple]:
    raw = path.read_bytes()
    body = json.loads(raw)
    return api_rows(body, hashlib.sha256(raw).hexdigest(), path.name, dt.date.fromisoformat(path.name[:10]),
                    _captured(path.name))


def api_rows(body: list[dict], snapshot_id: str, uri: str, listing_date: dt.date, captured_at: dt.datetime):
    out = []
    for rank, rec in enumerate(body, 1):
        p = rec["paper"]
        authors = [{"name": a.get("name"), "hidden": bool(a.get("hidden", False))} for a in p.get("authors", [])]
        org = rec.get("organization") or p.get("organization")
        out.append((
            snapshot_id, uri, listing_date, captured_at, rank, str(p["id"]), p.get("title") or rec.get("title"),
            p.get("summary"), json.dumps(authors), len(authors), p.get("publishedAt"), p.get("upvotes"),
            rec.get("numComments") or 0, p.get("githubRepo"), p.get("githubStars"), p.get("projectPage"),
            (org.get("fullname") or org.get("name")) if isinstance(org, dict) else None,
            json.dumps(p["ai_keywords"]) if p.get("ai_keywords") is not None else None,
            p.get("ai_summary"), p.get("submittedOnDailyAt"), (rec.get("submittedBy") or {}).get("name"), "test",
        ))
    return out


def card_file_rows(path: Path) -> list[tuple]:
    raw = path.read_bytes()
    captured = _captured(path.name)
    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", raw.decode("utf-8"))]
    out = []
    for i, block in enumerate(blocks):
        m = re.match(r"\s*•\s*(\d+)\s+authors?\n·\n(\w{3}) (\d{1,2})(?:, (\d{4}))?(?: (\d+))?\s*$", block)
        if m:
            published = dt.date(int(m.group(4) or captured.year), MONTHS[m.group(2)], int(m.group(3)))
            out.append((hashlib.sha256(raw).hexdigest(), path.name, captured, len(out) + 1, blocks[i - 2].strip(),
                        blocks[i - 1].strip(), int(m.group(1)), published, int(m.group(5) or 0), "test"))
    return out


def loadable_api_files() -> list[Path]:
    files = []
    for path in sorted((FIXTURES / "daily_papers").glob("*.json")):
        try:
            body = json.loads(path.read_bytes())
        except ValueError:
            continue
        if isinstance(body, list) and all(isinstance(e, dict) and "paper" in e for e in body):
            files.append(path)
    return files


_LOADS = itertools.count(1)


def insert(db: Path, table: str, rows: list[tuple]) -> None:
    """One dlt load: the rows stamped with a new, larger load id (their last column), and the load
    recorded as complete in raw._dlt_loads."""
    load_id = f"{1_700_000_000 + next(_LOADS)}.000000"
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists raw")
        con.execute(f"create table if not exists raw.api_fetched_papers ({API_DDL})")
        con.execute(f"create table if not exists raw.landed_api_papers ({API_DDL})")
        con.execute(f"create table if not exists raw.landed_page_cards ({CARD_DDL})")
        con.execute("create table if not exists raw._dlt_loads (load_id varchar not null, schema_name varchar, "
                    "status bigint not null, inserted_at timestamptz not null, schema_version_hash varchar)")
        if rows:
            rows = [(*row[:-1], load_id) for row in rows]
            con.executemany(f"insert into raw.{table} values ({', '.join('?' * len(rows[0]))})", rows)
            con.execute("insert into raw._dlt_loads values (?, 'raw', 0, now(), null)", [load_id])
    finally:
        con.close()


# ------------------------------------------------------------------ dbt

def dbt_build(db: Path, *extra: str) -> str:
    """`dbt build` over the change window, as the pipeline's dbt asset runs it: the loads after
    the ledger's dbt watermark, or a full refresh (asked for, first build, changed project)."""
    code = project_md5()
    con = duckdb.connect(str(db))
    try:
        window = ledger.plan(con, ledger.DBT, code, full="--full-refresh" in extra)
    finally:
        con.close()
    extra = tuple(a for a in extra if a != "--full-refresh") + (("--full-refresh",) if window.full else ())
    work = db.parent / f"dbt_{db.stem}"
    log = work / "logs" / "dbt.log"
    start = log.stat().st_size if log.exists() else 0
    # in this process, as the pipeline runs it (orchestration/defs/dbt/build.py)
    args = ["build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--vars",
            json.dumps({"warehouse": str(db)}), "--target-path", str(work / "target"), "--log-path",
            str(work / "logs"), "--log-format-file", "text", "--no-use-colors-file", "--quiet",
            "--no-send-anonymous-usage-stats", *extra]
    try:
        result = dbtRunner().invoke(args)
    finally:
        close_dbt_duckdb()
        close_dbt_logs()
    output = log.read_text()[start:]
    assert result.success, output[-6000:]
    con = duckdb.connect(str(db))
    try:
        ledger.advance(con, ledger.DBT, window, code, None)
    finally:
        con.close()
    return output


def snapshot_marts(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for mart in MARTS:
            rows = con.execute(f"select * from marts.{mart}").fetchall()
            out[mart] = sorted((tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows), key=repr)
        return out
    finally:
        con.close()


def query(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def recomputed_dates(log: str, model: str) -> str:
    m = re.search(rf"{model}: incremental, recomputing ([^\n]*)", log)
    assert m, f"no incremental decision logged for {model}:\n{log[-3000:]}"
    return m.group(1).strip()


# ------------------------------------------------------------------ fixtures-based incremental run

@pytest.fixture(scope="module")
def incremental_runs(tmp_path_factory):
    """Warehouse A: all fixtures but the last API file, built; then that file added and rebuilt;
    then rebuilt again with nothing new. Warehouse B: everything at once (reference)."""
    tmp = tmp_path_factory.mktemp("marts_incremental")
    api_files = loadable_api_files()
    held_back = api_files[-1]
    cards = [r for p in sorted((FIXTURES / "listing_text").glob("*.txt")) for r in card_file_rows(p)]

    inc = tmp / "incremental.duckdb"
    for path in api_files[:-1]:
        # two files go through the "fetched" table so the union of both API raw tables is exercised
        table = "api_fetched_papers" if path.name.startswith(("2025-03-17", "2024-06-12_captured-20240613")) \
            else "landed_api_papers"
        insert(inc, table, api_file_rows(path))
    insert(inc, "landed_page_cards", cards)
    first = dbt_build(inc)
    insert(inc, "landed_api_papers", api_file_rows(held_back))
    second = dbt_build(inc)
    after_second = snapshot_marts(inc)
    third = dbt_build(inc)
    after_third = snapshot_marts(inc)

    ref = tmp / "reference.duckdb"
    for path in api_files:
        insert(ref, "landed_api_papers", api_file_rows(path))
    insert(ref, "landed_page_cards", cards)
    dbt_build(ref)
    return {"held_back": held_back, "logs": (first, second, third), "inc": inc,
            "after_second": after_second, "after_third": after_third, "reference": snapshot_marts(ref)}


def _without_source_format(marts: dict) -> dict:
    """The reference loads every file as `api_file`; the incremental warehouse fetched two."""
    def norm(v):
        if v == "api_fetch":
            return "api_file"
        if isinstance(v, list) and "api_fetch" in v:
            return sorted({"api_file" if x == "api_fetch" else x for x in v})
        return v
    return {m: sorted((tuple(norm(v) for v in r) for r in rows), key=repr) for m, rows in marts.items()}


def test_first_build_is_full(incremental_runs):
    first = incremental_runs["logs"][0]
    assert "incremental, recomputing" not in first  # no existing tables: plain full build


def test_new_snapshot_recomputes_only_its_listing_date(incremental_runs):
    second = incremental_runs["logs"][1]
    listing_date = incremental_runs["held_back"].name[:10]
    assert recomputed_dates(second, "authors_daily") == f"1 listing date(s): {listing_date}"
    assert recomputed_dates(second, "topics_daily") == f"1 listing date(s): {listing_date}"


def test_incremental_equals_full_build(incremental_runs):
    got = _without_source_format(incremental_runs["after_second"])
    want = _without_source_format(incremental_runs["reference"])
    for mart in MARTS:
        assert got[mart] == want[mart], mart


def test_rerun_without_new_data_changes_nothing(incremental_runs):
    third = incremental_runs["logs"][2]
    assert recomputed_dates(third, "authors_daily") == "0 listing date(s)"
    assert recomputed_dates(third, "topics_daily") == "0 listing date(s)"
    assert incremental_runs["after_third"] == incremental_runs["after_second"]


def test_reloading_a_snapshot_adds_no_observation(incremental_runs, tmp_path):
    """The same snapshot landing twice in raw (re-load / fetched and landed) is one observation,
    and the incremental build equals a full rebuild of the same raw (the fetch wins)."""
    inc = incremental_runs["inc"]
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(inc.read_bytes())
    insert(copy, "landed_api_papers", api_file_rows(incremental_runs["held_back"]))
    insert(copy, "api_fetched_papers", api_file_rows(incremental_runs["held_back"]))
    log = dbt_build(copy)
    listing_date = incremental_runs["held_back"].name[:10]
    assert recomputed_dates(log, "authors_daily") == f"1 listing date(s): {listing_date}"
    after = snapshot_marts(copy)
    assert _without_source_format(after) == _without_source_format(incremental_runs["after_second"])
    rebuilt = tmp_path / "rebuilt.duckdb"
    rebuilt.write_bytes(copy.read_bytes())
    dbt_build(rebuilt, "--full-refresh")
    assert snapshot_marts(rebuilt) == after


def test_snapshot_loaded_twice_into_one_raw_table_gives_one_abstract_per_paper(incremental_runs, tmp_path):
    """A load repeated after a crash can put a snapshot into one raw table twice. Abstracts are read
    from raw by (source_format, snapshot_id, rank), which then matches two rows: a full rebuild
    must still give each paper one row and one abstract, as without the duplicate."""
    inc = incremental_runs["inc"]
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(inc.read_bytes())
    held_back = api_file_rows(incremental_runs["held_back"])
    insert(copy, "landed_api_papers", held_back)
    assert query(copy, "select count(*) from raw.landed_api_papers where snapshot_id = ?",
                 [held_back[0][0]])[0][0] == 2 * len(held_back)
    dbt_build(copy, "--full-refresh")
    assert snapshot_marts(copy) == incremental_runs["after_second"]
    abstracts = dict(query(copy, "select paper_id, summary from marts.papers"))
    papers = {r[5]: r[7] for r in held_back}  # arxiv_id -> summary as loaded
    assert all(" ".join(papers[pid].split()) == abstracts[pid] for pid in papers if papers[pid])


def test_tables_of_an_older_layout_are_rebuilt_not_failed(incremental_runs, tmp_path):
    """A warehouse built before staging stopped copying abstracts (its staging and attributes tables
    have a `summary` column): the next build drops the column (on_schema_change='sync_all_columns')
    instead of failing on the schema change, and the marts keep their content."""
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(incremental_runs["inc"].read_bytes())
    con = duckdb.connect(str(copy))
    try:
        con.execute("alter table staging.stg_api_paper_observations add column summary varchar")
        con.execute("alter table intermediate.int_paper_attributes add column summary varchar")
    finally:
        con.close()
    dbt_build(copy)
    assert not query(copy, "select table_name from information_schema.columns where column_name = 'summary' "
                           "and table_schema in ('staging', 'intermediate') and table_name <> 'stg_page_card_observations' "
                           "and table_name <> 'stg_api_paper_abstracts'")
    assert snapshot_marts(copy) == incremental_runs["after_second"]
    dbt_build(copy)
    assert snapshot_marts(copy) == incremental_runs["after_second"]


# ------------------------------------------------------------------ identity on small API-shaped data

def _paper(pid: str, title: str, upvotes: int, authors: int, summary: str = "An abstract.") -> dict:
    return {"paper": {"id": pid, "title": title, "summary": summary, "upvotes": upvotes,
                      "publishedAt": "2025-02-01T10:00:00.000Z",
                      "authors": [{"name": f"Author {pid} {i}", "hidden": False} for i in range(authors)]},
            "numComments": 1}


def _cards(snapshot: str, captured: dt.datetime, titles: list[tuple[str, int]]) -> list[tuple]:
    return [(snapshot, "page.txt", captured, rank, title, "A card abstract.", n, dt.date(2025, 1, 30), 0, "test")
            for rank, (title, n) in enumerate(titles, 1)]


def test_text_card_merges_with_api_paper_of_same_title(tmp_path):
    db = tmp_path / "merge.duckdb"
    t0 = dt.datetime(2025, 2, 3, 12, tzinfo=dt.UTC)
    body = [_paper("2502.00010", "Attention Is All You Need, Again", 12, 3),
            _paper("2502.00020", "Another Paper", 5, 1)]
    insert(db, "landed_api_papers", api_rows(body, "snap-api-1", "2025-02-03.json", dt.date(2025, 2, 3), t0))
    # same title up to case, punctuation, unicode and whitespace; plus a card no API row has
    insert(db, "landed_page_cards", _cards("snap-text-1", t0 + dt.timedelta(hours=1), [
        ("attention is all you need \u2014  AGAIN!", 3), ("A Paper Only Seen As Text", 7)]))
    dbt_build(db)

    papers = query(db, "select paper_id, arxiv_id, sources, observations, author_count from marts.papers order by 1")
    assert len(papers) == 3
    merged = [p for p in papers if p[0] == "2502.00010"][0]
    assert merged[1] == "2502.00010" and merged[2] == ["api_file", "page_text"] and merged[3] == 2
    text_only = [p for p in papers if p[1] is None]
    assert len(text_only) == 1 and text_only[0][0].startswith("title:")
    stable_key = text_only[0][0]
    assert stable_key == "title:" + hashlib.md5(b"apaperonlyseenastext").hexdigest()
    assert query(db, "select count(*) from marts.paper_observations where paper_id = '2502.00010'")[0][0] == 2
    # the card observation stays out of per-listing-date marts
    assert query(db, "select papers from marts.authors_daily")[0][0] == 2
    assert query(db, "select sum(papers) from marts.authors_count")[0][0] == 3

    # more data arrives (an unrelated paper): the title key does not change
    t1 = t0 + dt.timedelta(days=1)
    insert(db, "landed_api_papers", api_rows([_paper("2502.00030", "Unrelated", 1, 2)], "snap-api-2",
                                             "2025-02-04.json", dt.date(2025, 2, 4), t1))
    dbt_build(db)
    assert query(db, "select count(*) from marts.papers where paper_id = ?", [stable_key])[0][0] == 1

    # later, the API lists the text-only paper: its card merges into the arXiv paper
    t2 = t0 + dt.timedelta(days=2)
    insert(db, "landed_api_papers", api_rows([_paper("2502.00040", "A paper only seen as text", 9, 7)],
                                             "snap-api-3", "2025-02-05.json", dt.date(2025, 2, 5), t2))
    log = dbt_build(db)
    # only the new date: the other card of the re-keyed snapshot (paper 2502.00010, listed on
    # 2025-02-03) is re-processed with it but unchanged, so it stays out of the window
    assert recomputed_dates(log, "authors_daily") == "1 listing date(s): 2025-02-05"
    assert query(db, "select count(*) from marts.papers where paper_id like 'title:%'")[0][0] == 0
    assert query(db, "select count(*) from marts.paper_observations where paper_id like 'title:%'")[0][0] == 0
    row = query(db, "select sources, observations, upvotes, listing_days from marts.papers where paper_id = '2502.00040'")
    assert row == [(["api_file", "page_text"], 2, 9, 1)]
    assert query(db, "select count(*) from marts.papers")[0][0] == 4

    # and the incremental result equals a full build of the same raw data
    full = tmp_path / "merge_full.duckdb"
    full.write_bytes(db.read_bytes())
    dbt_build(full, "--full-refresh")
    assert snapshot_marts(full) == snapshot_marts(db)
