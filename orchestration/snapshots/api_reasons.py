"""Why an API body is rejected: a strict reading of the decoded JSON that names where it is wrong
(e.g. ``element 3: paper.upvotes is the JSON string "12", expected an integer``). The columnar parser
(:mod:`.api`) asks it about each body it cannot take, or would take too leniently, and reads a body it
accepts from the fields :func:`read_api` returns.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NoReturn

from .errors import SnapshotRejected, preview
from .metadata import as_utc

_PYTHON_TOKENS = ("'", "True", "False", "None")
_JSON_TYPES = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string", list: "array",
               dict: "object"}


def read_api(text: str, *, listing_date_known: bool = True) -> list[dict[str, Any]]:
    """The elements of ``text`` (a decoded API body), each with only the fields the raw table reads,
    when it is the API's shape: a bare array (``[]`` on a weekend) of objects holding a ``paper``
    object with a string ``id``, every field the raw table reads of the API's JSON type (an
    organization also a string). ``listing_date_known`` False: every element needs
    ``paper.submittedOnDailyAt``. Raises :class:`SnapshotRejected` naming what is wrong, and where."""
    document = load_json(text)
    if isinstance(document, dict):
        raise SnapshotRejected(_object_reason(document))
    if not isinstance(document, list):
        raise SnapshotRejected(f"body is the JSON {json_type_name(document)} {json_preview(document)}, "
                               "expected an array of paper objects")
    for index, element in enumerate(document):
        _check_element(index, element)
    return [_read_fields(index, element, listing_date_known) for index, element in enumerate(document)]


def load_json(text: str) -> Any:
    """``text`` decoded with :func:`json.loads` (never ``eval``); the rejection of an invalid one tells
    truncated from invalid, gives line/column and flags a Python repr (single quotes, ``True``/``None``)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SnapshotRejected(_decode_error_reason(text, exc)) from None
    except RecursionError:
        raise SnapshotRejected("invalid JSON: nested too deeply to decode") from None
    except ValueError as exc:  # e.g. integer literal longer than Python's digit limit
        raise SnapshotRejected(f"invalid JSON: {exc}") from None


def json_type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def json_preview(value: Any, limit: int = 40) -> str:
    """A decoded value rendered back as (shortened) JSON, e.g. ``"abc"`` or ``1``."""
    return preview(json.dumps(value, ensure_ascii=False), limit)


def _reject_constant(name: str) -> Any:
    raise SnapshotRejected(f"invalid JSON: non-standard constant {name}")


def _decode_error_reason(text: str, exc: json.JSONDecodeError) -> str:
    where = f"line {exc.lineno} col {exc.colno}"
    if text.startswith(_PYTHON_TOKENS, exc.pos):
        return (f"invalid JSON at {where}: {exc.msg} (looks like a Python repr with single "
                f"quotes/True/None, not JSON: {preview(text.lstrip())!r})")
    if exc.pos >= len(text.rstrip()):
        return f"truncated JSON (input ends at {where}): {exc.msg}"
    return f"invalid JSON at {where}: {exc.msg}"


# --- shape ------------------------------------------------------------------------------


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
        raise SnapshotRejected("array elements are strings (Python repr?), expected objects: "
                               f"element {index} starts with {preview(element, 12)!r}")
    if not isinstance(element, dict):
        raise SnapshotRejected(f"element {index} is a JSON {json_type_name(element)} "
                               f"({json_preview(element)}), expected a paper object")
    paper = element.get("paper")
    if not isinstance(paper, dict):
        if "paper" not in element:
            raise SnapshotRejected(f"element {index} has no 'paper' object (keys: {sorted(element)})")
        raise SnapshotRejected(f"element {index}: 'paper' is a JSON {json_type_name(paper)}, expected an object")
    if "id" not in paper:
        raise SnapshotRejected(f"element {index}: paper has no 'id'")
    arxiv_id = paper["id"]
    if not isinstance(arxiv_id, str):
        raise SnapshotRejected(
            f"element {index}: paper.id is the JSON {json_type_name(arxiv_id)} "
            f"{json_preview(arxiv_id)}, expected a string (a number would lose trailing zeros)")
    if not arxiv_id.strip():
        raise SnapshotRejected(f"element {index}: paper.id is an empty string")


