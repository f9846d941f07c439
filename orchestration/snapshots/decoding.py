"""Turning snapshot bytes into text, rejecting what is not UTF-8 text."""

from __future__ import annotations

from .errors import SnapshotRejected

_BOM = "\ufeff"
_NUL = b"\x00"


def decode_text(body: bytes) -> str:
    """Decode ``body`` as UTF-8 with any BOM stripped.

    Rejects binary content (NUL bytes or invalid UTF-8) and empty/whitespace-only bodies.
    """
    if not body:
        raise SnapshotRejected("empty file")
    nul_at = body.find(_NUL)
    if nul_at >= 0:
        raise SnapshotRejected(f"binary content (not UTF-8 text): NUL byte at offset {nul_at}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotRejected(
            f"binary content (not UTF-8 text): invalid UTF-8 byte at offset {exc.start}"
        ) from None
    text = text.removeprefix(_BOM)
    if not text.strip():
        raise SnapshotRejected("empty file (only whitespace)")
    return text
