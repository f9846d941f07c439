"""Columnar fast path for API JSON bodies: pyarrow's JSON reader + Arrow compute, no per-row Python.

:func:`api_table_arrow` builds the same table as :func:`~.api_json.records_to_table` (schema
:data:`API_PAPERS_SCHEMA`, identical values) for bodies in the API's shape. It returns ``None`` —
"use the Python parser" — whenever it cannot vouch for an identical result, which is also how every
rejection keeps its exact reason: the Python parser produces it. In particular it returns ``None`` when

- the reader fails (not JSON, not an array of objects, a field of another JSON type than the API's:
  pyarrow's reader never converts between JSON types, e.g. ``"upvotes": "12"`` or ``2.0`` fail);
- the body holds ``NaN``/``Infinity`` anywhere (the Python parser rejects those constants; the
  reader would skip them in ignored fields), or is nested deeper than :data:`MAX_DEPTH`;
- a value needs a rule the Python parser applies row by row: a null element or ``paper``, a
  missing/blank/unusual ``paper.id``, a null ``hidden`` or keyword, a name or keyword that JSON has
  to escape, a timestamp other than ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff][Z|±HH:MM]``, an integer
  outside 32 bits, a row without a listing date, a top-level ``organization`` that is a string…

Rows are never dropped or altered: it is the whole body or ``None``. Tests compare both paths on every
loadable fixture and on synthetic edge cases.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .metadata import as_utc
from .schemas import API_PAPERS_SCHEMA, TIMESTAMP_UTC

__all__ = ["MAX_DEPTH", "api_table_arrow"]

#: Bodies whose brackets nest deeper than this take the Python path (which rejects very deep
#: documents: RecursionError), counting brackets inside strings too (a conservative bound).
MAX_DEPTH = 200

_S = pa.string()
_I = pa.int64()
_ORGANIZATION = pa.struct([("name", _S), ("fullname", _S)])
#: The API fields the raw table reads, typed as the API sends them; other fields are skipped.
_ELEMENT = pa.struct([
    ("paper", pa.struct([
        ("id", _S),
        ("title", _S),
        ("summary", _S),
        ("authors", pa.list_(pa.struct([("name", _S), ("hidden", pa.bool_())]))),
        ("publishedAt", _S),
        ("upvotes", _I),
        ("githubRepo", _S),
        ("githubStars", _I),
        ("projectPage", _S),
        ("organization", _ORGANIZATION),
        ("ai_keywords", pa.list_(_S)),
        ("ai_summary", _S),
        ("submittedOnDailyAt", _S),
        ("submittedOnDailyBy", pa.struct([("user", _S)])),
    ])),
    ("title", _S),
    ("summary", _S),
    ("numComments", _I),
    ("organization", _ORGANIZATION),
    ("submittedBy", pa.struct([("name", _S)])),
])
_DOCUMENT = pa.schema([pa.field("a", pa.list_(_ELEMENT))])
_PARSE = pj.ParseOptions(explicit_schema=_DOCUMENT, unexpected_field_behavior="ignore",
                         newlines_in_values=True)
_READ = pj.ReadOptions(use_threads=False, block_size=1 << 30)

_BOM = "\ufeff".encode()
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# Python's datetime.fromisoformat and Arrow's cast agree on these (3 or 6 fraction digits).
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?(Z|[+-]\d{2}:\d{2})?$"
# Ids the fast path takes verbatim: arXiv-like, never blank (Python's str.strip() is Unicode-wide).
_ARXIV_ID = r"^[0-9A-Za-z][0-9A-Za-z./_-]*$"
# Characters json.dumps escapes (ensure_ascii=False): quote, backslash, control characters.
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


class _Fallback(Exception):
    """The fast path cannot vouch for an identical result: use the Python parser."""


def api_table_arrow(
    body: bytes,
    *,
    snapshot_id: str,
    source_uri: str,
    captured_at: datetime,
    listing_date: date | None,
) -> pa.Table | None:
    """The raw API papers table of ``body`` (UTF-8, already validated), or None: use the Python path."""
    if body.startswith(_BOM):
        body = body[len(_BOM):]
    if not body.lstrip().startswith(b"[") or b"NaN" in body or b"Infinity" in body:
        return None
    try:
        if _max_depth(body) > MAX_DEPTH:
            return None
        document = pj.read_json(io.BytesIO(b'{"a":' + body + b"}"), read_options=_READ,
                                parse_options=_PARSE)
        return _table(document.column("a").combine_chunks(), snapshot_id=snapshot_id,
                      source_uri=source_uri, captured_at=captured_at, listing_date=listing_date)
    except (_Fallback, pa.ArrowException, ValueError):
        return None


def _max_depth(body: bytes) -> int:
    data = pa.Array.from_buffers(pa.uint8(), len(body), [None, pa.py_buffer(body)])
    opens = pc.or_(pc.equal(data, ord("[")), pc.equal(data, ord("{")))
    closes = pc.or_(pc.equal(data, ord("]")), pc.equal(data, ord("}")))
    steps = pc.subtract(pc.cast(opens, pa.int32()), pc.cast(closes, pa.int32()))
    return pc.max(pc.cumulative_sum(steps)).as_py() or 0


def _table(lists: pa.ListArray, *, snapshot_id: str, source_uri: str, captured_at: datetime,
           listing_date: date | None) -> pa.Table:
    if len(lists) != 1 or lists.null_count:
        raise _Fallback
    elements: pa.StructArray = lists.flatten()
    n = len(elements)
    if n == 0:
        raise _Fallback  # an empty listing: nothing to gain, the Python path is exact
    if elements.null_count:
        raise _Fallback  # a null element: rejected by the Python path
    paper = _field(elements, "paper")
    if paper.null_count:
        raise _Fallback  # no 'paper' object (or null)
    arxiv_id = _field(paper, "id")
    if arxiv_id.null_count or not _all(pc.match_substring_regex(arxiv_id, _ARXIV_ID)):
        raise _Fallback

    submitted_on_daily_at = _timestamps(_field(paper, "submittedOnDailyAt"))
    if listing_date is not None:
        listing = pa.repeat(pa.scalar(listing_date, pa.date32()), n)
    else:
        if submitted_on_daily_at.null_count:
            raise _Fallback  # no listing date for a row: rejected by the Python path
        listing = pc.cast(submitted_on_daily_at, pa.date32())

    authors = _field(paper, "authors")
    keywords = _field(paper, "ai_keywords")
    columns = {
        "snapshot_id": pa.repeat(pa.scalar(snapshot_id, _S), n),
        "source_uri": pa.repeat(pa.scalar(source_uri, _S), n),
        "listing_date": listing,
        "captured_at": pa.repeat(pa.scalar(as_utc(captured_at), TIMESTAMP_UTC), n),
        "rank": pa.array(range(1, n + 1), pa.int32()),
        "arxiv_id": arxiv_id,
        "title": _first_truthy(_field(paper, "title"), _field(elements, "title")),
        "summary": _first_truthy(_field(paper, "summary"), _field(elements, "summary")),
        "authors_json": _authors_json(authors),
        "author_count": pc.cast(pc.list_value_length(authors), pa.int32()),
        "published_at": _timestamps(_field(paper, "publishedAt")),
        "upvotes": _int32(_field(paper, "upvotes")),
        "num_comments": _int32(pc.fill_null(_field(elements, "numComments"), 0)),
        "github_repo": _field(paper, "githubRepo"),
        "github_stars": _int32(_field(paper, "githubStars")),
        "project_page": _field(paper, "projectPage"),
        "organization": _first_truthy(_organization(_field(elements, "organization")),
                                      _organization(_field(paper, "organization"))),
        "ai_keywords_json": _keywords_json(keywords),
        "ai_summary": _field(paper, "ai_summary"),
        "submitted_on_daily_at": submitted_on_daily_at,
        "submitted_by": _first_truthy(_field(_field(elements, "submittedBy"), "name"),
                                      _field(_field(paper, "submittedOnDailyBy"), "user")),
    }
    return pa.Table.from_pydict(columns, schema=API_PAPERS_SCHEMA)


# --- helpers ------------------------------------------------------------------------------


def _field(struct: pa.StructArray, name: str) -> pa.Array:
    """A child of a struct array with the parent's nulls applied (a null parent = a null child)."""
    return pc.struct_field(struct, name)


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask).as_py()) if len(mask) else True


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py()) if len(mask) else False


