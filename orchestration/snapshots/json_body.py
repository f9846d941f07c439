"""Strict JSON decoding of snapshot text with rejection reasons that point at the problem."""

from __future__ import annotations

import json
from typing import Any

from .errors import SnapshotRejected, preview

_PYTHON_TOKENS = ("'", "True", "False", "None")


def load_json(text: str) -> Any:
    """Decode ``text`` with :func:`json.loads` (never ``eval``); reject anything invalid.

    The reason tells a truncated document from an invalid one, gives line/column, and flags
    text that looks like a Python repr (single quotes, ``True``/``None``) rather than JSON.
    """
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SnapshotRejected(_decode_error_reason(text, exc)) from None
    except RecursionError:
        raise SnapshotRejected("invalid JSON: nested too deeply to decode") from None
    except ValueError as exc:  # e.g. integer literal longer than Python's digit limit
        raise SnapshotRejected(f"invalid JSON: {exc}") from None


def json_type_name(value: Any) -> str:
    """The JSON name of a decoded value's type (object, array, string, number, boolean, null)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_preview(value: Any, limit: int = 40) -> str:
    """A decoded value rendered back as (shortened) JSON, e.g. ``"abc"`` or ``1``."""
    return preview(json.dumps(value, ensure_ascii=False), limit)


def _reject_constant(name: str) -> Any:
    raise SnapshotRejected(f"invalid JSON: non-standard constant {name}")


def _decode_error_reason(text: str, exc: json.JSONDecodeError) -> str:
    where = f"line {exc.lineno} col {exc.colno}"
    if text.startswith(_PYTHON_TOKENS, exc.pos):
        return (
            f"invalid JSON at {where}: {exc.msg} (looks like a Python repr with single "
            f"quotes/True/None, not JSON: {preview(text.lstrip())!r})"
        )
    if exc.pos >= len(text.rstrip()):
        return f"truncated JSON (input ends at {where}): {exc.msg}"
    return f"invalid JSON at {where}: {exc.msg}"
