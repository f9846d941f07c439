"""API JSON snapshots: the real fixture files and the raw.api_*_papers columns they yield."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.snapshot_files import parse_snapshot_file
from orchestration.snapshots import (
    API_PAPERS_SCHEMA,
    ApiBody,
    SnapshotRejected,
    capture_time_from_name,
    listing_date_from_name,
    parse_api_bodies,
)
from tests.snapshot_files import parse_snapshot

from tests.pipeline_runs import API_DIR, GOOD_API_NAMES, MALFORMED, REPO

GOOD = GOOD_API_NAMES
CAPTURED = datetime(2025, 1, 1, 12, tzinfo=UTC)


def _raw(name: str) -> list[dict[str, Any]]:
    """The fixture decoded with plain json, as the reference for expected values."""
    return json.loads((API_DIR / name).read_text(encoding="utf-8"))


def _rows(name: str) -> list[dict[str, Any]]:
    return parse_snapshot_file(API_DIR / name).table.to_pylist()


def _table(elements: list[dict[str, Any]], listing_date: date | None = date(2025, 1, 1),
           captured_at: datetime = CAPTURED, first_rank: int = 1) -> pa.Table:
    """The parser's table of a body holding ``elements`` (raises its rejection)."""
    body = json.dumps(elements).encode()
    [table] = parse_api_bodies([ApiBody(body, "s", "u", captured_at, listing_date, first_rank)])
    if isinstance(table, SnapshotRejected):
        raise table
    return table


def _paper(arxiv_id: str = "2503.02130", **paper: Any) -> dict[str, Any]:
    return {"paper": {"id": arxiv_id, "title": "T", "upvotes": 1, **paper}, "numComments": 0}


def test_fixture_inventory() -> None:
    assert len(GOOD) == 9
    assert all((API_DIR / name).exists() for name in MALFORMED)


@pytest.mark.parametrize("name", GOOD)
def test_good_files_load_with_exact_schema(name: str) -> None:
    body = (API_DIR / name).read_bytes()
    snap = parse_snapshot_file(API_DIR / name)
    raw = _raw(name)
    assert snap.format == "api_json"
    assert snap.table.schema == API_PAPERS_SCHEMA
    assert snap.rows == snap.table.num_rows == len(raw)
    assert snap.snapshot_id == hashlib.sha256(body).hexdigest()
    assert snap.source_uri == name
    assert snap.captured_at == capture_time_from_name(name)
    assert snap.listing_date == listing_date_from_name(name)
    rows = snap.table.to_pylist()
    assert [r["rank"] for r in rows] == list(range(1, len(raw) + 1))
    assert {r["listing_date"] for r in rows} == {listing_date_from_name(name)}
    assert {r["snapshot_id"] for r in rows} == {snap.snapshot_id}
    assert {r["source_uri"] for r in rows} == {name}
    assert {r["captured_at"] for r in rows} == {snap.captured_at}
    # values come from the right place: ids verbatim, upvotes under paper, comments top level
    assert [r["arxiv_id"] for r in rows] == [e["paper"]["id"] for e in raw]
    assert [r["upvotes"] for r in rows] == [e["paper"]["upvotes"] for e in raw]
    assert [r["num_comments"] for r in rows] == [e.get("numComments", 0) for e in raw]
    assert [r["author_count"] for r in rows] == [len(e["paper"]["authors"]) for e in raw]
    assert [r["title"] for r in rows] == [e["paper"]["title"] for e in raw]
    assert all(isinstance(r["arxiv_id"], str) for r in rows)


def test_two_captures_of_one_day_are_separate_observations() -> None:
    first = parse_snapshot_file(API_DIR / "2024-06-12_captured-20240612T170641Z.json")
    second = parse_snapshot_file(API_DIR / "2024-06-12_captured-20240613T035001Z.json")
    assert (first.rows, second.rows) == (14, 16)
    assert first.listing_date == second.listing_date == date(2024, 6, 12)
    assert first.snapshot_id != second.snapshot_id
    assert first.captured_at == datetime(2024, 6, 12, 17, 6, 41, tzinfo=UTC)
    assert second.captured_at == datetime(2024, 6, 13, 3, 50, 1, tzinfo=UTC)
    top = [t.table.to_pylist()[0] for t in (first, second)]
    assert [r["arxiv_id"] for r in top] == ["2406.07550", "2406.07550"]
    assert [r["upvotes"] for r in top] == [23, 29]


