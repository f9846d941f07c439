"""Data validation with Great Expectations (imported lazily; see runner.py)."""

from .runner import SuiteTarget, ValidationOutcome, load_suite, validate
from .scope import plan_mart_targets, record_watermarks

__all__ = ["SuiteTarget", "ValidationOutcome", "load_suite", "validate", "plan_mart_targets", "record_watermarks"]
