"""Parser for text copied from the papers listing page (cards of title / abstract / meta).

A card is three blank-line separated blocks: the title, the abstract paragraph, and a meta
block ``  • N authors`` / ``·`` / ``Mon D[, YYYY][ COMMENTS]``. Cards are found by anchoring on
the ``• N authors`` line and looking back for the title and abstract, so a card whose meta
block is missing (seen in real copies) cannot shift the following cards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa

from .errors import SnapshotRejected, preview
from .metadata import as_utc
from .schemas import PAGE_CARDS_SCHEMA

_AUTHORS = re.compile(r"^\s*•\s*(\d[\d,]*)\s+authors?\s*$", re.IGNORECASE)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(
    rf"^(?P<month>{'|'.join(_MONTHS)})[a-z]*\.?\s+(?P<day>\d{{1,2}})"
    r"(?:,\s*(?P<year>\d{4}))?(?:\s+(?P<comments>\d[\d,]*))?$"
)
_SEPARATORS = frozenset({"·", "•", "-"})


@dataclass(frozen=True)
class PageCard:
    """One listing card as read from the page text."""

    title: str
    summary: str | None
    author_count: int
    published_on: date | None
    num_comments: int


@dataclass(frozen=True)
class PageCards:
    """The cards of a page text, plus notes about text that could not be attached to a card."""

    cards: tuple[PageCard, ...]
    warnings: tuple[str, ...]


def read_page_cards(text: str, *, capture_year: int) -> PageCards:
    """Find the cards of a page text; raise :class:`SnapshotRejected` if there are none."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    anchors = [(index, authors) for index, line in enumerate(lines) if (authors := _AUTHORS.match(line))]
    cards: list[PageCard] = []
    warnings: list[str] = []
    region_start = 0
    for anchor, authors in anchors:
        content, orphan_meta = _region_lines(lines[region_start:anchor], first=region_start == 0)
        published_on, num_comments, region_start = _read_meta(lines, anchor + 1, capture_year)
        position = len(cards) + 1
        warnings.extend(f"unattached date line {line!r} before card {position} ignored" for line in orphan_meta)
        title, summary, extra = _split_region(content)
        warnings.extend(f"block without an authors/date line before card {position} skipped: {preview(line, 80)!r}"
                        for line in extra)
        if title is None:
            warnings.append(f"authors line {anchor + 1} has no title above it; skipped")
            continue
        cards.append(PageCard(title=title, summary=summary, author_count=int(authors[1].replace(",", "")),
                              published_on=published_on, num_comments=num_comments))
    if not cards:
        raise SnapshotRejected(
            "no listing cards found (no '• N authors' lines with a title above them): "
            f"text starts with {preview(text.strip(), 60)!r}"
        )
    return PageCards(cards=tuple(cards), warnings=tuple(warnings))


def cards_to_table(cards: Sequence[PageCard], *, snapshot_id: str, source_uri: str, captured_at: datetime
                   ) -> pa.Table:
    """Build the raw page-cards table; rank is the 1-based card position."""
    captured = as_utc(captured_at)
    return pa.Table.from_pylist([{"snapshot_id": snapshot_id, "source_uri": source_uri, "captured_at": captured,
                                  "rank": rank, **vars(card)} for rank, card in enumerate(cards, 1)],
                                schema=PAGE_CARDS_SCHEMA)


def _region_lines(region: Sequence[str], *, first: bool) -> tuple[list[str], list[str]]:
    """Split the lines between two cards into content (title/abstract) and stray date lines. In the
    first region everything up to the page date (``Nov 4``) is the page header."""
    content: list[str] = []
    orphan_meta: list[str] = []
    header_ended = False
    for raw in region:
        line = raw.strip()
        if not line or line in _SEPARATORS:
            continue
        if _DATE.match(line):
            if first:  # the page header ends with the page's own date
                content.clear()
                header_ended = True
            else:
                orphan_meta.append(line)
            continue
        content.append(line)
    if first and not header_ended and len(content) > 2:
        # no page date to end the header: keep only the card right above the authors line
        content = content[-2:] if _looks_like_abstract(content[-1]) else content[-1:]
    return content, orphan_meta


def _split_region(content: list[str]) -> tuple[str | None, str | None, list[str]]:
    """(title, abstract, skipped lines) from the content lines above an authors line."""
    if not content:
        return None, None, []
    if len(content) >= 2 and _looks_like_abstract(content[-1]):
        title, summary, extra = content[-2], content[-1], content[:-2]
    else:
        title, summary, extra = content[-1], None, content[:-1]
    skipped = [line for line in extra if not _looks_like_abstract(line)] or extra
    return title, summary, skipped


def _looks_like_abstract(line: str) -> bool:
    return len(line) >= 160 or ". " in line or line.endswith(".")


def _read_meta(lines: Sequence[str], start: int, capture_year: int) -> tuple[date | None, int, int]:
    """Read the ``·`` and date lines after an authors line: (date, comments, next line index)."""
    index = start
    while index < len(lines) and lines[index].strip() in _SEPARATORS | {""}:
        index += 1
    match = _DATE.match(lines[index].strip()) if index < len(lines) else None
    if match is None:
        return None, 0, start
    year = int(match["year"]) if match["year"] else capture_year
    try:
        month = _MONTHS.index(match["month"]) + 1
        published_on: date | None = date(year, month, int(match["day"]))
    except ValueError:
        published_on = None
    comments = int(match["comments"].replace(",", "")) if match["comments"] else 0
    return published_on, comments, index + 1
