"""Weekly digests and per-topic Atom feeds, written into every release from its own DuckDB file.

- ``digests/<ISO week>.md`` (e.g. ``2025-W42.md``): every week's top papers by latest upvotes, each
  marked ``settled`` (latest capture :data:`SETTLE_DAYS`+ days after listing) or ``provisional``.
- ``feeds/<topic>.xml``: an Atom 1.0 feed per primary topic (and ``all.xml``) of the top papers of
  the latest :data:`FEED_WEEKS` weeks.

Every date in them comes from the data (no clock), so the same marts give the same bytes: a file
whose bytes the previous release has already is hard-linked from there.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import duckdb

from orchestration.publish.releases import DUCKDB_FILE
from orchestration.sql import schema_columns

#: Upvotes count as settled this many days after the listing date (as in the dashboard).
SETTLE_DAYS = 7
#: Papers per week in a digest, and per week and topic in a feed.
TOP_N = 10
FEED_WEEKS = 8
DIGESTS_DIR = "digests"
FEEDS_DIR = "feeds"
ATOM_NS = "http://www.w3.org/2005/Atom"
HF_PAPER_URL = "https://hf.barry1.top/papers/"
ARXIV_URL = "https://arxiv.org/abs/"

NEEDED_COLUMNS = ("arxiv_id", "title", "summary", "upvotes", "first_listed_on", "primary_topic",
                  "organization", "last_seen_at")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_start(week: str) -> date:
    """Monday of an ISO week written ``YYYY-Www``; ValueError for anything else."""
    match = _WEEK.match(week)
    if not match:
        raise ValueError(f"week {week!r} is not an ISO week like 2025-W42")
    try:
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ValueError(f"week {week!r} does not exist") from None


def week_name(monday: date) -> str:
    return monday.strftime("%G-W%V")


@dataclass(frozen=True)
class Entry:
    arxiv_id: str
    title: str
    summary: str
    upvotes: int
    first_listed_on: date
    primary_topic: str
    organization: str | None
    settled: bool
    last_seen_at: datetime


#: Each week's (and group's) top papers in one pass: the N-th highest upvotes per group is the bar
#: (an aggregate, no sort), the few papers at or above it are ranked, and only those rows' wide
#: columns (the abstract) are fetched, by rowid.
TOP_OF_WEEKS = f"""
    with scope as (
        select date_trunc('week', first_listed_on)::date as monday, {{group}} as topic, rowid as r,
               upvotes, arxiv_id
        from marts.papers
        where arxiv_id is not null and upvotes is not null and first_listed_on >= $since
    ),
    bar as (select monday, topic, list_min(max(upvotes, $top)) as least from scope group by all),
    ranked as (
        select s.monday, s.topic, s.r
        from scope s join bar b on s.monday = b.monday and s.topic is not distinct from b.topic
        where s.upvotes >= b.least
        qualify row_number() over (partition by s.monday, s.topic order by s.upvotes desc, s.arxiv_id) <= $top
    ),
    wide as (
        select rowid as r, arxiv_id, title, coalesce(summary, ''), upvotes, first_listed_on, primary_topic,
               organization, last_seen_at >= first_listed_on + interval {SETTLE_DAYS} day as settled, last_seen_at
        from marts.papers where rowid in (select r from ranked)
    )
    select ranked.monday, ranked.topic, wide.* exclude (r)
    from ranked join wide using (r)
    order by ranked.monday, ranked.topic, wide.upvotes desc, wide.arxiv_id
