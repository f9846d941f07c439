"""Expectation suites kept as versioned JSON files in ``expectations/``: read as plain JSON, built
into a ``gx.ExpectationSuite`` by :func:`build_suite` (which imports GX)."""

from __future__ import annotations

import json
import logging
import logging.handlers
from pathlib import Path
from typing import Any

from orchestration.project import EXPECTATIONS_DIR as SUITES_DIR


def suite_path(name: str) -> Path:
    return SUITES_DIR / f"{name}.json"


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
    logger = logging.getLogger("great_expectations.core.expectation_suite")
    handler = logging.handlers.BufferingHandler(capacity=1_000_000)
    handler.setLevel(logging.ERROR)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        # each expectation's position in its meta: GX reorders results, _gx.Validator puts them back
        suite = gx.ExpectationSuite(name=doc["name"], meta=doc.get("meta") or None, expectations=[
            {**exp, "meta": {**(exp.get("meta") or {}), _gx.POSITION_META: i}}
            for i, exp in enumerate(doc["expectations"])])
    except Exception as exc:  # e.g. pydantic rejecting unknown kwargs
        raise ValueError(f"suite {doc['name']!r}: invalid expectation: {exc}") from exc
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    dropped = [record.getMessage() for record in handler.buffer]
    if dropped or len(suite.expectations) != len(doc["expectations"]):
        raise ValueError(f"suite {doc['name']!r}: {len(doc['expectations']) - len(suite.expectations)} invalid "
                         f"expectation(s): {'; '.join(dropped) or 'unknown reason'}")
    return suite


# --------------------------------------------------------------------------- planning
#
# A suite holds row rules only: the ``ROW_EXPECTATIONS`` decide each row on its own (so a table can be
# checked a chunk at a time), the ``GROUP_EXPECTATIONS`` need every validated row in one frame. The
# marts' keys, NOT NULL columns, row count and columns are dbt's (contracts and tests,
# dbt_project/models/marts/_marts.yml); the raw tables' columns are fixed Arrow schemas
# (snapshots/schemas.py).

ROW_EXPECTATIONS = (
    "expect_column_values_to_be_between",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_value_lengths_to_be_between",
    "expect_column_pair_values_a_to_be_greater_than_b",
)
GROUP_EXPECTATIONS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def referenced_columns(exp: dict[str, Any]) -> list[str]:
    """Columns an expectation reads, in kwargs order (no duplicates)."""
    kwargs = exp.get("kwargs") or {}
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
    if isinstance(kwargs.get("column_list"), list):
        cols += [c for c in kwargs["column_list"] if isinstance(c, str)]
    return list(dict.fromkeys(cols))


def needs_one_frame(exp: dict[str, Any]) -> bool:
    """Whether the expectation must see every validated row at once (uniqueness); raises
    ``ValueError`` for a type this runner does not evaluate."""
    if exp.get("type") in GROUP_EXPECTATIONS:
        return True
    if exp.get("type") not in ROW_EXPECTATIONS:
        raise ValueError(f"{exp.get('type')}: not evaluated here; a suite holds "
                         f"{', '.join(ROW_EXPECTATIONS + GROUP_EXPECTATIONS)}")
    return False
