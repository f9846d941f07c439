"""Parser for Hugging Face ``/api/daily_papers`` bodies: a bare JSON array of paper objects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NoReturn

import pyarrow as pa

from .decoding import decode_text
from .errors import SnapshotRejected, preview
from .json_body import json_preview, json_type_name, load_json
from .metadata import as_utc
from .schemas import API_PAPERS_SCHEMA

__all__ = [
    "API_PAPERS_SCHEMA",
    "api_records",
    "parse_api_json",
    "parse_api_pages",
    "records_to_table",
]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def parse_api_json(
    body: bytes,
    *,
    snapshot_id: str,
    source_uri: str,
    captured_at: datetime,
    listing_date: date | None,
) -> pa.Table:
    """Parse one API body into a table with :data:`API_PAPERS_SCHEMA`.

    ``listing_date`` None means: take it per row from ``paper.submittedOnDailyAt``.
    Raises :class:`SnapshotRejected` for anything that is not the API's shape.
    """
    records = api_records(load_json(decode_text(body)))
    return records_to_table(
        records,
        snapshot_id=snapshot_id,
        source_uri=source_uri,
        captured_at=captured_at,
        listing_date=listing_date,
    )


def parse_api_pages(
    bodies: Sequence[bytes],
    *,
    snapshot_id: str,
    source_uri: str,
    captured_at: datetime,
    listing_date: date | None,
) -> pa.Table:
    """Parse several pages of one listing as a single table; ranks continue across pages."""
    records: list[dict[str, Any]] = []
    for page, body in enumerate(bodies):
        try:
            records.extend(api_records(load_json(decode_text(body))))
        except SnapshotRejected as exc:
            raise SnapshotRejected(f"page {page}: {exc.reason}") from None
    return records_to_table(
        records,
        snapshot_id=snapshot_id,
        source_uri=source_uri,
        captured_at=captured_at,
        listing_date=listing_date,
    )


def api_records(document: Any) -> list[dict[str, Any]]:
    """Check that a decoded document is the API's shape and return its paper objects.

    The API returns a bare array whose elements are objects holding a ``paper`` object with
    an ``id``; ``[]`` (weekend) is valid. Anything else is rejected with a specific reason.
    """
    if isinstance(document, dict):
        raise SnapshotRejected(_object_reason(document))
    if not isinstance(document, list):
        raise SnapshotRejected(
            f"body is the JSON {json_type_name(document)} {json_preview(document)}, "
            "expected an array of paper objects"
        )
    for index, element in enumerate(document):
        _check_element(index, element)
    return document


def records_to_table(
    records: Sequence[Any],
    *,
    snapshot_id: str,
    source_uri: str,
    captured_at: datetime,
    listing_date: date | None,
    first_rank: int = 1,
) -> pa.Table:
    """Build the raw API papers table from already-decoded paper objects (array order = rank)."""
    api_records(list(records))
    captured = as_utc(captured_at)
    columns: dict[str, list[Any]] = {name: [] for name in API_PAPERS_SCHEMA.names}
    for index, element in enumerate(records):
        row = _row(index, element, listing_date)
        row.update(
            snapshot_id=snapshot_id,
            source_uri=source_uri,
            captured_at=captured,
            rank=first_rank + index,
        )
        for name, column in columns.items():
            column.append(row[name])
    try:
        return pa.Table.from_pydict(columns, schema=API_PAPERS_SCHEMA)
    except UnicodeEncodeError as exc:  # an escaped lone surrogate (\ud800) decodes but is no text
        raise SnapshotRejected(
            f"invalid text: {exc.object[exc.start:exc.end]!r} is an unpaired UTF-16 surrogate "
            f"in {preview(exc.object)!r}"
        ) from None


# --- shape checks -----------------------------------------------------------------------


def _object_reason(document: dict[str, Any]) -> str:
    keys = sorted(document)
    reason = f"JSON object with keys {keys} is not the API's shape (a bare array of paper objects)"
    wrapped = [key for key in keys if isinstance(document[key], list)]
    if wrapped:
        reason += f"; looks like an envelope wrapping the array in {wrapped}"
    if "error" in document:
        reason += f"; error message: {json_preview(document['error'], 120)}"
    return reason


def _check_element(index: int, element: Any) -> None:
    if isinstance(element, str):
        raise SnapshotRejected(
            "array elements are strings (Python repr?), expected objects: "
            f"element {index} starts with {preview(element, 12)!r}"
        )
    if not isinstance(element, dict):
        raise SnapshotRejected(
            f"element {index} is a JSON {json_type_name(element)} ({json_preview(element)}), "
            "expected a paper object"
        )
    paper = element.get("paper")
    if not isinstance(paper, dict):
        if "paper" not in element:
            raise SnapshotRejected(
                f"element {index} has no 'paper' object (keys: {sorted(element)})"
            )
        raise SnapshotRejected(
            f"element {index}: 'paper' is a JSON {json_type_name(paper)}, expected an object"
        )
    if "id" not in paper:
        raise SnapshotRejected(f"element {index}: paper has no 'id'")
    arxiv_id = paper["id"]
    if not isinstance(arxiv_id, str):
        raise SnapshotRejected(
            f"element {index}: paper.id is the JSON {json_type_name(arxiv_id)} "
            f"{json_preview(arxiv_id)}, expected a string (a number would lose trailing zeros)"
        )
    if not arxiv_id.strip():
        raise SnapshotRejected(f"element {index}: paper.id is an empty string")


# --- one row ----------------------------------------------------------------------------


def _row(index: int, element: dict[str, Any], listing_date: date | None) -> dict[str, Any]:
    paper: dict[str, Any] = element["paper"]
    at = f"element {index}"
    submitted_on_daily_at = _timestamp(
        paper.get("submittedOnDailyAt"), f"{at}: paper.submittedOnDailyAt"
    )
    authors = _authors(paper.get("authors"), f"{at}: paper.authors")
    keywords = _keywords(paper.get("ai_keywords"), f"{at}: paper.ai_keywords")
    return {
        "listing_date": _listing_date(listing_date, submitted_on_daily_at, index),
        "arxiv_id": paper["id"],
        "title": _text(paper.get("title"), f"{at}: paper.title")
        or _text(element.get("title"), f"{at}: title"),
        "summary": _text(paper.get("summary"), f"{at}: paper.summary")
        or _text(element.get("summary"), f"{at}: summary"),
        "authors_json": None if authors is None else json.dumps(authors, ensure_ascii=False),
        "author_count": None if authors is None else len(authors),
        "published_at": _timestamp(paper.get("publishedAt"), f"{at}: paper.publishedAt"),
        "upvotes": _int(paper.get("upvotes"), f"{at}: paper.upvotes"),
        "num_comments": _int(element.get("numComments"), f"{at}: numComments") or 0,
        "github_repo": _text(paper.get("githubRepo"), f"{at}: paper.githubRepo"),
        "github_stars": _int(paper.get("githubStars"), f"{at}: paper.githubStars"),
        "project_page": _text(paper.get("projectPage"), f"{at}: paper.projectPage"),
        "organization": _organization(element.get("organization"), f"{at}: organization")
        or _organization(paper.get("organization"), f"{at}: paper.organization"),
        "ai_keywords_json": None if keywords is None else json.dumps(keywords, ensure_ascii=False),
        "ai_summary": _text(paper.get("ai_summary"), f"{at}: paper.ai_summary"),
        "submitted_on_daily_at": submitted_on_daily_at,
        "submitted_by": _user(element.get("submittedBy"), "name", f"{at}: submittedBy")
        or _user(paper.get("submittedOnDailyBy"), "user", f"{at}: paper.submittedOnDailyBy"),
    }


def _listing_date(given: date | None, submitted: datetime | None, index: int) -> date:
    if given is not None:
        return given
    if submitted is None:
        raise SnapshotRejected(
            "API file has no listing date: none given (file name has no leading YYYY-MM-DD) "
            f"and element {index} has no paper.submittedOnDailyAt"
        )
    return submitted.date()


# --- typed field readers ----------------------------------------------------------------


def _fail(where: str, value: Any, expected: str) -> NoReturn:
    raise SnapshotRejected(
        f"{where} is the JSON {json_type_name(value)} {json_preview(value)}, expected {expected}"
    )


def _text(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    _fail(where, value, "a string")


def _int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, value, "an integer")
    if not _INT32_MIN <= value <= _INT32_MAX:
        _fail(where, value, "a 32-bit integer")
    return value


def _timestamp(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(where, value, "an ISO-8601 timestamp string")
    try:
        return as_utc(datetime.fromisoformat(value))
    except (ValueError, OverflowError):  # OverflowError: in range locally, not in UTC (year 1 / 9999)
        _fail(where, value, "an ISO-8601 timestamp string")


def _authors(value: Any, where: str) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        _fail(where, value, "an array of author objects")
    authors = []
    for position, author in enumerate(value):
        if not isinstance(author, dict):
            _fail(f"{where}[{position}]", author, "an author object")
        hidden = author.get("hidden", False)
        if not isinstance(hidden, bool):
            _fail(f"{where}[{position}].hidden", hidden, "a boolean")
        name = _text(author.get("name"), f"{where}[{position}].name")
        authors.append({"name": name, "hidden": hidden})
    return authors


def _keywords(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        _fail(where, value, "an array of strings")
    for position, keyword in enumerate(value):
        if not isinstance(keyword, str):
            _fail(f"{where}[{position}]", keyword, "a string")
    return value


def _organization(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    if not isinstance(value, dict):
        _fail(where, value, "an organization object")
    return _text(value.get("fullname"), f"{where}.fullname") or _text(
        value.get("name"), f"{where}.name"
    )


def _user(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        _fail(where, value, "a user object")
    return _text(value.get(key), f"{where}.{key}")
