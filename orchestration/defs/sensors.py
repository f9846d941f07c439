"""The landing sensor: each new file in PAPERS_HOME/landing becomes a run (run key = content hash).

The sensor never opens the warehouse (a reader would block the writer); it remembers in its cursor
the files it has requested, keyed by name and content hash, and forgets names that left landing.
"""


import hashlib
import json
from pathlib import Path

import dagster as dg

from orchestration.defs.jobs import ingest_landing_job
from orchestration.warehouse.intake import list_landing
from orchestration.warehouse.settings import papers_home


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_run_requests(landing: Path, cursor: str | None) -> tuple[list[dg.RunRequest], str]:
    """Run requests for files not requested before, and the new cursor."""
    seen: dict[str, str] = json.loads(cursor) if cursor else {}
    requests, now_seen = [], {}
    for path in list_landing(landing):
        sha = file_sha256(path)
        now_seen[path.name] = sha
        if seen.get(path.name) == sha:
            continue
        requests.append(dg.RunRequest(
            run_key=sha,
            run_config={"ops": {"landing_raw": {"config": {"files": [path.name]}}}},
            tags={"papers/landing_file": path.name},
        ))
    return requests, json.dumps(now_seen, sort_keys=True)


@dg.sensor(job=ingest_landing_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_sensor(context: dg.SensorEvaluationContext):
    """Turns files dropped into PAPERS_HOME/landing into ingestion runs."""
    requests, cursor = landing_run_requests(papers_home().landing, context.cursor)
    context.update_cursor(cursor)
    if not requests:
        return dg.SkipReason("no new files in landing")
    return requests
