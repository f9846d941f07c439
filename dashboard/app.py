"""The analysts' dashboard: `make dashboard` (Streamlit on 127.0.0.1), reading only PAPERS_HOME/published.

Pages (sidebar, or `?page=<key>` in the URL): top papers, trends, people and orgs, one paper, data
quality. Every page takes the sidebar's filters (listing-date range, primary topic). Queries go to
the release `published` points at when the page runs (dashboard/data.py); results are cached by
that release's path, so a new release is read as soon as it is published.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run dashboard/app.py`

from dashboard import data  # noqa: E402

PAGES = {
    "top": "Top papers",
    "trends": "Trends",
    "people": "People and orgs",
    "paper": "Paper",
    "quality": "Data quality",
}


@st.cache_data(max_entries=512, show_spinner=False)
def q(release: str, sql: str, params: tuple = ()) -> pd.DataFrame:
    """A query on one release (by its resolved path: a new release is a new cache key)."""
    return data.query(Path(release), sql, list(params))


def run(release: str, sql_params) -> pd.DataFrame:
    sql, params = sql_params if isinstance(sql_params, tuple) else (sql_params, [])
    return q(release, sql, tuple(params))


def sidebar(release: str) -> tuple[str, data.Filters]:
    keys = list(PAGES)
    wanted = st.query_params.get("page", "top")
    page = st.sidebar.radio("Page", keys, index=keys.index(wanted) if wanted in keys else 0,
                            format_func=PAGES.get)
    st.query_params["page"] = page
    bounds = run(release, data.BOUNDS).iloc[0]
    first, last = bounds["first"].date(), bounds["last"].date()
    picked = st.sidebar.date_input("Listing dates", value=(first, last), min_value=first, max_value=last,
                                   key="dates")
    start, end = (picked if isinstance(picked, tuple) and len(picked) == 2 else (first, last))
    topics = ["(all)", *run(release, data.TOPICS)["topic"]]
    topic = st.sidebar.selectbox("Primary topic", topics)
    st.sidebar.caption(f"Release `{Path(release).name}`")
    return page, data.Filters(start, end, None if topic == "(all)" else topic)


def page_top(release: str, f: data.Filters) -> None:
    st.header("Top papers")
    st.caption(f"Upvotes are **settled** once a paper's latest capture is {data.SETTLE_DAYS}+ days after its "
               "listing date; **rising**: not settled and still gaining between captures; **provisional**: "
               "not settled, no rise measured yet (one capture so far).")
    weeks = run(release, (
        "select distinct date_trunc('week', first_listed_on)::date as week from marts.papers "
        "where first_listed_on between ? and ? order by 1 desc", [f.start, f.end]))["week"]
    if weeks.empty:
        st.info("No paper listed in this date range.")
        return
    week = st.selectbox("Week (Monday)", list(weeks.dt.date), key="week",
                        format_func=lambda d: f"{d:%G-W%V} (from {d})")
    week_f = data.Filters(max(f.start, week), min(f.end, week + timedelta(days=6)), f.topic)
    top_week = run(release, data.top_papers_sql(week_f, 10))
    if not top_week.empty:
        best = top_week.iloc[0]
        st.metric(f"Top paper of {week:%G-W%V}", f"{best['upvotes']} upvotes", help=best["title"])
    st.subheader(f"Week {week:%G-W%V}")
    show_papers(top_week)
    st.subheader(f"Whole range {f.start} – {f.end}")
    top_range = run(release, data.top_papers_sql(f, 20))
    show_papers(top_range)
    if not top_range.empty:
        st.altair_chart(alt.Chart(top_range).mark_bar().encode(
            x=alt.X("upvotes:Q"), y=alt.Y("arxiv_id:N", sort="-x", title="paper"),
            color=alt.Color("upvotes_status:N", title="upvotes"), tooltip=["title", "upvotes", "upvotes_status"]),
            width="stretch")


def show_papers(df: pd.DataFrame) -> None:
    st.dataframe(
        df[["arxiv_id", "title", "upvotes", "upvotes_status", "first_listed_on", "primary_topic", "organization",
            "hf_url", "arxiv_url"]],
        hide_index=True, width="stretch",
        column_config={"hf_url": st.column_config.LinkColumn("Hugging Face", display_text="HF page"),
                       "arxiv_url": st.column_config.LinkColumn("arXiv", display_text="arXiv")},
    )


def page_trends(release: str, f: data.Filters) -> None:
    st.header("Trends")
    per_day = run(release, data.papers_per_day_sql(f))
    st.subheader("Papers per listing date")
    st.metric("Papers listed (sum over dates)", int(per_day["papers"].sum()) if not per_day.empty else 0)
    if not per_day.empty:
        st.altair_chart(alt.Chart(per_day).mark_bar().encode(
            x=alt.X("listing_date:T", title="listing date"), y="papers:Q", tooltip=["listing_date", "papers"]),
            width="stretch")
    st.dataframe(per_day, hide_index=True)

    st.subheader("Topic share per week")
    share = run(release, data.topic_share_sql(f))
    if not share.empty:
        st.altair_chart(alt.Chart(share).mark_area().encode(
            x=alt.X("week_start:T", title="week"), y=alt.Y("share_of_week:Q", stack="normalize", title="share"),
            color="topic:N", tooltip=["week_start", "topic", "papers", "share_of_week"]), width="stretch")
    week = data.latest_complete_week(Path(release))
    st.subheader("Rising and falling topics")
    if week is None:
        st.info("No complete week yet.")
        return
    movers = run(release, data.topic_movers_sql(week))
    st.caption(f"Share of the latest complete week ({week:%G-W%V}, from {week}) vs the mean share of the "
               "4 weeks before it (weeks with listings).")
    if f.topic:
        movers = movers[movers["topic"] == f.topic]
    left, right = st.columns(2)
    left.markdown("**Rising**")
    left.dataframe(movers[movers["change"] > 0], hide_index=True)
    right.markdown("**Falling**")
    right.dataframe(movers[movers["change"] < 0].sort_values("change"), hide_index=True)


def page_people(release: str, f: data.Filters) -> None:
    st.header("People and organizations")
    sizes = run(release, data.team_sizes_sql())
    st.subheader("Team size (all papers)")
    if not sizes.empty:
        st.altair_chart(alt.Chart(sizes).mark_bar().encode(
            x=alt.X("author_count:O", title="authors"), y="papers:Q",
            tooltip=["author_count", "papers", "share_of_papers", "upvotes_median"]), width="stretch")
    st.dataframe(sizes, hide_index=True)
    daily = run(release, data.authors_daily_sql(f))
    st.subheader("Authors per listing date")
    if not daily.empty:
        st.altair_chart(alt.Chart(daily).mark_line(point=True).encode(
            x=alt.X("listing_date:T", title="listing date"), y=alt.Y("authors_total:Q", title="authors"),
            tooltip=["listing_date", "papers", "authors_total", "authors_mean", "authors_max"]),
            width="stretch")
    st.dataframe(daily, hide_index=True)
    left, right = st.columns(2)
    left.subheader("Most-listed authors")
    left.dataframe(run(release, data.top_authors_sql(f)), hide_index=True)
    right.subheader("Most-listed organizations")
    right.dataframe(run(release, data.top_orgs_sql(f)), hide_index=True)


def page_paper(release: str, f: data.Filters) -> None:
    st.header("Paper")
    top = run(release, data.top_papers_sql(f, 200))
    wanted = st.query_params.get("paper")
    choices = list(top["arxiv_id"])
    if wanted and wanted not in choices:
        choices.insert(0, wanted)
    if not choices:
        st.info("No paper listed in this date range.")
        return
    titles = dict(zip(top["arxiv_id"], top["title"], strict=True))
    paper_id = st.selectbox("Paper (most upvoted in the range first)", choices, key="paper",
                            index=choices.index(wanted) if wanted in choices else 0,
                            format_func=lambda p: f"{p} — {titles.get(p, '')}")
    st.query_params["paper"] = paper_id
    paper = run(release, (data.PAPER, [paper_id, paper_id]))
    if paper.empty:
        st.warning(f"No paper {paper_id} in this release.")
        return
    p = paper.iloc[0]
    st.subheader(p["title"])
    if p["arxiv_id"]:
        st.markdown(f"[Hugging Face](https://hf.barry1.top/papers/{p['arxiv_id']}) · "
                    f"[arXiv](https://arxiv.org/abs/{p['arxiv_id']})")
    cols = st.columns(4)
    cols[0].metric("Upvotes (latest)", p["upvotes"])
    cols[1].metric("Comments", p["num_comments"])
    cols[2].metric("Authors", p["author_count"])
    cols[3].metric("Captures", p["observations"])
    history = run(release, (data.PAPER_HISTORY, [p["paper_id"]]))
    st.subheader("Upvote history")
    if len(history) > 1:
        st.altair_chart(alt.Chart(history).mark_line(point=True).encode(
            x=alt.X("captured_at:T", title="captured"), y="upvotes:Q", tooltip=["captured_at", "upvotes", "rank"]),
            width="stretch")
    else:
        st.caption("One capture so far: no history to draw yet.")
    st.dataframe(history, hide_index=True)
    st.subheader("Topics")
    st.dataframe(run(release, (data.PAPER_TOPICS, [p["paper_id"]])), hide_index=True)
    with st.expander("Abstract"):
        st.write(p["summary"])


def page_quality(release: str, f: data.Filters) -> None:
    st.header("Data quality")
    rel = run(release, data.RELEASE)
    if not rel.empty:
        published_at = pd.Timestamp(rel["published_at"].iloc[0]).to_pydatetime()
        age = data.freshness(published_at, datetime.now(UTC))
        cols = st.columns(3)
        cols[0].metric("Last publish (UTC)", f"{published_at.astimezone(UTC):%Y-%m-%d %H:%M}")
        cols[1].metric("Age", f"{age.total_seconds() / 3600:.1f} h")
        cols[2].metric("Rows in the marts", int(rel["mart_rows"].iloc[0]))
        st.caption(f"Release `{rel['release'].iloc[0]}`, run `{rel['run_id'].iloc[0]}`.")
    st.subheader("Files and fetches")
    st.dataframe(run(release, data.INTAKE), hide_index=True)
    st.subheader("Validation per run")
    st.dataframe(run(release, data.VALIDATION_RUNS), hide_index=True)
    with st.expander("Every suite run"):
        st.dataframe(run(release, data.VALIDATION_RESULTS), hide_index=True)
    st.subheader("Quarantined files")
    quarantined = run(release, data.QUARANTINED)
    st.metric("Quarantined", len(quarantined))
    st.dataframe(quarantined, hide_index=True)


def main() -> None:
    st.set_page_config(page_title="Daily Papers", layout="wide")
    try:
        release = str(data.current_release())
    except FileNotFoundError as exc:
        st.error(str(exc))
        return
    page, filters = sidebar(release)
    {"top": page_top, "trends": page_trends, "people": page_people, "paper": page_paper,
     "quality": page_quality}[page](release, filters)


main()