def _truthy(values: pa.Array) -> pa.Array:
    """Python truthiness of optional strings: not null and not empty."""
    return pc.fill_null(pc.not_equal(values, ""), False)


def _first_truthy(first: pa.Array, second: pa.Array) -> pa.Array:
    """``first or second`` as Python evaluates it on optional strings."""
    return pc.if_else(_truthy(first), first, second)


def _organization(organizations: pa.StructArray) -> pa.Array:
    """``fullname or name`` of an organization object (null when there is none)."""
    return _first_truthy(_field(organizations, "fullname"), _field(organizations, "name"))


def _int32(values: pa.Array) -> pa.Array:
    if values.null_count < len(values):
        low, high = pc.min_max(values).values()
        if low.as_py() < _INT32_MIN or high.as_py() > _INT32_MAX:
            raise _Fallback  # rejected by the Python path (not a 32-bit integer)
    return pc.cast(values, pa.int32())


def _timestamps(values: pa.Array) -> pa.Array:
    if values.null_count < len(values) and not _all(
        pc.fill_null(pc.match_substring_regex(values, _TIMESTAMP), True)
    ):
        raise _Fallback  # another ISO-8601 form (or not one): the Python path decides
    return pc.cast(values, TIMESTAMP_UTC)


def _quoted(strings: pa.Array) -> pa.Array:
    """JSON string literals of strings that need no escaping (else: fall back)."""
    if _any(pc.fill_null(pc.match_substring_regex(strings, _NEEDS_ESCAPE), False)):
        raise _Fallback
    return pc.binary_join_element_wise('"', strings, '"', "")


