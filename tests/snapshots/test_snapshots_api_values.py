"""The API parser (snapshots.api) value by value: every real fixture row, and the edge cases of the
API's JSON (what each is read as, or the reason it is rejected)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from orchestration.snapshots import (
    API_PAPERS_SCHEMA,
    ApiBody,
    SnapshotRejected,
    listing_date_from_name,
    parse_api_bodies,
    parse_snapshots,
)
from tests.snapshot_files import parse_snapshot
from orchestration.snapshots.api import MAX_DEPTH
from orchestration.sources.hf_api import listing_table

from tests.pipeline_runs import API_DIR, FIXTURES, GOOD_API_NAMES

NAME = "2025-10-03_captured-20251003T074927Z.json"
CAPTURED = datetime(2025, 10, 3, 7, 49, 27, tzinfo=UTC)
DAY = date(2025, 10, 3)


def _utc(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def _expected_rows(elements: list[dict[str, Any]], listing_date: date) -> list[dict[str, Any]]:
    """The raw table's rows of a real body, spelled out from the API's fields."""
    rows = []
    for rank, e in enumerate(elements, 1):
        p = e["paper"]
        org = e.get("organization") or p.get("organization") or {}
        authors = p.get("authors")
        rows.append({
            "snapshot_id": "s", "source_uri": "u", "listing_date": listing_date, "captured_at": CAPTURED,
            "rank": rank, "arxiv_id": p["id"], "title": p.get("title") or e.get("title"),
            "summary": p.get("summary") or e.get("summary"),
            "authors_json": None if authors is None else json.dumps(
                [{"name": a.get("name"), "hidden": a.get("hidden", False)} for a in authors], ensure_ascii=False),
            "author_count": None if authors is None else len(authors),
            "published_at": _utc(p.get("publishedAt")), "upvotes": p.get("upvotes"),
            "num_comments": e.get("numComments") or 0, "github_repo": p.get("githubRepo"),
            "github_stars": p.get("githubStars"), "project_page": p.get("projectPage"),
            "organization": org.get("fullname") or org.get("name"),
            "ai_keywords_json": None if p.get("ai_keywords") is None else json.dumps(p["ai_keywords"],
                                                                                     ensure_ascii=False),
            "ai_summary": p.get("ai_summary"), "submitted_on_daily_at": _utc(p.get("submittedOnDailyAt")),
            "submitted_by": (e.get("submittedBy") or {}).get("name")
            or (p.get("submittedOnDailyBy") or {}).get("user"),
        })
    return rows


def _parse(body: bytes, listing_date: date | None = DAY) -> pa.Table | SnapshotRejected:
    return parse_api_bodies([ApiBody(body, "s", "u", CAPTURED, listing_date)])[0]


@pytest.mark.parametrize("name", GOOD_API_NAMES)
def test_every_loadable_fixture_row_by_row(name: str) -> None:
    body = (API_DIR / name).read_bytes()
    table = _parse(body, listing_date_from_name(name))
    assert table.schema == API_PAPERS_SCHEMA
    assert table.to_pylist() == _expected_rows(json.loads(body), listing_date_from_name(name))


def _elements() -> list[dict[str, Any]]:
    return json.loads((API_DIR / NAME).read_text(encoding="utf-8"))


_DELETE = object()


def _edit(**changes: Any) -> bytes:
    """The 2025-10-03 fixture with ``changes`` applied to element 0 (``paper__x`` = paper.x)."""
    elements = _elements()
    for key, value in changes.items():
        target, key = (elements[0]["paper"], key[7:]) if key.startswith("paper__") else (elements[0], key)
        if value is _DELETE:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)
    return json.dumps(elements, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("body", "column", "value"),
    [
        (_edit(paper__authors=[{"_id": "x", "name": 'Q "uote" \\ back\tslash', "hidden": True}]), "authors_json",
         '[{"name": "Q \\"uote\\" \\\\ back\\tslash", "hidden": true}]'),
        (_edit(paper__authors=[{"name": None, "hidden": False}, {"hidden": True}]), "authors_json",
         '[{"name": null, "hidden": false}, {"name": null, "hidden": true}]'),
        (_edit(paper__authors=[{"name": "no hidden flag"}]), "authors_json",
         '[{"name": "no hidden flag", "hidden": false}]'),
        (_edit(paper__authors=[]), "authors_json", "[]"),
        (_edit(paper__authors=_DELETE), "author_count", None),
        (_edit(paper__ai_keywords=["naïve", "日本語", "a\\b", 'q"']), "ai_keywords_json",
         '["naïve", "日本語", "a\\\\b", "q\\""]'),
        (_edit(paper__title="", title="top"), "title", "top"),
        (_edit(paper__title=None, title=None), "title", None),
        (_edit(organization={"name": "n", "fullname": ""}), "organization", "n"),
        (_edit(organization={}, paper__organization={"name": "p"}), "organization", "p"),
        (_edit(submittedBy={"name": ""}, paper__submittedOnDailyBy={"user": "u"}), "submitted_by", "u"),
        (_edit(numComments=None), "num_comments", 0),
        (_edit(numComments=3.0), "num_comments", 3),
        (_edit(paper__upvotes=2.0), "upvotes", 2),
        (_edit(paper__upvotes=-(2**31)), "upvotes", -(2**31)),
        (_edit(paper__publishedAt="2025-10-02T17:55:42+05:30"), "published_at", datetime(2025, 10, 2, 12, 25, 42, tzinfo=UTC)),
        (_edit(paper__publishedAt="2025-10-02T17:55:42.123456Z"), "published_at",
         datetime(2025, 10, 2, 17, 55, 42, 123456, tzinfo=UTC)),
        (_edit(paper__publishedAt="2025-10-02"), "published_at", datetime(2025, 10, 2, tzinfo=UTC)),
        (_edit(paper__publishedAt="2025-10-02T17:55:42"), "published_at", datetime(2025, 10, 2, 17, 55, 42, tzinfo=UTC)),
        (_edit(paper__publishedAt="2025-10-02T17:55:42.1234Z"), "published_at",
         datetime(2025, 10, 2, 17, 55, 42, 123400, tzinfo=UTC)),
        (_edit(paper__id="2503.02130"), "arxiv_id", "2503.02130"),
        (_edit(paper__id="\u20032503.1"), "arxiv_id", "\u20032503.1"),
        (_edit(paper__title="InfinityStar: NaN-free"), "title", "InfinityStar: NaN-free"),
        (_edit(paper__title="SURR").replace(b'"SURR"', b'"\\ud83d\\ude00 ok"'), "title", "\U0001F600 ok"),
        (_edit(extra="DEEP").replace(b'"DEEP"', ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode()),
         "rank", 1),
        # valid bodies the reader alone cannot take, read as json.loads reads them
        (_edit(paper__publishedAt="0001-01-01T00:00:00Z"), "published_at", datetime.min.replace(tzinfo=UTC)),
        (_edit(paper__publishedAt="9999-12-31T23:59:59.999999Z"), "published_at", datetime.max.replace(tzinfo=UTC)),
        (_edit(paper__upvotes="TWICE").replace(b'"upvotes": "TWICE"', b'"upvotes": 3, "upvotes": 7'), "upvotes", 7),
        (_edit(paper__authors=[{"name": "no hidden flag"}], extra={"hidden": None}), "authors_json",
         '[{"name": "no hidden flag", "hidden": false}]'),
        # a fallback field is read (and checked) only when the field before it is empty, as `a or b` does
        (_edit(paper__title="T", title=5), "title", "T"),
        (_edit(paper__summary="S", summary=["x"]), "summary", "S"),
        (_edit(organization={"fullname": "F", "name": 0}, paper__organization="SURR").replace(b'"SURR"', b'"\\ud800"'),
         "organization", "F"),
        (_edit(organization="ByteDance"), "organization", "ByteDance"),
        (_edit(organization="", paper__organization="P"), "organization", "P"),
        (_edit(submittedBy={"name": "n"}, paper__submittedOnDailyBy=5), "submitted_by", "n"),
        # offsets of 60 minutes or more are read as datetime.fromisoformat reads them
        (_edit(paper__publishedAt="2025-10-03T07:49:27+05:60"), "published_at",
         datetime(2025, 10, 3, 1, 49, 27, tzinfo=UTC)),
    ],
)
def test_values(body: bytes, column: str, value: Any) -> None:
    table = _parse(body)
    assert not isinstance(table, SnapshotRejected), table.reason
    assert table.column(column)[0].as_py() == value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_edit(paper__authors=[{"name": "x", "hidden": None}]),
         "element 0: paper.authors[0].hidden is null, expected a boolean"),
        (_edit(paper__authors=["A"]), 'element 0: paper.authors[0] is the JSON string "A", expected an author object'),
        (_edit(paper__ai_keywords=[None]), "element 0: paper.ai_keywords[0] is null, expected a string"),
        (_edit(paper__upvotes="12"), 'element 0: paper.upvotes is the JSON string "12", expected an integer'),
        (_edit(paper__upvotes=True), "element 0: paper.upvotes is the JSON boolean true, expected an integer"),
        (_edit(paper__upvotes=2.5), "element 0: paper.upvotes is the JSON number 2.5, expected an integer"),
        (_edit(paper__upvotes=2**31), "element 0: paper.upvotes is the JSON number 2147483648, expected a 32-bit"),
        (_edit(paper__title=5), "element 0: paper.title is the JSON number 5, expected a string"),
        (_edit(paper__publishedAt="2025-02-30T00:00:00Z"), "paper.publishedAt is the JSON string \"2025-02-30T00"),
        (_edit(paper__publishedAt="0001-01-01T00:00:00+01:00"), "expected an ISO-8601 timestamp string"),
        (_edit(paper__publishedAt="yesterday"), "expected an ISO-8601 timestamp string"),
        (_edit(paper__publishedAt="0000-12-31T12:00:00-12:00"), "expected an ISO-8601 timestamp string"),
        (_edit(paper__publishedAt="2025-10-03T07:49:27+24:00"), "expected an ISO-8601 timestamp string"),
        (_edit(paper__publishedAt="2025-10-03T24:00:00Z"), "expected an ISO-8601 timestamp string"),
        (_edit(paper__authors=[{"name": "a", "hidden": None}]).replace(b'"hidden"', b'"hidd\\u0065n"'),
         "element 0: paper.authors[0].hidden is null, expected a boolean"),
        (_edit(extra="INF").replace(b'"INF"', b"Inf"), "invalid JSON"),
        (_edit(extra="INF").replace(b'"INF"', b"-Inf"), "invalid JSON"),
        (_edit(paper__id=" "), "element 0: paper.id is an empty string"),
        (_edit(paper__id=2503.0213), "paper.id is the JSON number 2503.0213, expected a string"),
        (_edit(paper=None), "element 0: 'paper' is a JSON null, expected an object"),
        (_edit(organization=5), "element 0: organization is the JSON number 5, expected an organization object"),
        (_edit(organization=None, paper__organization={"name": 5}),
         "element 0: paper.organization.name is the JSON number 5, expected a string"),
        (_edit(extra={"deep": "NAN_MARKER"}).replace(b'"NAN_MARKER"', b"NaN"), "non-standard constant NaN"),
        (_edit(extra="INF").replace(b'"INF"', b"-Infinity"), "non-standard constant -Infinity"),
        (b"[" + json.dumps(_elements())[1:-1].encode() + b", null]", "is a JSON null (null), expected a paper object"),
        (_edit(paper__title="SURR").replace(b'"SURR"', b'"a\\ud800"'), "is an unpaired UTF-16 surrogate"),
        (b'[{"paper": {"id": "1"}, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]", "nested too deeply"),
        (b'{"data": []}', "looks like an envelope wrapping the array in ['data']"),
        (b"[1, 2]", "element 0 is a JSON number (1), expected a paper object"),
        (b'[], "b": 1', "invalid JSON at line 1 col 3: Extra data"),
        (b"[], []", "invalid JSON at line 1 col 3: Extra data"),
    ],
)
def test_rejections(body: bytes, reason: str) -> None:
    rejected = _parse(body)
    assert isinstance(rejected, SnapshotRejected) and reason in rejected.reason


def _deep(body: bytes) -> bytes:
    """``body`` with a field nested deeper than MAX_DEPTH in its first element: it is read strictly."""
    return body.replace(b"{", b'{"deep": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b", ", 1)


@pytest.mark.parametrize("name", GOOD_API_NAMES)
def test_a_body_read_strictly_gives_the_table_the_reader_gives(name: str) -> None:
    """A body read strictly (its document re-encoded) is the table the columnar reader makes of it."""
    body = (API_DIR / name).read_bytes()
    day = listing_date_from_name(name)
    direct, strict = _parse(body, day), _parse(_deep(body), day)
    assert not isinstance(strict, SnapshotRejected), strict.reason
    assert strict.equals(direct) and strict.num_rows == len(json.loads(body))


def test_a_key_twice_or_a_null_hidden_flag_outside_the_authors_is_not_a_rejection() -> None:
    no_flag = [{"name": "no hidden flag"}, {"name": "flagged", "hidden": True}]
    assert _parse(_edit(paper__authors=no_flag, paper__extra={"hidden": None})).equals(
        _parse(_edit(paper__authors=no_flag)))
    first = {"id": "2510.00001", "title": "dropped", "upvotes": 1}
    twice = _edit(paper="TWICE").replace(b'"paper": "TWICE"', b'"paper": ' + json.dumps(first).encode() + b", "
                                         b'"paper": ' + json.dumps(_elements()[0]["paper"]).encode())
    assert _parse(twice).equals(_parse((API_DIR / NAME).read_bytes()))


def test_listing_date_from_submitted_on_daily_at_or_rejected() -> None:
    assert set(_parse((API_DIR / NAME).read_bytes(), None).column("listing_date").to_pylist()) == {DAY}
    rejected = _parse(_edit(paper__submittedOnDailyAt=None), None)
    assert isinstance(rejected, SnapshotRejected)
    assert rejected.reason.startswith("API file has no listing date") and "element 0 " in rejected.reason


def test_bom_pretty_printed_and_crlf_bodies_give_the_compact_table() -> None:
    elements = _elements()
    compact = _parse(json.dumps(elements).encode())
    for body in (b"\xef\xbb\xbf" + json.dumps(elements).encode(), json.dumps(elements, indent=2).encode(),
                 json.dumps(elements, indent=1).replace("\n", "\r\n").encode(), b"[] ", b"[]"):
        table = _parse(body)
        assert table.equals(compact if table.num_rows else API_PAPERS_SCHEMA.empty_table())


def test_parsing_together_equals_parsing_one_by_one() -> None:
    """All fixtures (API, page text, malformed) plus bodies a batch must isolate, in one call."""
    files = [(p.read_bytes(), p.name, CAPTURED) for p in sorted(FIXTURES.glob("*/*")) if p.is_file()]
    files += [
        (_edit(paper__authors=[{"name": "no hidden flag"}]), "2025-10-04_captured-20251004T000000Z.json", None),
        (_edit(paper__upvotes="12"), "2025-10-05_captured-20251005T000000Z.json", None),
        (_edit(paper__submittedOnDailyAt=None), "x_captured-20251006T000000Z.json", None),
        (b"[]", "2025-10-07_captured-20251007T000000Z.json", None),
        (json.dumps(_elements(), indent=1).encode(), "2025-10-08_captured-20251008T000000Z.json", None),
        (b"\xff", "2025-10-09_captured-20251009T000000Z.json", None),
    ]
    together = parse_snapshots(files)
    assert sum(isinstance(r, SnapshotRejected) for r in together) == 3 + 3  # 3 fixtures + 3 bad bodies
    for (body, name, mtime), result in zip(files, together):
        try:
            alone = parse_snapshot(body, name=name, mtime=mtime)
        except SnapshotRejected as rejected:
            assert isinstance(result, SnapshotRejected) and result.reason == rejected.reason, name
            continue
        assert (result.snapshot_id, result.listing_date, result.rows) == (alone.snapshot_id, alone.listing_date,
                                                                          alone.rows), name
        assert result.table.equals(alone.table), name


def test_fetched_pages_continue_ranks_and_a_bad_page_is_named() -> None:
    elements = _elements()
    table = listing_table([elements[:25], elements[25:]], "s", "u", CAPTURED, DAY)
    assert table.equals(_parse(json.dumps(elements).encode()))
    with pytest.raises(SnapshotRejected) as info:
        listing_table([elements[:25], [{"paper": {"id": "1", "upvotes": "many"}}]], "s", "u", CAPTURED, DAY)
    assert info.value.reason == 'page p=1: element 0: paper.upvotes is the JSON string "many", expected an integer'
    with pytest.raises(SnapshotRejected, match=r"^page p=0: JSON object with keys \['data'\]"):
        listing_table([{"data": elements}], "s", "u", CAPTURED, DAY)
