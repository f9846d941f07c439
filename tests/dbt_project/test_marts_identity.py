"""Identity across sources, end to end through the real pipeline (`papers ingest`).

A small API-shaped snapshot and a page-text snapshot are written in the test; one card's title
equals (up to case, punctuation and whitespace) an API paper's title, so both must resolve to one
`marts.papers` row keyed on the arXiv id; the other card stays a `title:` paper.
"""

from __future__ import annotations

import pytest

import hashlib
import json

from tests.pipeline_runs import query, run_papers

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

API_BODY = [
    {
        "paper": {
            "id": "2502.01230",
            "title": "Scaling Test-Time Compute:\n  A Field Guide",
            "summary": "We study test-time compute for reasoning models.",
            "upvotes": 17,
            "publishedAt": "2025-02-02T17:00:00.000Z",
            "authors": [{"_id": "a1", "name": "Ada  Lovelace", "hidden": False},
                        {"_id": "a2", "name": "Hidden Person", "hidden": True},
                        {"_id": "a3", "name": "Alan Turing", "hidden": False}],
        },
        "publishedAt": "2025-02-03T00:00:00.000Z",
        "title": "Scaling Test-Time Compute:\n  A Field Guide",
        "numComments": 2,
    },
    {
        "paper": {
            "id": "2502.01240",
            "title": "A Second Paper on Speech Recognition",
            "summary": "An audio abstract about speech.",
            "upvotes": 4,
            "publishedAt": "2025-02-02T18:00:00.000Z",
            "authors": [{"_id": "b1", "name": "Grace Hopper", "hidden": False}],
        },
        "publishedAt": "2025-02-03T00:00:00.000Z",
        "title": "A Second Paper on Speech Recognition",
        "numComments": 0,
    },
]

PAGE_TEXT = """Daily Papers

byAK and the research community

Feb 4

scaling test time compute \u2014 a field guide

We study test-time compute for reasoning models.

  \u2022 3 authors
\u00b7
Feb 2 5

A Paper Seen Only In Page Text

Its abstract.

  \u2022 6 authors
\u00b7
Jan 30, 2025
"""


def test_text_card_merges_into_api_paper(tmp_path):
    files = tmp_path / "in"
    files.mkdir()
    api = files / "2025-02-03_captured-20250203T120000Z.json"
    api.write_text(json.dumps(API_BODY), encoding="utf-8")
    text = files / "papers-listing_captured-20250204T090000Z.txt"
    text.write_text(PAGE_TEXT, encoding="utf-8")
    home = tmp_path / "home"

    code, output = run_papers(home, "ingest", str(api), str(text))
    assert code == 0, output
    warehouse = home / "warehouse.duckdb"

    papers = query(warehouse, "select paper_id, arxiv_id, sources, observations, listing_days, upvotes, "
                              "author_count from marts.papers order by paper_id")
    assert len(papers) == 3
    merged = {p[0]: p for p in papers}["2502.01230"]
    assert merged[1:] == ("2502.01230", ["api_file", "page_text"], 2, 1, 17, 3)
    text_only = [p for p in papers if p[1] is None]
    assert [p[0] for p in text_only] == [
        "title:" + hashlib.md5(b"apaperseenonlyinpagetext").hexdigest()]

    obs = query(warehouse, "select source_format, listing_date is null, upvotes from marts.paper_observations "
                           "where paper_id = '2502.01230' order by captured_at")
    assert obs == [("api_file", False, 17), ("page_text", True, None)]
    # per-listing-date marts: the API listing only
    assert query(warehouse, "select listing_date::varchar, papers from marts.authors_daily") == [("2025-02-03", 2)]
    assert query(warehouse, "select sum(papers) from marts.topics_daily")[0][0] == 2
    # team-size distribution: all 3 papers (the text-only card included)
    assert dict(query(warehouse, "select author_count, papers from marts.authors_count")) == {3: 1, 1: 1, 6: 1}
    # authors: API names only, hidden excluded, whitespace normalized
    assert sorted(r[0] for r in query(warehouse, "select author_name from marts.authors")) == [
        "Ada Lovelace", "Alan Turing", "Grace Hopper"]
