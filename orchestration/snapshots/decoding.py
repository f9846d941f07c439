"""Turning snapshot bytes into text, rejecting what is not UTF-8 text."""

from __future__ import annotations

from .errors import SnapshotRejected


def decode_text(body: bytes) -> str:
    """``body`` decoded as UTF-8 without its BOM; binary (NUL bytes, invalid UTF-8) or blank bodies are rejected."""
    if not body:
        raise SnapshotRejected("empty file")
    if (nul_at := body.find(b"\x00")) >= 0:
        raise SnapshotRejected(f"binary content (not UTF-8 text): NUL byte at offset {nul_at}")
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise SnapshotRejected(f"binary content (not UTF-8 text): invalid UTF-8 byte at offset {exc.start}") from None
    if not text.strip():
        raise SnapshotRejected("empty file (only whitespace)")
    return text
