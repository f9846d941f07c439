"""Expectation suites kept as versioned JSON files in ``expectations/``.

Reading a suite is plain JSON (no Great Expectations import); building the
``gx.ExpectationSuite`` object happens in :func:`build_suite`, which imports GX
lazily.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES_DIR = REPO_ROOT / "expectations"


def suite_path(name: str) -> Path:
    return SUITES_DIR / f"{name}.json"


def suite_names() -> list[str]:
    """Names of every suite file in ``expectations/`` (sorted)."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.json"))


def load_suite(name: str) -> dict[str, Any]:
    """The suite ``expectations/{name}.json`` as a dict (name, meta, expectations)."""
    path = suite_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no expectation suite {name!r} (looked for {path})")
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise ValueError(f"{path}: a suite is an object with an 'expectations' list")
    doc.setdefault("name", name)
    return doc


def build_suite(name_or_doc: str | dict[str, Any]):
    """Load a suite into a ``gx.ExpectationSuite`` (imports Great Expectations).

    GX silently drops (only logs) expectations whose configuration is invalid; this raises
    ``ValueError`` instead, so a typo in a suite file cannot weaken validation unnoticed.
    """
    from . import _gx

    doc = load_suite(name_or_doc) if isinstance(name_or_doc, str) else name_or_doc
    gx = _gx.import_gx()
    import logging

    # GX logs (with a traceback) and skips invalid expectations: capture that, then raise.
    logger = logging.getLogger("great_expectations.core.expectation_suite")
    dropped: list[str] = []

    class _Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            dropped.append(record.getMessage())

    handler = _Catch(level=logging.ERROR)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        suite = gx.ExpectationSuite(
            name=doc["name"],
            expectations=[dict(exp) for exp in doc["expectations"]],
            meta=doc.get("meta") or None,
        )
    except Exception as exc:  # e.g. pydantic rejecting unknown kwargs
        raise ValueError(f"suite {doc['name']!r}: invalid expectation: {exc}") from exc
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    if dropped or len(suite.expectations) != len(doc["expectations"]):
        raise ValueError(
            f"suite {doc['name']!r}: {len(doc['expectations']) - len(suite.expectations)} invalid "
            f"expectation(s): {'; '.join(dropped) or 'unknown reason'}"
        )
    return suite
