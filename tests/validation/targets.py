"""Targets the validation tests check: the page-card table and every public mart, each whole."""

from __future__ import annotations

from orchestration.validation.runner import MART_KEYS, SuiteTarget


def mart_targets() -> list[SuiteTarget]:
    """Every public mart, validated whole (each must exist)."""
    return [SuiteTarget(mart, f"marts.{mart}", None, key) for mart, key in MART_KEYS.items()]
