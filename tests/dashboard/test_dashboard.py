"""The dashboard (dashboard/app.py) rendered headless by Streamlit's AppTest on the demo release.

Every figure checked here is computed independently from the demo JSON files (tests/demo_facts.py).
The last test publishes a new release while a session is open: the next rerun shows it.
"""

from __future__ import annotations

import gc
from datetime import date

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests import demo_facts
from tests.conftest import DEMO_BAD_FILE, copy_home
from orchestration.project import PUBLIC_MARTS
from orchestration.publish import publish
from tests.pipeline_runs import REPO

APP = str(REPO / "dashboard" / "app.py")


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = page
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


#: the columns that tell the page's tables apart
TABLES = {
    "top_week": 0, "top_range": 1,  # the two tables of papers, in page order
    "papers_per_day": {"listing_date", "papers"}, "rising": 0, "falling": 1,
    "team_sizes": {"author_count", "share_of_papers"}, "authors_daily": {"authors_total", "team_solo"},
    "top_authors": {"author_name"}, "top_orgs": {"organization", "upvotes"},
    "history": {"captured_at", "rank"}, "paper_topics": {"topic", "is_primary"},
    "intake": {"status", "files"}, "validation_runs": {"suites_failed"}, "quarantined": {"source_uri", "reason"},
}
ORDERED_BY = {"top_week": {"hf_url"}, "top_range": {"hf_url"}, "rising": {"change"}, "falling": {"change"}}


def frame(at: AppTest, name: str):
    """The page's table ``name``: the one with its columns (or the n-th of those alike)."""
    frames = [d.value for d in at.dataframe]
    if name in ORDERED_BY:
        alike = [f for f in frames if ORDERED_BY[name] <= set(f.columns)]
        assert len(alike) > TABLES[name], f"no table {name!r}"
        return alike[TABLES[name]]
    found = [f for f in frames if TABLES[name] <= set(f.columns) and not (
        name == "papers_per_day" and len(f.columns) != 2)]
    assert found, f"no table {name!r}"
    return found[0]


@pytest.fixture()
def demo(demo_home, monkeypatch):
    monkeypatch.setenv("PAPERS_HOME", str(demo_home))
    # Garbage that earlier tests of this worker left (SQLAlchemy connections of in-process Dagster
    # runs) is collected here, in the thread that made it. Collected later, in AppTest's script
    # thread while Streamlit parses the page with `ast.parse`, its finalizers log tracebacks, which
    # Python 3.11 formats with a nested `ast.parse`; the nested call resets the interpreter-wide
    # AST depth counter of the outer one: "SystemError: AST constructor recursion depth mismatch",
    # and the page fails to compile.
    gc.collect()
    return demo_home


def test_top_papers_of_a_week_and_the_range(demo):
    at = open_page("top")
    at.selectbox(key="week").set_value(date(2025, 10, 13)).run()
    top = frame(at, "top_week")
    assert (top.iloc[0]["arxiv_id"], top.iloc[0]["upvotes"]) == demo_facts.top_paper(date(2025, 10, 13),
                                                                                    date(2025, 10, 19))
    assert top.iloc[0]["hf_url"] == f"https://hf.barry1.top/papers/{top.iloc[0]['arxiv_id']}"
    # one morning capture per paper: nothing is settled, nothing measured as rising
    assert set(top["upvotes_status"]) == {"provisional"}
    whole = frame(at, "top_range")
    assert (whole.iloc[0]["arxiv_id"], whole.iloc[0]["upvotes"]) == demo_facts.top_paper(date(2025, 10, 1),
                                                                                        date(2025, 10, 31))
    assert len(whole) == 20


