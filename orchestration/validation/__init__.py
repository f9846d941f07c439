"""Data validation with Great Expectations (imported lazily; see runner.py)."""

from .runner import (
    SuiteTarget,
    ValidationFailed,
    ValidationOutcome,
    default_targets,
    load_suite,
    summarize,
    validate,
)
from .scope import plan_mart_targets, record_watermarks

__all__ = [
    "SuiteTarget",
    "ValidationFailed",
    "ValidationOutcome",
    "default_targets",
    "load_suite",
    "summarize",
    "validate",
    "plan_mart_targets",
    "record_watermarks",
]