def _json_lists(lists: pa.ListArray, items: pa.Array) -> pa.Array:
    """``json.dumps`` of each list given its items already rendered as JSON text."""
    rebuilt = pa.ListArray.from_arrays(lists.offsets, items, mask=lists.is_null())
    joined = pc.binary_join(rebuilt, ", ")
    return pc.binary_join_element_wise("[", joined, "]", "")


def _authors_json(authors: pa.ListArray) -> pa.Array:
    """``json.dumps([{"name": ..., "hidden": ...}, ...], ensure_ascii=False)`` per paper."""
    authors = _sliced(authors)
    entries: pa.StructArray = authors.values
    if entries.null_count:
        raise _Fallback  # an author that is null: rejected by the Python path
    names, hidden = entries.field("name"), entries.field("hidden")
    if hidden.null_count:
        raise _Fallback  # "hidden" missing (Python: False) or null (Python: rejected)
    name_json = pc.fill_null(_quoted(names), "null")
    hidden_json = pc.if_else(hidden, "true", "false")
    items = pc.binary_join_element_wise('{"name": ', name_json, ', "hidden": ', hidden_json, "}", "")
    return _json_lists(authors, items)


def _keywords_json(keywords: pa.ListArray) -> pa.Array:
    """``json.dumps(ai_keywords, ensure_ascii=False)`` per paper."""
    keywords = _sliced(keywords)
    if keywords.values.null_count:
        raise _Fallback  # a null keyword: rejected by the Python path
    return _json_lists(keywords, _quoted(keywords.values))


def _sliced(lists: pa.ListArray) -> pa.ListArray:
    """The list array with offsets starting at 0 and values cut to what the lists use."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    start = lists.offsets[0].as_py()
    end = lists.offsets[len(lists)].as_py()
    if start == 0 and end == len(lists.values):
        return lists
    offsets = pc.subtract(lists.offsets, start)
    return pa.ListArray.from_arrays(offsets, lists.values.slice(start, end - start), mask=lists.is_null())
