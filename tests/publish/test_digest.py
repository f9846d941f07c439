"""Weekly digests and Atom feeds of a release, and `papers digest --week`, on the demo release.

The listed papers are compared with the top papers computed from the demo JSON files; the feeds are
checked against Atom 1.0's required elements (RFC 4287) with a strict XML parser.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from xml.etree import ElementTree as ET

import duckdb

from orchestration.publish.digest import HF_PAPER_URL
from tests import demo_facts
from tests.pipeline_runs import run_papers

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def expected_top(start: date, end: date, n: int = 10) -> list[str]:
    listed = sorted((-v["upvotes"], pid) for pid, v in demo_facts.papers().items()
                    if start <= v["first_listed_on"] <= end)
    return [pid for _, pid in listed[:n]]


def test_papers_digest_prints_the_weeks_top_papers(demo_home):
    code, output = run_papers(demo_home, "digest", "--week", "2025-W42")
    assert code == 0, output
    assert output.startswith("# Daily Papers digest — 2025-W42 (13 Oct – 19 Oct 2025)")
    listed = re.findall(re.escape(f"({HF_PAPER_URL}") + r"([0-9.]+)\)", output)
    assert listed == expected_top(date(2025, 10, 13), date(2025, 10, 19)), output[-1500:]
    first = demo_facts.papers()[listed[0]]
    assert f"— {first['upvotes']} upvotes (provisional)" in output  # one morning capture: not settled
    weeks = sorted(p.stem for p in (demo_home / "published" / "digests").glob("*.md"))
    assert weeks == ["2025-W40", "2025-W41", "2025-W42", "2025-W43", "2025-W44"]


def test_papers_digest_usage_errors(demo_home):
    code, output = run_papers(demo_home, "digest", "--week", "2025-42")
    assert code == 2 and "not an ISO week like 2025-W42" in output
    code, output = run_papers(demo_home, "digest", "--week", "2024-W10")
    assert code == 2 and "no digest for 2024-W10" in output and "2025-W40" in output


def parse_strict(path) -> ET.Element:
    """Parsed by expat: any well-formedness or encoding error raises."""
    return ET.parse(path, parser=ET.XMLParser()).getroot()


def assert_atom(root: ET.Element) -> None:
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{tag}")) == 1, tag
    assert RFC3339.match(root.find(f"{ATOM}updated").text)
    entries = root.findall(f"{ATOM}entry")
    if not root.findall(f"{ATOM}author"):
        assert all(e.findall(f"{ATOM}author") for e in entries), "atom:author on the feed or every entry"
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{tag}")) == 1, tag
        assert RFC3339.match(entry.find(f"{ATOM}updated").text)
        alternate = [link for link in entry.findall(f"{ATOM}link") if link.get("rel", "alternate") == "alternate"]
        assert len(alternate) == 1 and alternate[0].get("href", "").startswith("https://")
        assert entry.find(f"{ATOM}id").text.startswith(("urn:", "https://", "tag:"))
    for element in root.iter():
        assert element.tag.startswith(ATOM), f"element outside the Atom namespace: {element.tag}"


def test_every_topic_has_a_valid_atom_feed_of_the_weekly_top(demo_home):
    release = (demo_home / "published").resolve()
    feeds = {p.stem: p for p in (release / "feeds").glob("*.xml")}
    with duckdb.connect(str(release / "warehouse.duckdb"), read_only=True) as con:
        topics = {t for (t,) in con.execute("select distinct primary_topic from marts.papers").fetchall()}
    assert set(feeds) == topics | {"all"}
    for path in feeds.values():
        assert path.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")
        assert_atom(parse_strict(path))
    # the all-topics feed holds each week's top 10, W42's equal to the independent ranking
    root = parse_strict(feeds["all"])
    w42 = [e.find(f"{ATOM}link").get("href").rsplit("/", 1)[1] for e in root.findall(f"{ATOM}entry")
           if ":2025-W42:" in e.find(f"{ATOM}id").text]
    assert w42 == expected_top(date(2025, 10, 13), date(2025, 10, 19))
    # a topic's feed lists only papers of that primary topic
    with duckdb.connect(str(release / "warehouse.duckdb"), read_only=True) as con:
        topic, = con.execute("select primary_topic from marts.papers group by 1 order by count(*) desc limit 1"
                             ).fetchall()[0]
        of_topic = {p for (p,) in con.execute("select arxiv_id from marts.papers where primary_topic = ?",
                                                [topic]).fetchall()}
    entries = parse_strict(feeds[topic]).findall(f"{ATOM}entry")
    assert entries and all(e.find(f"{ATOM}category").get("term") == topic for e in entries)
    assert {e.find(f"{ATOM}link").get("href").rsplit("/", 1)[1] for e in entries} <= of_topic
    assert max(datetime.fromisoformat(e.find(f"{ATOM}updated").text) for e in entries) <= \
        datetime.fromisoformat(root.find(f"{ATOM}updated").text)