def test_trends_papers_per_day_and_topic_movers(demo):
    at = open_page("trends")
    per_day = frame(at, "papers_per_day")
    assert {d.date(): n for d, n in zip(per_day["listing_date"], per_day["papers"], strict=True)} == \
        demo_facts.papers_per_day()
    assert at.metric[0].value == str(sum(demo_facts.papers_per_day().values()))
    # latest complete week before the last capture (Fri 2025-10-31) is 2025-W43
    assert "2025-W43" in " ".join(c.value for c in at.caption)
    rising, falling = frame(at, "rising"), frame(at, "falling")
    assert (rising["change"] > 0).all() and (falling["change"] < 0).all()
    # a date range narrows the series
    at.date_input(key="dates").set_value((date(2025, 10, 6), date(2025, 10, 10))).run()
    per_day = frame(at, "papers_per_day")
    assert int(per_day["papers"].sum()) == sum(n for d, n in demo_facts.papers_per_day().items()
                                               if date(2025, 10, 6) <= d <= date(2025, 10, 10))


def test_people_team_sizes_and_authors_per_day(demo):
    at = open_page("people")
    sizes = frame(at, "team_sizes")
    assert dict(zip(sizes["author_count"], sizes["papers"], strict=True)) == demo_facts.team_sizes()
    daily = frame(at, "authors_daily")
    assert len(daily) == len(demo_facts.papers_per_day())
    assert len(frame(at, "top_authors")) == 20 and len(frame(at, "top_orgs")) > 0


def test_paper_page_shows_one_paper(demo):
    pid, upvotes = demo_facts.top_paper(date(2025, 10, 1), date(2025, 10, 31))
    at = open_page("paper", paper=pid)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Upvotes (latest)"] == str(upvotes)
    assert metrics["Authors"] == str(demo_facts.papers()[pid]["authors"])
    assert len(frame(at, "history")) == demo_facts.papers()[pid]["captures"]
    topics = frame(at, "paper_topics")
    assert {"topic", "is_primary"} <= set(topics.columns) and topics["is_primary"].sum() == 1


def test_data_quality_page(demo):
    at = open_page("quality")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Quarantined"] == "1"
    assert list(frame(at, "quarantined")["source_uri"]) == [DEMO_BAD_FILE.name]
    intake = frame(at, "intake")
    assert dict(zip(intake["status"], intake["files"], strict=True)) == {"loaded": 22, "quarantined": 1}
    runs = frame(at, "validation_runs")
    # the bad file was rejected by the parser (not JSON), before any suite: every suite passed
    assert len(runs) == 1 and bool(runs.iloc[0]["success"]) and runs.iloc[0]["suites_failed"] == 0
    assert metrics["Rows in the marts"] != "0"


def test_a_publish_while_the_page_is_open_is_seen_by_the_next_query(demo_home, tmp_path, monkeypatch):
    home = copy_home(demo_home, tmp_path / "home")
    monkeypatch.setenv("PAPERS_HOME", str(home))
    at = open_page("trends")
    before = frame(at, "papers_per_day")
    first_release = (home / "published").resolve()
    # a reader holding the current release open, as another dashboard process would
    reader = duckdb.connect(str(first_release / "warehouse.duckdb"), read_only=True)
    try:
        # the marts change (one listing date less) and a new release is published meanwhile
        with duckdb.connect(str(home / "warehouse.duckdb")) as con:
            con.execute("delete from marts.topics_daily where listing_date = '2025-10-01'")
        publish(home / "warehouse.duckdb", home / "published", tables=[f"marts.{m}" for m in PUBLIC_MARTS],
                run_id="while-open")
        assert (home / "published").resolve() != first_release
        at.run()  # the same session, next rerun
        assert not at.exception, [e.value for e in at.exception]
        after = frame(at, "papers_per_day")
        assert len(after) == len(before) - 1
        assert date(2025, 10, 1) not in {d.date() for d in after["listing_date"]}
        at.query_params["page"] = "quality"
        at.run()
        assert "while-open" in " ".join(c.value for c in at.caption)
        assert reader.execute("select count(*) from marts.topics_daily where listing_date = '2025-10-01'"
                              ).fetchall()[0][0] > 0
    finally:
        reader.close()