# --- fields: each one the raw table reads -------------------------------------------------


def _read_fields(index: int, element: dict[str, Any], listing_date_known: bool) -> dict[str, Any]:
    """The element's fields the raw table reads, checked, in the API's shape: a pair read as ``a or b``
    (the second checked only when the first is empty) holds its value in both places."""
    paper: dict[str, Any] = element["paper"]
    at = f"element {index}"
    submitted = _timestamp(paper.get("submittedOnDailyAt"), f"{at}: paper.submittedOnDailyAt")
    authors = _authors(paper.get("authors"), f"{at}: paper.authors")
    keywords = _keywords(paper.get("ai_keywords"), f"{at}: paper.ai_keywords")
    if not listing_date_known and submitted is None:
        raise SnapshotRejected("API file has no listing date: none given (file name has no leading "
                               f"YYYY-MM-DD) and element {index} has no paper.submittedOnDailyAt")
    _text(paper["id"], f"{at}: paper.id")
    title = _text(paper.get("title"), f"{at}: paper.title") or _text(element.get("title"), f"{at}: title")
    summary = _text(paper.get("summary"), f"{at}: paper.summary") or _text(element.get("summary"), f"{at}: summary")
    _timestamp(paper.get("publishedAt"), f"{at}: paper.publishedAt")
    upvotes = _int(paper.get("upvotes"), f"{at}: paper.upvotes")
    comments = _int(element.get("numComments"), f"{at}: numComments")
    repo = _text(paper.get("githubRepo"), f"{at}: paper.githubRepo")
    stars = _int(paper.get("githubStars"), f"{at}: paper.githubStars")
    page = _text(paper.get("projectPage"), f"{at}: paper.projectPage")
    organization = (_organization(element.get("organization"), f"{at}: organization")
                    or _organization(paper.get("organization"), f"{at}: paper.organization"))
    ai_summary = _text(paper.get("ai_summary"), f"{at}: paper.ai_summary")
    user = (_user(element.get("submittedBy"), "name", f"{at}: submittedBy")
            or _user(paper.get("submittedOnDailyBy"), "user", f"{at}: paper.submittedOnDailyBy"))
    read = {"id": paper["id"], "title": title, "summary": summary, "authors": authors,
            "publishedAt": paper.get("publishedAt"), "upvotes": upvotes, "githubRepo": repo, "githubStars": stars,
            "projectPage": page, "organization": {"name": organization}, "ai_keywords": keywords,
            "ai_summary": ai_summary, "submittedOnDailyAt": paper.get("submittedOnDailyAt"),
            "submittedOnDailyBy": {"user": user}}
    return {"paper": read, "title": title, "summary": summary, "numComments": comments,
            "organization": {"name": organization}, "submittedBy": {"name": user}}


def _fail(where: str, value: Any, expected: str) -> NoReturn:
    found = "null" if value is None else f"the JSON {json_type_name(value)} {json_preview(value)}"
    raise SnapshotRejected(f"{where} is {found}, expected {expected}")


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(where, value, "a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # an escaped lone surrogate (\ud800) decodes but is no text
        raise SnapshotRejected(f"invalid text: {exc.object[exc.start:exc.end]!r} is an unpaired UTF-16 "
                               f"surrogate in {preview(exc.object)!r} ({where})") from None
    return value


def _int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, value, "an integer")
    if not -(2**31) <= value < 2**31:
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
        authors.append({"name": _text(author.get("name"), f"{where}[{position}].name"), "hidden": hidden})
    return authors


def _keywords(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        _fail(where, value, "an array of strings")
    for position, keyword in enumerate(value):
        if not isinstance(keyword, str):
            _fail(f"{where}[{position}]", keyword, "a string")
        _text(keyword, f"{where}[{position}]")
    return value


def _organization(value: Any, where: str) -> str | None:
    """An organization's name: ``fullname or name`` of an object, or the string itself."""
    if value is None or isinstance(value, str):
        return _text(value, where) or None
    if not isinstance(value, dict):
        _fail(where, value, "an organization object")
    return _text(value.get("fullname"), f"{where}.fullname") or _text(value.get("name"), f"{where}.name")


def _user(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        _fail(where, value, "a user object")
    return _text(value.get(key), f"{where}.{key}")
