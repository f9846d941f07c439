"""Rejections: every bad snapshot raises SnapshotRejected with a specific reason, nothing else."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.snapshot_files import parse_snapshot_file
from orchestration.snapshots import (
    ApiBody,
    ParsedSnapshot,
    SnapshotRejected,
    parse_api_bodies,
)
from tests.snapshot_files import parse_page_text, parse_snapshot

from tests.pipeline_runs import FIXTURES
API_DIR = FIXTURES / "daily_papers"
NAME = "2025-01-22_captured-20250122T041609Z.json"
CAPTURED = datetime(2025, 11, 4, tzinfo=UTC)


def _rejection(path: Path) -> str:
    """The reason the snapshot file at ``path`` is rejected for (it must be)."""
    with pytest.raises(SnapshotRejected) as info:
        parse_snapshot_file(path)
    reason = info.value.reason
    assert reason and str(info.value) == reason
    return reason


def _reject_file(tmp_path: Path, body: bytes, name: str = NAME) -> str:
    path = tmp_path / name
    path.write_bytes(body)
    return _rejection(path)


# --- the three malformed real files -------------------------------------------------------


def test_literal_one_is_rejected() -> None:
    reason = _rejection(API_DIR / "2024-06-01_captured-20240601T165731Z.json")
    assert reason == "body is the JSON number 1, expected an array of paper objects"


def test_python_repr_strings_are_rejected() -> None:
    reason = _rejection(API_DIR / "2024-12-11_captured-20241212T101858Z.json")
    assert "array elements are strings" in reason
    assert "Python repr" in reason
    assert "element 0" in reason and "{'paper'" in reason


def test_envelope_is_rejected_naming_its_keys() -> None:
    reason = _rejection(API_DIR / "2025-01-10_captured-20250112T084652Z.json")
    assert "['count', 'data', 'date', 'status']" in reason
    assert "envelope" in reason
    assert "bare array" in reason


# --- synthetic bad inputs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty file"),
        (b"  \n\t\r\n", "empty file (only whitespace)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content (not UTF-8 text)"),
        (b"\xff\xfe[\x00{\x00", "binary content (not UTF-8 text)"),
        (b"caf\xe9 au lait", "binary content (not UTF-8 text): invalid UTF-8 byte at offset 3"),
        (
            b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>",
            "HTML page (starts with <!DOCTYPE html>",
        ),
        (b"<html><body>Too Many Requests</body></html>", "HTML page"),
        (b'{"error": "Invalid date"}', "JSON object with keys ['error']"),
        (b'"rate limited"', 'body is the JSON string "rate limited"'),
        (b"null", "body is the JSON null"),
        (b"true", "body is the JSON boolean true"),
        (b"[1, 2]", "element 0 is a JSON number (1), expected a paper object"),
        (b'[{"title": "x"}]', "element 0 has no 'paper' object (keys: ['title'])"),
        (b'[{"paper": "2501.1"}]', "element 0: 'paper' is a JSON string"),
        (b'[{"paper": {"title": "x"}}]', "element 0: paper has no 'id'"),
        (b'[{"paper": {"id": 2503.0213}}]', "paper.id is the JSON number 2503.0213"),
        (b'[{"paper": {"id": ""}}]', "paper.id is an empty string"),
        (
            b'[{"paper": {"id": "1", "upvotes": "many"}}]',
            'element 0: paper.upvotes is the JSON string "many", expected an integer',
        ),
        (
            b'[{"paper": {"id": "1", "upvotes": 1e12}}]',
            "paper.upvotes is the JSON number 1000000000000, expected a 32-bit integer",
        ),
        (
            b'[{"paper": {"id": "1", "publishedAt": "yesterday"}}]',
            "paper.publishedAt is the JSON string \"yesterday\", expected an ISO-8601",
        ),
        (b'[{"paper": {"id": "1", "authors": "A, B"}}]', "paper.authors is the JSON string"),
        (b'[{"paper": {"id": "1", "authors": ["A"]}}]', "paper.authors[0] is the JSON string"),
        (b'[{"paper": {"id": "1", "ai_keywords": [1]}}]', "paper.ai_keywords[0] is the JSON"),
        (b'[{"paper": {"id": "1"}, "numComments": true}]', "numComments is the JSON boolean"),
        (b'[{"paper": {"id": "1", "upvotes": NaN}}]', "non-standard constant NaN"),
        (b"[" * 100_000, "invalid JSON"),
        (b"[{}]\n[{}]", "invalid JSON at line 2 col 1: Extra data"),
        (b"just some notes\nnothing to see", "no listing cards found"),
    ],
)
def test_synthetic_bad_inputs(tmp_path: Path, body: bytes, expected: str) -> None:
    assert expected in _reject_file(tmp_path, body)


def test_truncated_json(tmp_path: Path) -> None:
    body = (API_DIR / "2025-03-17_captured-20250317T074930Z.json").read_bytes()[:5000]
    reason = _reject_file(tmp_path, body)
    assert reason.startswith("truncated JSON (input ends at line ")
    assert "col" in reason


def test_python_repr_text(tmp_path: Path) -> None:
    body = b"[{'paper': {'id': '2412.07730', 'authors': [], 'hidden': False}}]"
    reason = _reject_file(tmp_path, body)
    assert "invalid JSON at line 1 col 3" in reason
    assert "Python repr" in reason


def test_envelope_of_objects_is_still_rejected(tmp_path: Path) -> None:
    raw = json.loads((API_DIR / NAME).read_text(encoding="utf-8"))
    body = json.dumps({"status": "success", "date": "2025-01-22", "data": raw}).encode()
    reason = _reject_file(tmp_path, body)
    assert "['data', 'date', 'status']" in reason and "envelope" in reason


def test_html_reject_even_with_bom_and_leading_space() -> None:
    with pytest.raises(SnapshotRejected, match="HTML page"):
        parse_snapshot("\ufeff  \n<!doctype html><html></html>".encode(), name=NAME)


def test_direct_parsers_reject_too() -> None:
    [rejected] = parse_api_bodies([ApiBody(b"", "s", "u", CAPTURED, None)])
    assert isinstance(rejected, SnapshotRejected) and rejected.reason == "empty file"
    with pytest.raises(SnapshotRejected, match="no listing cards found"):
        parse_page_text(
            b"Daily Papers\n\nNov 4\n", snapshot_id="s", source_uri="u", captured_at=CAPTURED
        )


# --- robustness: no other exception type escapes ----------------------------------------


def _mutations() -> list[bytes]:
    rng = random.Random(20240612)
    sources = [
        (API_DIR / NAME).read_bytes(),
        (FIXTURES / "listing_text" / "papers-listing_captured-20251104.txt").read_bytes()[:4000],
    ]
    bodies: list[bytes] = []
    for source in sources:
        for cut in range(0, len(source), max(1, len(source) // 60)):
            bodies.append(source[:cut])
        for _ in range(150):
            data = bytearray(source)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            bodies.append(bytes(data))
    return bodies


def test_mutated_inputs_never_raise_anything_but_rejection() -> None:
    outcomes = {"parsed": 0, "rejected": 0}
    for body in _mutations():
        try:
            result = parse_snapshot(body, name=NAME)
        except SnapshotRejected as exc:
            assert exc.reason
            outcomes["rejected"] += 1
        else:
            assert isinstance(result, ParsedSnapshot)
            outcomes["parsed"] += 1
    assert outcomes["parsed"] and outcomes["rejected"]