"""


def top_of_weeks(con: duckdb.DuckDBPyConnection, *, since: date,
                 by_topic: bool = False) -> dict[tuple[date, str | None], list[Entry]]:
    """Every week's top papers (first listed that week, from the week of ``since`` on) by latest
    upvotes, ties by arXiv id; per primary topic too with ``by_topic``. One query for all weeks."""
    group = "primary_topic" if by_topic else "null::varchar"
    out: dict[tuple[date, str | None], list[Entry]] = {}
    for monday, topic, *row in con.execute(TOP_OF_WEEKS.format(group=group), {"since": since, "top": TOP_N}).fetchall():
        out.setdefault((monday, topic), []).append(Entry(*row))
    return out


def render_digest(monday: date, entries: list[Entry]) -> str:
    name, sunday = week_name(monday), monday + timedelta(days=6)
    settled = sum(e.settled for e in entries)
    lines = [
        f"# Daily Papers digest — {name} ({monday:%d %b} – {sunday:%d %b %Y})",
        "",
        f"The {len(entries)} most upvoted papers first listed this week, by their latest upvotes. "
        f"{settled} of them have settled upvotes (latest capture {SETTLE_DAYS}+ days after listing); "
        "the others are provisional and may still rise.",
        "",
    ]
    for i, e in enumerate(entries, 1):
        org = f" · {e.organization}" if e.organization else ""
        lines += [
            f"{i}. **[{e.title}]({HF_PAPER_URL}{e.arxiv_id})** — {e.upvotes} upvotes "
            f"({'settled' if e.settled else 'provisional'})",
            f"   listed {e.first_listed_on} · {e.primary_topic}{org} · [arXiv:{e.arxiv_id}]({ARXIV_URL}{e.arxiv_id})",
        ]
    if not entries:
        lines.append("No paper was first listed this week.")
    return "\n".join(lines) + "\n"


def _iso(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.isoformat().replace("+00:00", "Z")
    return f"{moment.isoformat()}T00:00:00Z"


def render_feed(topic: str, weekly: list[tuple[date, list[Entry]]]) -> bytes:
    """An Atom 1.0 feed of the given weeks' top papers (newest week first)."""

    def sub(parent, tag, text=None, **attrs):
        element = ET.SubElement(parent, tag, attrs)
        element.text = text
        return element

    feed = ET.Element("feed", xmlns=ATOM_NS)
    sub(feed, "id", f"urn:daily-papers-warehouse:feed:{topic}")
    sub(feed, "title", f"Daily Papers — weekly top papers ({'all topics' if topic == 'all' else topic})")
    entries = [(monday, e) for monday, es in weekly for e in es]
    updated = max((e.last_seen_at for _, e in entries), default=None)
    sub(feed, "updated", _iso(updated) if updated else "1970-01-01T00:00:00Z")
    sub(sub(feed, "author"), "name", "daily-papers-warehouse")
    sub(feed, "link", rel="alternate", href="https://hf.barry1.top/papers")
    sub(feed, "generator", "daily-papers-warehouse")
    for monday, e in entries:
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:daily-papers-warehouse:{week_name(monday)}:{e.arxiv_id}")
        sub(entry, "title", e.title)
        sub(entry, "updated", _iso(e.last_seen_at))
        sub(entry, "published", _iso(e.first_listed_on))
        sub(entry, "link", rel="alternate", href=f"{HF_PAPER_URL}{e.arxiv_id}")
        sub(entry, "link", rel="related", href=f"{ARXIV_URL}{e.arxiv_id}")
        sub(entry, "category", term=e.primary_topic)
        sub(entry, "summary", f"{week_name(monday)}: {e.upvotes} upvotes "
                              f"({'settled' if e.settled else 'provisional'}). {e.summary}")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def write_digests(release_dir: Path, previous_dir: Path | None = None) -> None:
    """Write every week's digest and topic's feed (linked when the previous release has the bytes)."""
    with duckdb.connect(str(release_dir / DUCKDB_FILE), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        if not set(NEEDED_COLUMNS) <= schema_columns(con, "marts").get("papers", set()):  # no papers mart: no digest
            return
        all_weeks = [d for (d,) in con.execute(
            "select distinct date_trunc('week', first_listed_on)::date from marts.papers "
            "where first_listed_on is not null and arxiv_id is not null order by 1").fetchall()]
        outputs: dict[str, bytes] = {}
        top = top_of_weeks(con, since=all_weeks[0]) if all_weeks else {}  # (ranked per week: also the feeds' "all")
        for monday in all_weeks:
            outputs[f"{DIGESTS_DIR}/{week_name(monday)}.md"] = render_digest(
                monday, top.get((monday, None), [])).encode("utf-8")
        recent = all_weeks[::-1][:FEED_WEEKS]
        topics = [t for (t,) in con.execute(
            "select distinct primary_topic from marts.papers where primary_topic is not null order by 1").fetchall()]
        top_topic = top_of_weeks(con, since=recent[-1], by_topic=True) if recent else {}
        for topic in ["all", *topics]:
            weekly = [(m, (top.get((m, None)) if topic == "all" else top_topic.get((m, topic))) or [])
                      for m in recent]
            outputs[f"{FEEDS_DIR}/{topic}.xml"] = render_feed(topic, weekly)
    (release_dir / DIGESTS_DIR).mkdir(exist_ok=True)
    (release_dir / FEEDS_DIR).mkdir(exist_ok=True)
    for name, data in outputs.items():
        previous = previous_dir / name if previous_dir else None
        with contextlib.suppress(OSError):  # no such file, or links not allowed here: write it
            if previous is not None and previous.stat().st_size == len(data) and previous.read_bytes() == data:
                os.link(previous, release_dir / name)
                continue
        (release_dir / name).write_bytes(data)
