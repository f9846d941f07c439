"""The raw suites' row rules applied to each parsed batch *before* it is loaded.

A snapshot whose rows break a rule of its raw suite (``expectations/raw_*.json``) is rejected with
the rules it broke and never reaches raw: nothing is written and later taken back out. The batch is
an Arrow table handed to DuckDB as a view, so the rules run exactly as they would on the raw table
(the same runner and suites, the batch in one frame). The outcomes of every batch of a run are merged
into one per raw table, recorded in ``ops.validation_results`` and the run's report.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ._gx import Validator
from .runner import SuiteTarget, ValidationOutcome, evaluate, record_outcomes

from orchestration.snapshots.schemas import RAW_TABLES

_VIEW = "papers_audit_batch"


class RawAudit:
    """Call it with ``(raw_table, table)`` for each parsed batch: returns ``{snapshot_id: reason}``
    of the snapshots to reject (their rows must not be loaded). :meth:`finish` records the merged
    outcomes (one per raw table audited) and returns them."""

    def __init__(self, con) -> None:
        self._con = con
        self._validator = Validator()
        # per raw table: the outcome merged over its batches (failing_keys: the snapshots rejected), their snapshots
        self._merged: dict[str, tuple[ValidationOutcome, set[str]]] = {}

    def __call__(self, raw_table: str, table: pa.Table) -> dict[str, str]:
        suite = RAW_TABLES[raw_table].suite
        merged, seen = self._merged.setdefault(raw_table, (ValidationOutcome(
            suite, f"raw.{raw_table}", 0, 0, True, [], 0, key_column="snapshot_id"), set()))
        if table.num_rows == 0:
            return {}
        snapshots = set(pc.unique(table.column("snapshot_id")).to_pylist())
        self._con.register(_VIEW, table)
        try:
            [outcome] = evaluate(self._con, [SuiteTarget(suite, _VIEW, key_column="snapshot_id")],
                                 validator=self._validator)
        finally:
            self._con.unregister(_VIEW)
        merged.rows += table.num_rows
        seen |= snapshots
        merged.evaluated = outcome.evaluated
        merged.seconds += outcome.seconds
        if outcome.success:
            return {}
        broken: dict[str, list[str]] = defaultdict(list)
        for name, keys in outcome.keys_by_expectation:
            for key in (keys or snapshots):  # a rule failed without naming rows: the whole batch
                broken[key].append(name)
        merged.failed_expectations = list(dict.fromkeys(merged.failed_expectations + outcome.failed_expectations))
        reasons = {key: f"failed validation (suite {suite}): " + "; ".join(names)
                   for key, names in broken.items() if key in snapshots}
        merged.failing_keys.update(reasons)
        return reasons

    def finish(self, *, run_id: str, report_dir: Path) -> list[ValidationOutcome]:
        self._validator.close()
        outcomes = [merged for merged, seen in self._merged.values() if seen]
        for merged, seen in self._merged.values():
            merged.failed, merged.success = len(merged.failed_expectations), not merged.failing_keys
            merged.scope = (f"audit before load: {len(seen)} snapshot(s), "
                            f"{len(merged.failing_keys)} rejected (quarantined, not loaded)")
        if outcomes:
            record_outcomes(self._con, outcomes, run_id=run_id, report_dir=report_dir)
        self._merged.clear()
        return outcomes
