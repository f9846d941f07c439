"""dbt's per-build folders under the home's dbt target: the partial-parse state is carried from one
build to the next, and failed builds' folders do not pile up."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration.dbt_state import (KEEP_FAILED_INVOCATIONS, PARTIAL_PARSE_FILE, keep_invocation_state,
                                     seed_invocation_state)


def test_failed_builds_keep_their_newest_folders_only(tmp_path: Path):
    target = tmp_path / "target"
    target.mkdir()
    (target / PARTIAL_PARSE_FILE).write_bytes(b"state")
    failed = []
    for i in range(KEEP_FAILED_INVOCATIONS + 3):  # failed builds: their folders stay
        folder = seed_invocation_state(target, target / f"failed-{i}")
        (folder / "dbt.log").write_text(f"error {i}")
        os.utime(folder, (1_000_000 + i, 1_000_000 + i))
        failed.append(folder.name)
    done = seed_invocation_state(target, target / "ok")
    assert (done / PARTIAL_PARSE_FILE).read_bytes() == b"state"
    (done / PARTIAL_PARSE_FILE).write_bytes(b"new state")
    keep_invocation_state(done, target)
    assert sorted(p.name for p in target.iterdir() if p.is_dir()) == failed[-KEEP_FAILED_INVOCATIONS:]
    assert (target / PARTIAL_PARSE_FILE).read_bytes() == b"new state"
