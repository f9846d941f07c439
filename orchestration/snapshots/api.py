"""The parser of API JSON bodies (bare arrays of paper objects, as ``/api/daily_papers`` returns them):
pyarrow's JSON reader + Arrow compute, no per-row Python.

A body the reader cannot take, or would take too leniently (``NaN``/``Inf``/``Infinity`` outside strings,
which the reader skips in ignored fields; brackets nested deeper than :data:`MAX_DEPTH`), is read
strictly by :func:`.api_reasons.read_api`: its rejection names the element and field at fault, and a
body it accepts (e.g. with a key twice, ``"hidden": null`` in a field the raw table does not read, an
unused fallback field of another type) is re-encoded from the fields it returns, and read again.

Per value, as the API's JSON means it: an integer field takes a JSON number with an integral value
in 32 bits (``2.0`` is 2); a timestamp is ISO-8601 (the common ``…T…Z`` / ``±HH:MM`` forms are cast
in Arrow, any other form ``datetime.fromisoformat`` reads is converted in Python); a missing author
``hidden`` flag is false (an explicit ``null`` is rejected); ``title``, ``summary``, ``organization``
and ``submitted_by`` fall back from the paper to the element as ``a or b`` does on strings.

Bodies are read together, one reader call and one set of Arrow kernels per batch of up to
:data:`BATCH_BYTES` (one line of the reader's input per body); a body that fails is isolated by
splitting its batch, so one bad body never costs the others.
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

from .api_reasons import read_api
from .decoding import decode_text
from .errors import SnapshotRejected, unparsable
from .metadata import as_utc
from .schemas import API_PAPERS_SCHEMA, TIMESTAMP_UTC

#: Bodies whose brackets nest deeper than this (brackets inside strings counted too) are decoded
#: by the strict reading first, which rejects documents too deep for it.
MAX_DEPTH = 200
#: JSON per reader call: bounds the memory of one batch (the reader's input plus its Arrow output).
BATCH_BYTES = 64 << 20

_S = pa.string()
_N = pa.float64()  # a JSON number; integer columns take the integral ones (cast checks it)
_ORGANIZATION = pa.struct([("name", _S), ("fullname", _S)])
#: The API fields the raw table reads, typed as the API sends them; other fields are skipped.
_ELEMENT = pa.struct([
    ("paper", pa.struct([
        ("id", _S),
        ("title", _S),
        ("summary", _S),
        ("authors", pa.list_(pa.struct([("name", _S), ("hidden", pa.bool_())]))),
        ("publishedAt", _S),
        ("upvotes", _N),
        ("githubRepo", _S),
        ("githubStars", _N),
        ("projectPage", _S),
        ("organization", _ORGANIZATION),
        ("ai_keywords", pa.list_(_S)),
        ("ai_summary", _S),
        ("submittedOnDailyAt", _S),
        ("submittedOnDailyBy", pa.struct([("user", _S)])),
    ])),
    ("title", _S),
    ("summary", _S),
    ("numComments", _N),
    ("organization", _ORGANIZATION),
    ("submittedBy", pa.struct([("name", _S)])),
])
# one line per body: {"a": [<body>]} (inside brackets, a body that is more than one value shows as such)
_DOCUMENT = pa.schema([pa.field("a", pa.list_(pa.list_(_ELEMENT)))])
_PARSE = {newlines: pj.ParseOptions(explicit_schema=_DOCUMENT, unexpected_field_behavior="ignore",
                                    newlines_in_values=newlines) for newlines in (False, True)}

_BOM = "\ufeff".encode()
_FIRST_TOKEN = re.compile(rb"[ \t\r\n]*\[")
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # every byte but brackets: deleted
_OPEN_TWO_CLOSE_ZERO = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_EARLIEST = pa.scalar(datetime.min, pa.timestamp("us")).value  # µs since the epoch
_LATEST = pa.scalar(datetime.max, pa.timestamp("us")).value
# The ISO-8601 form Arrow casts as datetime.fromisoformat reads it (others are read in Python).
# Arrow reads year 0000 and offsets of 60 minutes or more differently from Python: those go to Python.
_TIMESTAMP = (r"^(000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?"
              r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$")
# Ids that are blank to Python's str.strip() (every character str.isspace() holds true for).
_BLANK = "^[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
# Characters json.dumps escapes (ensure_ascii=False): quote, backslash, control characters.
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


class _Fallback(Exception):
    """The body needs the strict reading: it rejects the body or reads it from the decoded document."""


@dataclass(frozen=True)
class ApiBody:
    """One API body (UTF-8) and the metadata its rows carry; its ranks start at ``first_rank``."""

    body: bytes
    snapshot_id: str
    source_uri: str
    captured_at: datetime
    listing_date: date | None  # None: per row, the date of paper.submittedOnDailyAt
    first_rank: int = 1


def parse_api_bodies(items: Sequence[ApiBody]) -> list[pa.Table | SnapshotRejected]:
    """The raw API papers table of each body, or why it is rejected (in order)."""
    results: list[pa.Table | SnapshotRejected | None] = [None] * len(items)
    bodies: dict[int, bytes] = {}
    for i, item in enumerate(items):
        body = item.body.removeprefix(_BOM)
        if _FIRST_TOKEN.match(body) is None or _max_depth(body) > MAX_DEPTH or _bare_constant(body):
            results[i] = _strict(item)  # never an array, or the strict reading decides first
            continue
        bodies[i] = body
    # a pretty-printed body spans lines: the reader needs its (slower) newlines-in-values mode
    multiline = {i for i, body in bodies.items() if b"\n" in body or b"\r" in body}
    for newlines in (False, True):
        for batch in _batches([i for i in bodies if (i in multiline) == newlines], bodies):
            _solve(items, bodies, batch, newlines, results)
    return results  # type: ignore[return-value]


def _strict(item: ApiBody) -> pa.Table | SnapshotRejected:
    """Why the strict reading rejects the body, else its rows, read from the fields the strict reading
    returns (re-encoded)."""
    try:
        elements = read_api(decode_text(item.body), listing_date_known=item.listing_date is not None)
        body = json.dumps(elements, ensure_ascii=False).encode()
        return _batch_table([item], [body], newlines=False)[0]
    except SnapshotRejected as rejected:
        return rejected
    except Exception as bug:  # a value the strict reading does not expect: this body only
        return unparsable(bug)


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


def _solve(items: Sequence[ApiBody], bodies: dict[int, bytes], batch: list[int], newlines: bool,
           results: list) -> None:
    try:
        table, counts = _batch_table([items[i] for i in batch], [bodies[i] for i in batch], newlines)
    except Exception:
        if len(batch) > 1:  # find the body (or bodies) at fault
            middle = len(batch) // 2
            _solve(items, bodies, batch[:middle], newlines, results)
            _solve(items, bodies, batch[middle:], newlines, results)
        else:
            results[batch[0]] = _strict(items[batch[0]])
        return
    offset = 0
    for i, count in zip(batch, counts):
        results[i] = table.slice(offset, count)
        offset += count


def _batch_table(items: Sequence[ApiBody], bodies: Sequence[bytes], newlines: bool
                 ) -> tuple[pa.Table, list[int]]:
    document = b"\n".join(b'{"a":[' + body + b"]}" for body in bodies)
    # one block = one chunk: no copy to combine chunks (threads did not pay off on 2 cores)
    read = pj.ReadOptions(use_threads=False, block_size=len(document) + 1)
    column = pj.read_json(io.BytesIO(document), read_options=read, parse_options=_PARSE[newlines]).column("a")
    values = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if len(values) != len(items) or values.null_count or pc.max(pc.list_value_length(values)).as_py() != 1:
        raise _Fallback  # more than one value, e.g. '[], "b": 1' (valid JSON once wrapped)
    lists = values.flatten()
    if lists.null_count:
        raise _Fallback
    counts = pc.list_value_length(lists).to_pylist()
    return _table(lists, items), counts


def _bare_constant(body: bytes) -> bool:
    """True when ``NaN``, ``Inf`` or ``Infinity`` stands as a value (after ``:``, ``[`` or ``,``, maybe
    signed): JSON has no such constants, the reader takes them (even in ignored fields)."""
    for word in (b"NaN", b"Inf", b"Infinity"):
        at = body.find(word)
        while at >= 0:
            end = at + len(word)
            if end == len(body) or not (body[end:end + 1].isalnum() or body[end] == ord("_")):
                before = at - 1
                while before >= 0 and body[before] in b" \t\r\n-":
                    before -= 1
                if before >= 0 and body[before] in b":[,":
                    return True
            at = body.find(word, end)
    return False


def _max_depth(body: bytes) -> int:
    """Deepest bracket nesting, brackets inside strings included (C-speed iterators, no decoding)."""
    steps = body.translate(None, _BRACKETS).translate(_OPEN_TWO_CLOSE_ZERO)  # 2 = open, 0 = close
    # depth after the i-th bracket = (sum of steps so far) - i
    return max(map(operator.sub, itertools.accumulate(steps), itertools.count(1)), default=0)


def _table(lists: pa.ListArray, items: Sequence[ApiBody]) -> pa.Table:
    """The rows of all bodies (list ``i`` of ``lists`` is the array of ``items[i]``)."""
    elements: pa.StructArray = _sliced(lists).values
    n = len(elements)
    if n == 0:
        return API_PAPERS_SCHEMA.empty_table()
    paper = _field(elements, "paper")
    if elements.null_count or paper.null_count:
        raise _Fallback  # a null element, or no 'paper' object
    arxiv_id = _field(paper, "id")
    if arxiv_id.null_count or _any(pc.match_substring_regex(arxiv_id, _BLANK)):
        raise _Fallback

    # per row: which body it comes from, and its position there
    parents = pc.list_parent_indices(lists)
    starts = pc.take(lists.offsets, parents)
    position = pc.subtract(pa.array(range(n), pa.int64()), pc.subtract(starts, lists.offsets[0]))

    def per_body(values: list, type_: pa.DataType) -> pa.Array:
        return pc.take(pa.array(values, type_), parents)

    submitted_on_daily_at = _timestamps(_field(paper, "submittedOnDailyAt"))
    named = per_body([item.listing_date for item in items], pa.date32())
    listing = pc.coalesce(named, pc.cast(submitted_on_daily_at, pa.date32()))
    if listing.null_count:
        raise _Fallback  # no listing date for a row

    authors = _field(paper, "authors")
    keywords = _field(paper, "ai_keywords")
    columns = {
        "snapshot_id": per_body([item.snapshot_id for item in items], _S),
        "source_uri": per_body([item.source_uri for item in items], _S),
        "listing_date": listing,
        "captured_at": per_body([as_utc(item.captured_at) for item in items], TIMESTAMP_UTC),
        "rank": pc.cast(pc.add(position, per_body([item.first_rank for item in items], pa.int64())), pa.int32()),
        "arxiv_id": arxiv_id,
        "title": _first_truthy(_field(paper, "title"), _field(elements, "title")),
        "summary": _first_truthy(_field(paper, "summary"), _field(elements, "summary")),
        "authors_json": _authors_json(authors),
        "author_count": pc.cast(pc.list_value_length(authors), pa.int32()),
        "published_at": _timestamps(_field(paper, "publishedAt")),
        "upvotes": pc.cast(_field(paper, "upvotes"), pa.int32()),
        "num_comments": pc.cast(pc.fill_null(_field(elements, "numComments"), 0), pa.int32()),
        "github_repo": _field(paper, "githubRepo"),
        "github_stars": pc.cast(_field(paper, "githubStars"), pa.int32()),
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


_field = pc.struct_field  # a child of a struct array with the parent's nulls applied (StructArray.field: without)


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())  # an empty or all-null mask: None


def _first_truthy(first: pa.Array, second: pa.Array) -> pa.Array:
    """``first or second`` as Python evaluates it on optional strings."""
    return pc.if_else(pc.fill_null(pc.not_equal(first, ""), False), first, second)


def _organization(organizations: pa.StructArray) -> pa.Array:
    """``fullname or name`` of an organization object (null when there is none)."""
    return _first_truthy(_field(organizations, "fullname"), _field(organizations, "name"))


def _timestamps(values: pa.Array) -> pa.Array:
    """ISO-8601 strings as UTC timestamps: the common form cast in Arrow, the others in Python."""
    common = pc.fill_null(pc.match_substring_regex(values, _TIMESTAMP), True)
    stamps = pc.cast(pc.if_else(common, values, pa.scalar(None, _S)), TIMESTAMP_UTC)
    if stamps.null_count < len(stamps):
        low, high = pc.min_max(stamps).values()
        if low.value < _EARLIEST or high.value > _LATEST:
            raise _Fallback  # beyond what Python's datetime holds in UTC
    other = pc.invert(common)
    if _any(other):  # ValueError / OverflowError: not a timestamp Python reads either
        parsed = [as_utc(datetime.fromisoformat(s)) for s in pc.filter(values, other).to_pylist()]
        stamps = pc.replace_with_mask(stamps, other, pa.array(parsed, TIMESTAMP_UTC))
    return stamps


def _quoted(strings: pa.Array) -> pa.Array:
    """``json.dumps(s, ensure_ascii=False)`` of each string (null stays null): quoted in Arrow, the rare
    ones that need escaping rendered by ``json.dumps`` itself."""
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
        raise _Fallback  # an author that is null
    names, hidden = entries.field("name"), entries.field("hidden")
    if hidden.null_count:
        raise _Fallback  # a flag missing (false) or null (rejected): the strict reading tells them apart
    name_json = pc.fill_null(_quoted(names), "null")
    hidden_json = pc.if_else(hidden, "true", "false")
    items = pc.binary_join_element_wise('{"name": ', name_json, ', "hidden": ', hidden_json, "}", "")
    return _json_lists(authors, items)


def _keywords_json(keywords: pa.ListArray) -> pa.Array:
    """``json.dumps(ai_keywords, ensure_ascii=False)`` per paper."""
    keywords = _sliced(keywords)
    if keywords.values.null_count:
        raise _Fallback  # a null keyword
    return _json_lists(keywords, _quoted(keywords.values))


def _sliced(lists: pa.ListArray) -> pa.ListArray:
    """The list array with offsets starting at 0 and values cut to what the lists use."""
    start = lists.offsets[0].as_py()
    end = lists.offsets[len(lists)].as_py()
    if start == 0 and end == len(lists.values):
        return lists
    offsets = pc.subtract(lists.offsets, start)
    return pa.ListArray.from_arrays(offsets, lists.values.slice(start, end - start), mask=lists.is_null())
