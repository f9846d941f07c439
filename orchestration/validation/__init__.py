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

__all__ = [
    "SuiteTarget",
    "ValidationFailed",
    "ValidationOutcome",
    "default_targets",
    "load_suite",
    "summarize",
    "validate",
]
