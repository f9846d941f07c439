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
  missing/blank/unusual ``paper.id``, a missing or null ``hidden``, a null keyword, a timestamp
  other than ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff][Z|±HH:MM]``, an integer outside 32 bits, a row
  without a listing date, a top-level ``organization`` that is a string…

Rows are never dropped or altered: it is the whole body or ``None``. Names and keywords that JSON
must escape are rendered by ``json.dumps`` itself (only those strings). Tests compare both paths on
every loadable fixture, on edge cases and on random mutations.

Speed (this machine, CPU per record): pyarrow's reader parses these string-heavy documents at about
the speed of CPython's ``json`` (~300–400 MB/s); what the fast path saves is the per-row Python work,
and what it costs is a fixed ~1 ms of Arrow kernels per call. So it pays from a few hundred records
per body (a 6,667-record body: ~25–37 µs/record against 40–55 for the Python parser, whose garbage
collector works harder on big documents) and loses on 50-record bodies (43 against 28): see
``detect.FAST_PATH_MIN_BYTES``. Several bodies can share one call (:func:`api_tables_arrow`).
"""

from __future__ import annotations

import io
import itertools
import json
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .metadata import as_utc
from .schemas import API_PAPERS_SCHEMA, TIMESTAMP_UTC

__all__ = ["MAX_DEPTH", "ApiBody", "api_table_arrow", "api_tables_arrow"]

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
_PARSE_COMPACT = pj.ParseOptions(explicit_schema=_DOCUMENT, unexpected_field_behavior="ignore",
                                 newlines_in_values=False)
_PARSE_MULTILINE = pj.ParseOptions(explicit_schema=_DOCUMENT, unexpected_field_behavior="ignore",
                                   newlines_in_values=True)

_BOM = "\ufeff".encode()
_EARLIEST = pa.scalar(datetime(1, 1, 2), pa.timestamp("us")).value  # µs since the epoch
_LATEST = pa.scalar(datetime(9999, 12, 30), pa.timestamp("us")).value
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# Python's datetime.fromisoformat and Arrow's cast agree on these (3 or 6 fraction digits).
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?(Z|[+-]\d{2}:\d{2})?$"
# Ids the fast path takes verbatim: arXiv-like, never blank (Python's str.strip() is Unicode-wide).
_ARXIV_ID = r"^[0-9A-Za-z][0-9A-Za-z./_-]*$"
# Characters json.dumps escapes (ensure_ascii=False): quote, backslash, control characters.
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


class _Fallback(Exception):
    """The fast path cannot vouch for an identical result: use the Python parser."""


@dataclass(frozen=True)
class ApiBody:
    """One API body and the metadata its rows carry (as :func:`~.api_json.records_to_table` takes it)."""

    body: bytes
    snapshot_id: str
    source_uri: str
    captured_at: datetime
    listing_date: date | None


def api_table_arrow(
    body: bytes,
    *,
    snapshot_id: str,
    source_uri: str,
    captured_at: datetime,
    listing_date: date | None,
) -> pa.Table | None:
    """The raw API papers table of ``body`` (UTF-8, already validated), or None: use the Python path."""
    return api_tables_arrow([ApiBody(body, snapshot_id, source_uri, captured_at, listing_date)])[0]


def api_tables_arrow(items: Sequence[ApiBody]) -> list[pa.Table | None]:
    """:func:`api_table_arrow` of many bodies at once: one reader call and one set of Arrow kernels
    per batch (up to :data:`BATCH_BYTES` of JSON), one line of the reader's input per body.

    A body the fast path cannot take is isolated by splitting the batch (results stay per body).
    """
    results: list[pa.Table | None] = [None] * len(items)
    bodies = {i: _eligible(item.body) for i, item in enumerate(items)}
    pending = [i for i, body in bodies.items() if body is not None]
    # a pretty-printed body spans lines: the reader needs its (slower) newlines-in-values mode
    multiline = [i for i in pending if b"\n" in bodies[i] or b"\r" in bodies[i]]
    spanning = set(multiline)
    compact = [i for i in pending if i not in spanning]
    for group, newlines in ((compact, False), (multiline, True)):
        for batch in _batches(group, bodies):
            _solve(items, bodies, batch, newlines, results)
    return results


#: JSON per reader call: bounds the memory of one batch (the reader's input plus its Arrow output).
BATCH_BYTES = 64 << 20


def _batches(indices: list[int], bodies: dict[int, bytes]) -> list[list[int]]:
    batches: list[list[int]] = []
    size = 0
    for i in indices:
        if not batches or size + len(bodies[i]) > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(i)
        size += len(bodies[i])
    return batches


def _eligible(body: bytes) -> bytes | None:
    """The body without BOM when the fast path may try it, else None."""
    if body.startswith(_BOM):
        body = body[len(_BOM):]
    if _FIRST_TOKEN.match(body) is None or b"NaN" in body or b"Infinity" in body:
        return None
    if _max_depth(body) > MAX_DEPTH:
        return None
    return body


def _solve(items: Sequence[ApiBody], bodies: dict[int, bytes], batch: list[int], newlines: bool,
           results: list[pa.Table | None]) -> None:
    try:
        table, counts = _batch_table([items[i] for i in batch], [bodies[i] for i in batch], newlines)
    except (_Fallback, pa.ArrowException, ValueError):
        if len(batch) > 1:  # find the body (or bodies) to leave to the Python parser
            middle = len(batch) // 2
            _solve(items, bodies, batch[:middle], newlines, results)
            _solve(items, bodies, batch[middle:], newlines, results)
        return
    offset = 0
    for i, count in zip(batch, counts):
        results[i] = table.slice(offset, count)
        offset += count


def _batch_table(items: Sequence[ApiBody], bodies: Sequence[bytes], newlines: bool
                 ) -> tuple[pa.Table, list[int]]:
    document = b"\n".join(b'{"a":' + body + b"}" for body in bodies)
    # one block = one chunk: no copy to combine chunks (threads did not pay off on 2 cores)
    read = pj.ReadOptions(use_threads=False, block_size=len(document) + 1)
    column = pj.read_json(io.BytesIO(document), read_options=read,
                          parse_options=_PARSE_MULTILINE if newlines else _PARSE_COMPACT).column("a")
    lists = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if len(lists) != len(items) or lists.null_count:
        raise _Fallback
    counts = pc.list_value_length(lists).to_pylist()
    return _table(lists, items), counts


def _max_depth(body: bytes) -> int:
    """Deepest bracket nesting, brackets inside strings included (C-speed iterators, no decoding)."""
    steps = body.translate(None, _BRACKETS).translate(_OPEN_TWO_CLOSE_ZERO)  # 2 = open, 0 = close
    # depth after the i-th bracket = (sum of steps so far) - i
    return max(map(operator.sub, itertools.accumulate(steps), itertools.count(1)), default=0)


_FIRST_TOKEN = re.compile(rb"[ \t\r\n]*\[")
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # every byte but brackets: deleted
_OPEN_TWO_CLOSE_ZERO = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def _table(lists: pa.ListArray, items: Sequence[ApiBody]) -> pa.Table:
    """The rows of all bodies (list ``i`` of ``lists`` is the array of ``items[i]``)."""
    elements: pa.StructArray = _sliced(lists).values
    n = len(elements)
    if n == 0:
        return API_PAPERS_SCHEMA.empty_table()
    if elements.null_count:
        raise _Fallback  # a null element: rejected by the Python path
    paper = _field(elements, "paper")
    if paper.null_count:
        raise _Fallback  # no 'paper' object (or null)
    arxiv_id = _field(paper, "id")
    if arxiv_id.null_count or not _all(pc.match_substring_regex(arxiv_id, _ARXIV_ID)):
        raise _Fallback

    # per row: which body it comes from, and its position there
    parents = pc.list_parent_indices(lists)
    starts = pc.take(lists.offsets, parents)
    rank = pc.add(pc.subtract(pa.array(range(n), pa.int64()), pc.subtract(starts, lists.offsets[0])), 1)

    def per_body(values: list, type_: pa.DataType) -> pa.Array:
        return pc.take(pa.array(values, type_), parents)

    submitted_on_daily_at = _timestamps(_field(paper, "submittedOnDailyAt"))
    named = per_body([item.listing_date for item in items], pa.date32())
    listing = pc.coalesce(named, pc.cast(submitted_on_daily_at, pa.date32()))
    if listing.null_count:
        raise _Fallback  # no listing date for a row: rejected by the Python path

    authors = _field(paper, "authors")
    keywords = _field(paper, "ai_keywords")
    columns = {
        "snapshot_id": per_body([item.snapshot_id for item in items], _S),
        "source_uri": per_body([item.source_uri for item in items], _S),
        "listing_date": listing,
        "captured_at": per_body([as_utc(item.captured_at) for item in items], TIMESTAMP_UTC),
        "rank": pc.cast(rank, pa.int32()),
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
    stamps = pc.cast(values, TIMESTAMP_UTC)
    if stamps.null_count < len(stamps):
        low, high = pc.min_max(stamps).values()
        if low.value < _EARLIEST or high.value > _LATEST:
            raise _Fallback  # beyond what Python's datetime holds in UTC
    return stamps


def _quoted(strings: pa.Array) -> pa.Array:
    """``json.dumps(s, ensure_ascii=False)`` of each string (null stays null).

    Strings that need no escaping are quoted in Arrow; the rare others (a quote, a backslash, a
    control character) are rendered by ``json.dumps`` itself.
    """
    quoted = pc.binary_join_element_wise('"', strings, '"', "")
    escape = pc.fill_null(pc.match_substring_regex(strings, _NEEDS_ESCAPE), False)
    if _any(escape):
        rendered = [json.dumps(s, ensure_ascii=False) for s in pc.filter(strings, escape).to_pylist()]
        quoted = pc.replace_with_mask(quoted, escape, pa.array(rendered, _S))
    return quoted


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