def test_upvotes_come_from_paper_not_top_level() -> None:
    name = "2025-10-03_captured-20251003T074927Z.json"
    raw = _raw(name)
    assert "upvotes" not in raw[0]
    expected = raw[0]["paper"]["upvotes"]
    assert expected == 43
    assert _rows(name)[0]["upvotes"] == expected


def test_arxiv_ids_with_trailing_zero_stay_strings() -> None:
    ids = {r["arxiv_id"] for r in _rows("2025-03-17_captured-20250317T074930Z.json")}
    assert "2503.10970" in ids
    ids = {r["arxiv_id"] for r in _rows("2024-06-12_captured-20240613T035001Z.json")}
    assert {"2406.07550", "2406.07520"} <= ids
    body = json.dumps([_paper("2503.02130"), _paper("2410.10")]).encode()
    table = parse_snapshot(body, name="2025-03-05_captured-20250305T000000Z.json").table
    assert table.column("arxiv_id").to_pylist() == ["2503.02130", "2410.10"]


def test_old_era_rows_lack_new_fields() -> None:
    row = _rows("2024-05-27_captured-20240601T170721Z.json")[0]
    for column in (
        "github_repo",
        "github_stars",
        "project_page",
        "organization",
        "ai_keywords_json",
        "ai_summary",
        "submitted_on_daily_at",
        "submitted_by",
    ):
        assert row[column] is None, column
    assert row["published_at"] == datetime(2024, 5, 24, 17, 34, 15, tzinfo=UTC)
    authors = json.loads(row["authors_json"])
    assert authors[0] == {"name": "Chunjiang Ge", "hidden": False}
    assert set(authors[0]) == {"name", "hidden"}


def test_title_keeps_paper_title_verbatim() -> None:
    raw = _raw("2024-05-27_captured-20240601T170721Z.json")
    row = _rows("2024-05-27_captured-20240601T170721Z.json")[0]
    assert raw[0]["title"] != raw[0]["paper"]["title"]  # top level differs (line wraps)
    assert row["title"] == raw[0]["paper"]["title"]


def test_submitted_by_eras() -> None:
    assert _rows("2025-01-22_captured-20250122T041609Z.json")[0]["submitted_by"] == "zsytony"
    row = _rows("2025-03-17_captured-20250317T074930Z.json")[0]
    assert row["submitted_by"] == "kwanyoung"
    assert row["submitted_on_daily_at"] == datetime(2025, 3, 17, 0, 44, 5, 364000, tzinfo=UTC)
    # paper.publishedAt (arXiv), not the top-level publishedAt (03:23:19)
    assert row["published_at"] == datetime(2025, 3, 10, 7, 23, 19, tzinfo=UTC)
    keywords = json.loads(row["ai_keywords_json"])
    assert keywords[:2] == ["diffusion models", "Classifier-Free Guidance (CFG)"]


def test_submitted_by_falls_back_to_submitted_on_daily_by() -> None:
    element = _paper(submittedOnDailyBy={"user": "someone", "fullname": "Some One"})
    table = _table([element], date(2025, 1, 1))
    assert table.column("submitted_by").to_pylist() == ["someone"]


def test_newest_era_fields() -> None:
    name = "2025-10-03_captured-20251003T074927Z.json"
    raw = _raw(name)
    rows = _rows(name)
    first = rows[0]
    assert first["organization"] == "ByteDance Seed"
    assert first["github_repo"] == "https://github.com/justincui03/Self-Forcing-Plus-Plus"
    assert first["github_stars"] == 1
    assert first["project_page"] == "https://self-forcing-plus-plus.github.io/"
    assert first["submitted_by"] == "cuijiaxing"
    assert first["ai_summary"] == raw[0]["paper"]["ai_summary"]
    assert json.loads(first["ai_keywords_json"]) == raw[0]["paper"]["ai_keywords"]
    stars = [r["github_stars"] for r in rows]
    assert stars == [e["paper"].get("githubStars") for e in raw]
    assert None in stars  # absent for papers without a repo
    orgs = [r["organization"] for r in rows]
    assert orgs.count(None) == sum("organization" not in e for e in raw)


