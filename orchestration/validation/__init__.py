"""Data validation with Great Expectations (imported lazily; see runner.py)."""
