"""Benchmark harness: synthetic corpus, per-stage measurements. Scripts, not tests.

``python -m bench.corpus --records N --out DIR`` writes the corpus; ``python -m bench.run --records N``
measures every stage in child processes (``python -m bench.stage <name> ...``) and prints the table.
"""
