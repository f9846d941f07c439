"""The raw suites' row rules applied to each parsed batch *before* it is loaded.

A snapshot whose rows break a rule of its raw suite (``expectations/raw_*.json``) is rejected with
the rules it broke and never reaches raw: nothing is written and later taken back out. The batch is
an Arrow table handed to DuckDB as a view, so the rules run exactly as they would on the raw table
(the same runner and suites, the batch in one frame). The outcomes of every batch of a run are merged
into one per raw table, recorded in ``ops.validation_results`` and the run's report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ._gx import Validator
from .runner import SuiteTarget, ValidationOutcome, evaluate, record_outcomes

from orchestration.snapshots.schemas import RAW_TABLES

_VIEW = "papers_audit_batch"


@dataclass
class _Tally:
    suite: str
    rows: int = 0
    snapshots: set[str] = field(default_factory=set)
    rejected: dict[str, str] = field(default_factory=dict)
    evaluated: int = 0
    failed_expectations: dict[str, None] = field(default_factory=dict)  # an ordered set
    seconds: float = 0.0


class RawAudit:
    """Call it with ``(raw_table, table)`` for each parsed batch: returns ``{snapshot_id: reason}``
    of the snapshots to reject (their rows must not be loaded). :meth:`finish` records the merged
    outcomes (one per raw table audited) and returns them."""

    def __init__(self, con) -> None:
        self._con = con
        self._validator = Validator()
        self._tallies: dict[str, _Tally] = {}

    def __call__(self, raw_table: str, table: pa.Table) -> dict[str, str]:
        suite = RAW_TABLES[raw_table].suite
        tally = self._tallies.setdefault(raw_table, _Tally(suite))
        if table.num_rows == 0:
            return {}
        snapshots = set(pc.unique(table.column("snapshot_id")).to_pylist())
        self._con.register(_VIEW, table)
        try:
            [outcome] = evaluate(self._con, [SuiteTarget(suite, _VIEW, key_column="snapshot_id")],
                                 validator=self._validator)
        finally:
            self._con.unregister(_VIEW)
        tally.rows += table.num_rows
        tally.snapshots |= snapshots
        tally.evaluated = outcome.evaluated
        tally.seconds += outcome.seconds
        if outcome.success:
            return {}
        broken: dict[str, list[str]] = defaultdict(list)
        for name, keys in outcome.keys_by_expectation:
            for key in (keys or snapshots):  # a rule failed without naming rows: the whole batch
                broken[key].append(name)
        tally.failed_expectations.update(dict.fromkeys(outcome.failed_expectations))
        reasons = {key: f"failed validation (suite {suite}): " + "; ".join(names)
                   for key, names in broken.items() if key in snapshots}
        tally.rejected.update(reasons)
        return reasons

    def finish(self, *, run_id: str, report_dir: Path) -> list[ValidationOutcome]:
        self._validator.close()
        outcomes = []
        for raw_table, t in self._tallies.items():
            if not t.snapshots:
                continue
            outcomes.append(ValidationOutcome(
                suite=t.suite, table=f"raw.{raw_table}", evaluated=t.evaluated,
                failed=len(t.failed_expectations), success=not t.rejected,
                failed_expectations=list(t.failed_expectations), rows=t.rows,
                failing_keys=set(t.rejected), key_column="snapshot_id", seconds=t.seconds,
                scope=(f"audit before load: {len(t.snapshots)} snapshot(s), "
                       f"{len(t.rejected)} rejected (quarantined, not loaded)"),
            ))
        if outcomes:
            record_outcomes(self._con, outcomes, run_id=run_id, report_dir=report_dir)
        self._tallies.clear()
        return outcomes