def test_hidden_authors_are_counted_and_flagged() -> None:
    name = "2025-09-30_captured-20250930T074947Z.json"
    raw = _raw(name)
    rows = _rows(name)
    assert len(rows) == 50
    hidden = [
        (i, j)
        for i, e in enumerate(raw)
        for j, a in enumerate(e["paper"]["authors"])
        if a["hidden"]
    ]
    assert hidden
    i, j = hidden[0]
    authors = json.loads(rows[i]["authors_json"])
    assert authors[j]["hidden"] is True
    assert rows[i]["author_count"] == len(raw[i]["paper"]["authors"])
    # submitterOrganization (the submitter's org) is not the paper's organization
    assert all(r["organization"] is None for r in rows)


def test_organization_from_top_level_then_paper() -> None:
    elements = [
        {**_paper("2510.00001"), "organization": {"name": "google", "fullname": "Google"}},
        _paper("2510.00002", organization={"name": "only-name"}),
        _paper("2510.00003"),
    ]
    table = _table(elements, date(2025, 10, 1))
    assert table.column("organization").to_pylist() == ["Google", "only-name", None]


def test_listing_date_from_submitted_on_daily_at_without_date_in_name() -> None:
    body = (API_DIR / "2025-03-17_captured-20250317T074930Z.json").read_bytes()
    snap = parse_snapshot(body, name="daily_captured-20250317T074930Z.json")
    assert snap.listing_date == date(2025, 3, 17)
    assert set(snap.table.column("listing_date").to_pylist()) == {date(2025, 3, 17)}


def test_listing_date_per_row_when_rows_differ() -> None:
    elements = [
        _paper("2501.00001", submittedOnDailyAt="2025-01-02T23:59:00.000Z"),
        _paper("2501.00002", submittedOnDailyAt="2025-01-03T01:00:00+02:00"),
    ]
    snap = parse_snapshot(json.dumps(elements).encode(), name="x_captured-20250103.json")
    assert snap.table.column("listing_date").to_pylist() == [date(2025, 1, 2), date(2025, 1, 2)]
    elements[1]["paper"]["submittedOnDailyAt"] = "2025-01-03T10:00:00Z"
    snap = parse_snapshot(json.dumps(elements).encode(), name="x_captured-20250103.json")
    assert snap.listing_date is None
    assert snap.table.column("listing_date").to_pylist() == [date(2025, 1, 2), date(2025, 1, 3)]


def test_old_era_file_without_date_in_name_is_rejected() -> None:
    body = (API_DIR / "2024-05-27_captured-20240601T170721Z.json").read_bytes()
    with pytest.raises(SnapshotRejected) as info:
        parse_snapshot(body, name="papers_captured-20240601T170721Z.json")
    assert "no listing date" in info.value.reason
    assert "submittedOnDailyAt" in info.value.reason


def test_name_date_wins_over_submitted_on_daily_at() -> None:
    body = (API_DIR / "2025-03-17_captured-20250317T074930Z.json").read_bytes()
    snap = parse_snapshot(body, name="2025-03-16_captured-20250317T074930Z.json")
    assert snap.listing_date == date(2025, 3, 16)


def test_empty_array_is_a_valid_weekend_listing() -> None:
    snap = parse_snapshot(b"[]\n", name="2024-06-01_captured-20240601T165731Z.json")
    assert snap.rows == 0
    assert snap.table.schema == API_PAPERS_SCHEMA
    assert snap.listing_date == date(2024, 6, 1)
    table = _table([], listing_date=None)
    assert table.num_rows == 0 and table.schema == API_PAPERS_SCHEMA


