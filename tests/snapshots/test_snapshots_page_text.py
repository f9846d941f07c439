"""Page-text snapshots: the real listing-page copy and the raw.landed_page_cards columns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.snapshot_files import parse_snapshot_file
from orchestration.snapshots import (
    PAGE_CARDS_SCHEMA,
    SnapshotRejected,
    read_page_cards,
    sha256_hex,
)
from tests.snapshot_files import parse_page_text, parse_snapshot

from tests.pipeline_runs import FIXTURES
LISTING = FIXTURES / "listing_text" / "papers-listing_captured-20251104.txt"
CAPTURED = datetime(2025, 11, 4, tzinfo=UTC)
ABSTRACT = "We study a thing. It works well and we show it in many experiments."


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return parse_snapshot_file(LISTING).table.to_pylist()


def _by_title(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    matches = [r for r in rows if r["title"] == title]
    assert len(matches) == 1, title
    return matches[0]


def _card(
    title: str, meta: str, abstract: str | None = ABSTRACT, authors: str = "3 authors"
) -> str:
    blocks = [title] + ([abstract] if abstract is not None else [])
    return "\n\n".join(blocks) + f"\n\n  • {authors}\n·\n{meta}\n"


def _parse(text: str, newline: str = "\n") -> list[dict[str, Any]]:
    body = text.replace("\n", newline).encode()
    return parse_page_text(
        body, snapshot_id=sha256_hex(body), source_uri="t.txt", captured_at=CAPTURED
    ).to_pylist()


def test_all_85_cards_ranked(rows: list[dict[str, Any]]) -> None:
    snap = parse_snapshot_file(LISTING)
    assert snap.format == "page_text"
    assert snap.table.schema == PAGE_CARDS_SCHEMA
    assert snap.rows == len(rows) == 85
    assert [r["rank"] for r in rows] == list(range(1, 86))
    assert snap.listing_date is None
    assert snap.captured_at == CAPTURED
    assert snap.snapshot_id == sha256_hex(LISTING.read_bytes())
    assert {r["source_uri"] for r in rows} == {LISTING.name}


def test_titles_and_abstracts_are_real(rows: list[dict[str, Any]]) -> None:
    header = {"new", "Subscribe", "Daily Papers", "byAK and the research community", "Nov 4"}
    for row in rows:
        assert row["title"] and row["title"] not in header
        assert row["summary"] and len(row["summary"]) > len(row["title"])
        assert "•" not in row["title"] and row["title"] != "·"
        assert row["author_count"] >= 1
        assert row["published_on"] is not None
        assert row["num_comments"] >= 0
    assert len({r["title"] for r in rows}) == 85


def test_first_card(rows: list[dict[str, Any]]) -> None:
    first = rows[0]
    assert first["title"].startswith("Class Machine Unlearning for Complex Data")
    assert first["summary"].startswith("In current AI era, users may request")
    assert (first["author_count"], first["published_on"], first["num_comments"]) == (
        5,
        date(2024, 5, 24),
        0,
    )


def test_llm_in_a_flash(rows: list[dict[str, Any]]) -> None:
    card = _by_title(
        rows, "LLM in a flash: Efficient Large Language Model Inference with Limited Memory"
    )
    assert card["author_count"] == 8
    assert card["published_on"] == date(2023, 12, 12)
    assert card["num_comments"] == 8
    assert card["summary"].startswith("Large language models (LLMs) are central")


def test_date_without_year_gets_capture_year_and_no_count_means_zero(
    rows: list[dict[str, Any]],
) -> None:
    last = rows[-1]
    assert last["title"].startswith("DeepDistill: Enhancing LLM Reasoning")
    assert (last["author_count"], last["published_on"], last["num_comments"]) == (
        8,
        date(2025, 4, 24),
        0,
    )
    card = _by_title(rows, "Benchmarking Information Retrieval Models on Complex Retrieval Tasks")
    assert (card["author_count"], card["published_on"], card["num_comments"]) == (
        2,
        date(2025, 9, 8),
        2,
    )
    assert sum(r["published_on"].year == 2025 for r in rows) > 10


def test_cards_without_meta_block_do_not_shift_the_next_card(rows: list[dict[str, Any]]) -> None:
    titles = {r["title"] for r in rows}
    skipped = "Enabling Flexible Multi-LLM Integration for Scalable Knowledge Aggregation"
    assert skipped not in titles
    card = _by_title(
        rows,
        "Scalable Parameter and Memory Efficient Pretraining for LLM: "
        "Recent Algorithmic Advances and Benchmarking",
    )
    assert card["summary"].startswith("Fueled by their remarkable ability")
    assert (card["author_count"], card["published_on"]) == (7, date(2025, 5, 28))
    warnings = parse_snapshot_file(LISTING).warnings
    assert len(warnings) == 3
    assert any("Enabling Flexible Multi-LLM" in w for w in warnings)
    assert any("MMTEB" in w for w in warnings)


def test_crlf_and_bom_give_the_same_cards() -> None:
    text = LISTING.read_bytes().decode("utf-8")
    crlf = ("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8")
    snap = parse_snapshot(crlf, name=LISTING.name)
    original = parse_snapshot_file(LISTING)
    drop = ["snapshot_id"]
    assert snap.table.drop_columns(drop).equals(original.table.drop_columns(drop))


def test_singular_author_missing_abstract_and_comment_counts() -> None:
    text = (
        "Daily Papers\n\nbyAK and the research community\n\nNov 4\n\n"
        + _card("One Author Paper", "Mar 3, 2021 12", authors="1 author")
        + "\n"
        + _card("No Abstract Here", "Feb 2", abstract=None)
        + "\n"
        + _card("Third Paper", "Jan 31 4", authors="1,024 authors")
    )
    for newline in ("\n", "\r\n"):
        rows = _parse(text, newline)
        summary = [
            (r["rank"], r["title"], r["summary"], r["author_count"], r["published_on"],
             r["num_comments"])
            for r in rows
        ]
        assert summary == [
            (1, "One Author Paper", ABSTRACT, 1, date(2021, 3, 3), 12),
            (2, "No Abstract Here", None, 3, date(2025, 2, 2), 0),
            (3, "Third Paper", ABSTRACT, 1024, date(2025, 1, 31), 4),
        ]


def test_card_without_date_line_and_impossible_date() -> None:
    text = (
        f"One\n\n{ABSTRACT}\n\n  • 2 authors\n\n"
        f"Two\n\n{ABSTRACT}\n\n  • 2 authors\n·\nFeb 29\n"
    )
    rows = _parse(text)
    assert [(r["title"], r["published_on"], r["num_comments"]) for r in rows] == [
        ("One", None, 0),
        ("Two", None, 0),  # Feb 29 does not exist in 2025
    ]


def test_read_page_cards_reports_meta_less_blocks() -> None:
    text = (
        _card("First", "Jan 1, 2020")
        + "\nOrphan Title\n\n"
        + ABSTRACT
        + "\n\n"
        + _card("Second", "Jan 2, 2020")
    )
    result = read_page_cards(text, capture_year=2025)
    assert [c.title for c in result.cards] == ["First", "Second"]
    assert len(result.warnings) == 1 and "Orphan Title" in result.warnings[0]


def test_no_cards_is_rejected() -> None:
    with pytest.raises(SnapshotRejected, match="no listing cards found"):
        _parse("Daily Papers\n\nbyAK and the research community\n\nNov 4\n")
    with pytest.raises(SnapshotRejected, match="no listing cards found"):
        parse_snapshot(b"hello world", name="notes_captured-20251104.txt")


def test_text_starting_with_a_digit_is_still_page_text() -> None:
    body = _card("3D Gaussian Splatting for Everyone", "Oct 1, 2024 5").encode()
    snap = parse_snapshot(body, name="listing_captured-20251104.txt")
    assert snap.format == "page_text"
    assert snap.table.column("title").to_pylist() == ["3D Gaussian Splatting for Everyone"]


def test_header_without_page_date_is_not_a_card() -> None:
    text = "new\n\nSubscribe\n\nDaily Papers\n\n" + _card("Only Card", "Jan 5, 2024")
    rows = _parse(text)
    assert [(r["title"], r["summary"]) for r in rows] == [("Only Card", ABSTRACT)]
