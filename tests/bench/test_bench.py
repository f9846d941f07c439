"""The benchmark harness (bench/, `make bench`) at a tiny size: every stage runs and yields the row counts
it should. Timings are not asserted (that is what `make bench` at 100k-1M records is for)."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys
from pathlib import Path

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

from tests.pipeline_runs import REPO
RECORDS = 2_000


def test_bench_harness_tiny(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    # incremental (two more `papers` runs, ~30 s each) is left out to keep this test short; one_file
    # then lands onto the end_to_end warehouse and exercises the same code path; idle reruns it.
    stages = "reference,ingest,end_to_end,idle,one_file"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--records", str(RECORDS), "--stages", stages,
         "--workdir", str(tmp_path / "work"), "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert output.exists(), proc.stdout + proc.stderr
    results = json.loads(output.read_text())
    failed = {name: check for name, check in results["checks"].items() if not check["ok"]}
    assert not failed, f"{failed}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["records"] == RECORDS
    assert set(results["stages"]) == set(stages.split(","))
    assert results["stages"]["reference"]["rows"] == RECORDS
    assert results["stages"]["ingest"]["rows"] == RECORDS
    assert results["stages"]["end_to_end"]["counts"]["raw.landed_api_papers"] == RECORDS
    assert results["stages"]["end_to_end"]["counts"]["marts.papers"] == RECORDS
    assert results["stages"]["one_file"]["counts"]["raw.landed_api_papers"] == RECORDS + 50
    # nothing new: no Dagster run, nothing written
    assert results["stages"]["idle"]["steps"] == {"run_id": None}
    assert results["stages"]["idle"]["counts"] == results["stages"]["end_to_end"]["counts"]
    for key in ("reference_s", "ingest_s", "end_to_end_s", "one_file_s", "idle_s", "peak_rss_gib"):
        assert results[key] is not None and results[key] > 0, key
    assert results["breakdown_s"]["one_file"]["dlt"] > 0


def test_corpus_is_deterministic(tmp_path: Path) -> None:
    from bench import corpus

    a = corpus.generate(tmp_path / "a", 1_200, seed=7, workers=1)
    b = corpus.generate(tmp_path / "b", 1_200, seed=7, workers=2)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)
    assert a.records == 1_200 and a.large_files == 3
    elements = [e for n in names for e in json.loads((tmp_path / "a" / n).read_text())]
    assert len(elements) == 1_200
    assert len({e["paper"]["id"] for e in elements}) == 1_200
    counts = sorted(len(e["paper"]["authors"]) for e in elements)
    assert counts[0] >= 1 and counts[-1] <= 40 and 5 <= counts[len(counts) // 2] <= 7
    assert all(5 <= len(e["paper"]["ai_keywords"]) <= 10 for e in elements)