def test_values_are_not_the_parsers_business() -> None:
    element = _paper(upvotes=-3)
    table = _table([element], date(2025, 1, 1))
    assert table.column("upvotes").to_pylist() == [-3]


def test_missing_optional_fields_default() -> None:
    element = {"paper": {"id": "2501.00001"}}
    row = _table([element], date(2025, 1, 1)).to_pylist()[0]
    assert row["num_comments"] == 0
    assert row["upvotes"] is None and row["authors_json"] is None and row["author_count"] is None
    assert row["title"] is None


def test_title_falls_back_to_top_level() -> None:
    element = {"paper": {"id": "2501.00001"}, "title": "Top"}
    table = _table([element], date(2025, 1, 1))
    assert table.column("title").to_pylist() == ["Top"]


def test_pages_of_one_listing_continue_ranks() -> None:
    pages = [[_paper("2501.00001"), _paper("2501.00002")], [_paper("2501.00003")], []]
    items = [ApiBody(json.dumps(page).encode(), "s", "u", CAPTURED, date(2025, 1, 2), first_rank)
             for page, first_rank in zip(pages, (1, 3, 4))]
    table = pa.concat_tables(parse_api_bodies(items))
    assert table.schema == API_PAPERS_SCHEMA
    assert table.column("rank").to_pylist() == [1, 2, 3]
    assert table.column("arxiv_id").to_pylist() == ["2501.00001", "2501.00002", "2501.00003"]


def test_first_rank_and_timestamp_types() -> None:
    table = _table([_paper(publishedAt="2025-01-01T10:00:00.000Z")], date(2025, 1, 2),
                   captured_at=datetime(2025, 1, 2, 9, 0), first_rank=51)  # naive: taken as UTC
    assert table.column("rank").to_pylist() == [51]
    assert table.schema.field("captured_at").type == pa.timestamp("us", tz="UTC")
    assert table.column("captured_at").to_pylist() == [datetime(2025, 1, 2, 9, tzinfo=UTC)]


def test_bom_and_crlf_json_accepted() -> None:
    body = "\ufeff[\r\n" + json.dumps(_paper()) + "\r\n]\r\n"
    snap = parse_snapshot(body.encode(), name="2025-03-05_captured-20250305T000000Z.json")
    assert snap.rows == 1


def test_capture_time_from_name_and_mtime() -> None:
    assert capture_time_from_name("2024-06-12_captured-20240613T035001Z.json") == datetime(
        2024, 6, 13, 3, 50, 1, tzinfo=UTC
    )
    assert capture_time_from_name("papers-listing_captured-20251104.txt") == datetime(
        2025, 11, 4, tzinfo=UTC
    )
    assert capture_time_from_name("captured-20241340.json") is None
    assert capture_time_from_name("2024-06-12.json") is None
    mtime = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)
    snap = parse_snapshot(json.dumps([_paper()]).encode(), name="2025-03-17.json", mtime=mtime)
    assert snap.captured_at == mtime
    with pytest.raises(SnapshotRejected, match="capture time"):
        parse_snapshot(json.dumps([_paper()]).encode(), name="2025-03-17.json")


def test_listing_date_from_name_is_leading_only() -> None:
    assert listing_date_from_name("2024-06-12_captured-20240613T035001Z.json") == date(2024, 6, 12)
    assert listing_date_from_name("daily_2024-06-12.json") is None
    assert listing_date_from_name("2024-02-30_x.json") is None
    assert listing_date_from_name("2024-06-123.json") is None


def test_parse_snapshot_file_uses_mtime_when_name_has_no_capture(tmp_path: Path) -> None:
    path = tmp_path / "2025-03-17.json"
    path.write_bytes((API_DIR / "2025-03-17_captured-20250317T074930Z.json").read_bytes())
    snap = parse_snapshot_file(path)
    assert snap.captured_at.tzinfo is not None
    assert snap.captured_at == datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    assert snap.rows == 12


def test_package_imports_no_dagster_or_dlt() -> None:
    code = (
        "import sys, orchestration.snapshots; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'dagster', 'dlt'}); "
        "assert not bad, bad"
    )
    repo = REPO
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True)
