"""The columnar fast path (snapshots.api_arrow) gives exactly the Python parser's table, or steps aside.

For every body: either ``api_table_arrow`` returns None (the Python parser then decides, rejections
included) or its table equals ``records_to_table``'s, schema and values. It must never accept a body
the Python parser rejects.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from orchestration.snapshots import (
    API_PAPERS_SCHEMA,
    SnapshotRejected,
    capture_time_from_name,
    listing_date_from_name,
    parse_snapshot,
    parse_snapshots,
)
from orchestration.snapshots import detect
from orchestration.snapshots.api_arrow import MAX_DEPTH, api_table_arrow
from orchestration.snapshots.api_json import api_records, records_to_table
from orchestration.snapshots.decoding import decode_text
from orchestration.snapshots.json_body import load_json

from tests.pipeline_runs import API_DIR, FIXTURES, GOOD_API_NAMES, MALFORMED

GOOD = GOOD_API_NAMES
NAME = "2025-10-03_captured-20251003T074927Z.json"
CAPTURED = datetime(2025, 10, 3, 7, 49, 27, tzinfo=UTC)


def _python(body: bytes, listing_date: date | None) -> pa.Table | SnapshotRejected:
    try:
        return records_to_table(api_records(load_json(decode_text(body))), snapshot_id="s",
                                source_uri="u", captured_at=CAPTURED, listing_date=listing_date)
    except SnapshotRejected as rejected:
        return rejected


def _fast(body: bytes, listing_date: date | None) -> pa.Table | None:
    return api_table_arrow(body, snapshot_id="s", source_uri="u", captured_at=CAPTURED,
                           listing_date=listing_date)


def _same_or_fallback(body: bytes, listing_date: date | None = date(2025, 10, 3)) -> str:
    """'same' (fast path taken, identical) or 'fallback'; fails on any other outcome."""
    python, fast = _python(body, listing_date), _fast(body, listing_date)
    if fast is None:
        return "fallback"
    assert not isinstance(python, SnapshotRejected), f"fast path accepted a rejected body: {python}"
    assert fast.schema == API_PAPERS_SCHEMA
    assert fast.equals(python), _first_difference(python, fast)
    return "same"


def _first_difference(a: pa.Table, b: pa.Table) -> str:
    for name in a.column_names:
        left, right = a.column(name).to_pylist(), b.column(name).to_pylist()
        if left != right:
            i = next(i for i, (x, y) in enumerate(zip(left, right)) if x != y)
            return f"{name}[{i}]: python {left[i]!r} != fast {right[i]!r}"
    return "schemas differ"


def _body(elements: list[dict[str, Any]]) -> bytes:
    return json.dumps(elements, ensure_ascii=False).encode()


def _fixture_elements() -> list[dict[str, Any]]:
    return json.loads((API_DIR / NAME).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", GOOD)
def test_every_loadable_fixture_takes_the_fast_path_with_identical_values(name: str) -> None:
    body = (API_DIR / name).read_bytes()
    for listing_date in (listing_date_from_name(name), None):
        python = _python(body, listing_date)
        if isinstance(python, SnapshotRejected):  # old era without submittedOnDailyAt, no date given
            assert _fast(body, listing_date) is None
            continue
        assert _same_or_fallback(body, listing_date) == "same", name


@pytest.mark.parametrize("name", GOOD)
def test_parse_snapshot_uses_it_and_still_matches(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(detect, "FAST_PATH_MIN_BYTES", 0)  # fixtures are small: force the fast path
    body = (API_DIR / name).read_bytes()
    snap = parse_snapshot(body, name=name)
    expected = records_to_table(api_records(load_json(decode_text(body))), snapshot_id=snap.snapshot_id,
                                source_uri=name, captured_at=capture_time_from_name(name),
                                listing_date=listing_date_from_name(name))
    assert snap.table.equals(expected)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_fixtures_are_left_to_the_python_parser(name: str) -> None:
    assert _fast((API_DIR / name).read_bytes(), listing_date_from_name(name)) is None


def _edit(**changes: Any) -> bytes:
    """The 2025-10-03 fixture with ``changes`` applied to element 0 (``paper__x`` = paper.x)."""
    elements = _fixture_elements()
    for key, value in changes.items():
        target, key = (elements[0]["paper"], key[7:]) if key.startswith("paper__") else (elements[0], key)
        if value is _DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    return _body(elements)


_DELETE = object()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # values the fast path renders itself, identically
        (_edit(paper__authors=[{"_id": "x", "name": 'Q "uote" \\ back\tslash', "hidden": True}]), "same"),
        (_edit(paper__authors=[{"name": None, "hidden": False}, {"hidden": True}]), "same"),
        (_edit(paper__authors=[]), "same"),
        (_edit(paper__authors=None), "same"),
        (_edit(paper__authors=_DELETE), "same"),
        (_edit(paper__ai_keywords=["naïve", "日本語", "a\\b", 'q"'], paper__title=""), "same"),
        (_edit(paper__ai_keywords=[]), "same"),
        (_edit(paper__title="", title="top"), "same"),
        (_edit(paper__title=None, title=None), "same"),
        (_edit(paper__summary=""), "same"),
        (_edit(organization={"name": "n", "fullname": ""}), "same"),
        (_edit(organization={}, paper__organization={"name": "p"}), "same"),
        (_edit(organization=None, paper__organization=None), "same"),
        (_edit(submittedBy=None), "same"),
        (_edit(submittedBy={"name": ""}), "same"),
        (_edit(numComments=None), "same"),
        (_edit(numComments=_DELETE, paper__upvotes=-3), "same"),
        (_edit(paper__upvotes=2**31 - 1, paper__githubStars=-(2**31)), "same"),
        (_edit(paper__publishedAt="2025-10-02T17:55:42+05:30"), "same"),
        (_edit(paper__publishedAt="2025-10-02T17:55:42.123456Z"), "same"),
        (_edit(paper__publishedAt="2025-10-02T17:55:42Z", paper__submittedOnDailyAt=None), "same"),
        (_edit(paper__id="2503.02130"), "same"),
        # values only the Python parser handles (accepted or rejected): the fast path steps aside
        (_edit(paper__authors=[{"name": "no hidden flag"}]), "fallback"),
        (_edit(paper__authors=[{"name": "x", "hidden": None}]), "fallback"),
        (_edit(paper__authors=["A"]), "fallback"),
        (_edit(paper__authors="A, B"), "fallback"),
        (_edit(paper__ai_keywords=[None]), "fallback"),
        (_edit(paper__ai_keywords=[1]), "fallback"),
        (_edit(paper__upvotes=2.0), "fallback"),
        (_edit(paper__upvotes="12"), "fallback"),
        (_edit(paper__upvotes=True), "fallback"),
        (_edit(paper__upvotes=2**31), "fallback"),
        (_edit(paper__githubStars=-(2**31) - 1), "fallback"),
        (_edit(paper__title=5), "fallback"),
        (_edit(title=5), "fallback"),
        (_edit(organization="ByteDance"), "fallback"),
        (_edit(paper__publishedAt="2025-10-02"), "fallback"),
        (_edit(paper__publishedAt="2025-10-02T17:55:42"), "fallback"),
        (_edit(paper__publishedAt="2025-10-02T17:55:42.1234Z"), "fallback"),
        (_edit(paper__publishedAt="2025-02-30T00:00:00Z"), "fallback"),
        (_edit(paper__publishedAt="0001-01-01T00:00:00+01:00"), "fallback"),
        (_edit(paper__publishedAt="yesterday"), "fallback"),
        (_edit(paper__id=" "), "fallback"),
        (_edit(paper__id="\u20032503.1"), "fallback"),
        (_edit(paper__id=2503.0213), "fallback"),
        (_edit(paper__id=_DELETE), "fallback"),
        (_edit(paper=None), "fallback"),
        (_edit(paper="2501.1"), "fallback"),
        (_edit(extra={"deep": "NAN_MARKER"}).replace(b'"NAN_MARKER"', b"NaN"), "fallback"),
        (_edit(extra="INF_MARKER").replace(b'"INF_MARKER"', b"-Infinity"), "fallback"),
        (b"[" + _body(_fixture_elements())[1:-1] + b", null]", "fallback"),
        (_edit(paper__title="SURR").replace(b'"SURR"', b'"a\\ud800"'), "fallback"),
        (_edit(paper__title="SURR").replace(b'"SURR"', b'"\\ud83d\\ude00 ok"'), "same"),
        (b"[]", "same"),
        (b"[] ", "same"),
        (b'{"data": []}', "fallback"),
        (b"[1, 2]", "fallback"),
    ],
)
def test_edge_cases(body: bytes, expected: str) -> None:
    assert _same_or_fallback(body) == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_edit(paper__title="SURR").replace(b'"SURR"', b'"a\\ud800"'), "unpaired UTF-16 surrogate"),
        (_edit(paper__publishedAt="0001-01-01T00:00:00+01:00"), "expected an ISO-8601 timestamp"),
    ],
)
def test_bodies_the_python_parser_used_to_crash_on_are_rejected(body: bytes, reason: str) -> None:
    python = _python(body, date(2025, 10, 3))
    assert isinstance(python, SnapshotRejected) and reason in python.reason
    assert _fast(body, date(2025, 10, 3)) is None


def test_no_listing_date_anywhere_falls_back() -> None:
    body = _edit(paper__submittedOnDailyAt=None)
    assert _fast(body, None) is None
    assert isinstance(_python(body, None), SnapshotRejected)
    assert _same_or_fallback((API_DIR / NAME).read_bytes(), None) == "same"


def test_deep_nesting_is_left_to_the_python_parser() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    body = _edit(extra="DEEP").replace(b'"DEEP"', deep.encode())
    assert _fast(body, date(2025, 10, 3)) is None
    very_deep = b'[{"paper": {"id": "1"}, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]"
    assert _fast(very_deep, date(2025, 10, 3)) is None
    assert isinstance(_python(very_deep, date(2025, 10, 3)), SnapshotRejected)


def test_bom_and_pretty_printed_bodies() -> None:
    elements = _fixture_elements()
    for body in (b"\xef\xbb\xbf" + _body(elements), json.dumps(elements, indent=2).encode(),
                 json.dumps(elements).replace("\n", "\r\n").encode()):
        assert _same_or_fallback(body) == "same"


def test_random_mutations_never_disagree() -> None:
    """Random type/shape changes on fixture elements: the fast path is identical or steps aside."""
    rng = random.Random(5)
    base = _fixture_elements()[:6]
    values = [None, "", "x", 0, -1, 2.5, 3.0, True, [], ["a"], {}, {"name": "n"}, 2**40,
              "2025-10-02T17:55:42.000Z", [{"name": "a", "hidden": False}], [{"name": "a"}]]
    paper_keys = ["id", "title", "summary", "authors", "publishedAt", "upvotes", "githubRepo",
                  "githubStars", "projectPage", "organization", "ai_keywords", "ai_summary",
                  "submittedOnDailyAt", "submittedOnDailyBy"]
    top_keys = ["paper", "title", "summary", "numComments", "organization", "submittedBy"]
    outcomes = {"same": 0, "fallback": 0}
    for _ in range(300):
        elements = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            element = rng.choice(elements)
            if rng.random() < 0.7 and isinstance(element.get("paper"), dict):
                element["paper"][rng.choice(paper_keys)] = rng.choice(values)
            else:
                element[rng.choice(top_keys)] = rng.choice(values)
        outcomes[_same_or_fallback(_body(elements), rng.choice([date(2025, 10, 3), None]))] += 1
    assert outcomes["same"] > 20 and outcomes["fallback"] > 20, outcomes


def _outcome(result: Any) -> Any:
    if isinstance(result, SnapshotRejected):
        return ("rejected", result.reason)
    return (result.format, result.snapshot_id, result.source_uri, result.captured_at,
            result.listing_date, result.rows, result.warnings, result.table)


@pytest.mark.parametrize("fast_from", [0, 10**12])
def test_parse_snapshots_equals_parse_snapshot_one_by_one(monkeypatch: pytest.MonkeyPatch, fast_from: int) -> None:
    """All fixtures (API, page text, malformed) plus bodies the fast path must isolate, in one batch,
    through the fast path (threshold 0) against the Python parser alone (threshold never reached)."""
    files = [(p.read_bytes(), p.name, CAPTURED) for p in sorted(FIXTURES.glob("*/*")) if p.is_file()]
    files += [
        (_edit(paper__authors=[{"name": "no hidden flag"}]), "2025-10-04_captured-20251004T000000Z.json", None),
        (_edit(paper__upvotes="12"), "2025-10-05_captured-20251005T000000Z.json", None),
        (_edit(paper__submittedOnDailyAt=None), "x_captured-20251006T000000Z.json", None),
        (b"[]", "2025-10-07_captured-20251007T000000Z.json", None),
        (json.dumps(_fixture_elements(), indent=1).encode(), "2025-10-08_captured-20251008T000000Z.json", None),
        (b"\xff", "2025-10-09_captured-20251009T000000Z.json", None),
    ]
    monkeypatch.setattr(detect, "FAST_PATH_MIN_BYTES", fast_from)
    batch = parse_snapshots(files)
    assert len(batch) == len(files)
    monkeypatch.setattr(detect, "FAST_PATH_MIN_BYTES", 10**12)
    for (body, name, mtime), result in zip(files, batch):
        try:
            expected = parse_snapshot(body, name=name, mtime=mtime)
        except SnapshotRejected as rejected:
            expected = rejected
        left, right = _outcome(result), _outcome(expected)
        assert left[:-1] == right[:-1], name
        if left[0] != "rejected":
            assert left[-1].equals(right[-1]), name
    assert sum(isinstance(r, SnapshotRejected) for r in batch) == 3 + 3  # 3 fixtures + 3 bad bodies
