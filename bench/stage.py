"""One benchmark stage, run in a child process of ``bench.run`` (so its wall time and peak RSS are its own).

    python -m bench.stage reference --corpus DIR --db FILE
    python -m bench.stage ingest    --home DIR [--profile FILE]
    python -m bench.stage parse     --corpus DIR [--limit N]            (the parser alone, CPU/record)
    python -m bench.stage papers    --home DIR --dagster-home DIR -- run | ingest FILE...
    python -m bench.stage steps     --dagster-home DIR --run-id ID      (helper, not measured)
    python -m bench.stage counts    --db FILE                           (helper, not measured)
    python -m bench.stage compare   --reference FILE --ingest FILE      (helper, not measured)

Each prints one line ``BENCH_RESULT {json}`` at the end; everything else it prints is log.
"""

from __future__ import annotations

import time

STARTED = time.time()  # before any heavy import: the stage's own clock starts here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

RESULT_PREFIX = "BENCH_RESULT "
RAW_TABLE = "raw.landed_api_papers"


def emit(result: dict) -> None:
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


# --- reference: DuckDB reads the files itself -------------------------------------------------

#: Only the fields the raw table needs; DuckDB skips every other key while parsing.
READ_COLUMNS = {
    "paper": "STRUCT(id VARCHAR, title VARCHAR, summary VARCHAR, "
             "authors STRUCT(name VARCHAR, hidden BOOLEAN)[], publishedAt TIMESTAMPTZ, upvotes BIGINT, "
             "githubRepo VARCHAR, githubStars BIGINT, projectPage VARCHAR, "
             "organization STRUCT(name VARCHAR, fullname VARCHAR), ai_keywords VARCHAR[], "
             "ai_summary VARCHAR, submittedOnDailyAt TIMESTAMPTZ, submittedOnDailyBy STRUCT(\"user\" VARCHAR))",
    "title": "VARCHAR",
    "summary": "VARCHAR",
    "numComments": "BIGINT",
    "organization": "STRUCT(name VARCHAR, fullname VARCHAR)",
    "submittedBy": "STRUCT(name VARCHAR)",
}


def reference_sql(glob: str) -> list[tuple[str, str]]:
    """DuckDB-native SQL building ``raw.landed_api_papers`` (spec columns) from API files: (step, sql)."""
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in READ_COLUMNS.items()) + "}"
    return [
        ("settings", "set TimeZone = 'UTC'"),
        # preserve_insertion_order (the default) keeps file order then array order, so a row's rowid
        # minus the first rowid of its file is its position in the file (read_json has no row number)
        ("read_json", f"create temp table landed as select * from read_json('{glob}', format = 'array', "
                      f"filename = true, columns = {columns}, maximum_object_size = 1073741824)"),
        ("sha256", f"create temp table files as select filename, sha256(content) as snapshot_id "
                   f"from read_blob('{glob}')"),
        ("file_starts", "create temp table starts as select filename, min(rowid) as first_rowid "
                        "from landed group by filename"),
        ("schema", "create schema if not exists raw"),
        ("flatten", f"""
        create table {RAW_TABLE} as
        select
            f.snapshot_id,
            parse_filename(l.filename) as source_uri,
            cast(strptime(left(parse_filename(l.filename), 10), '%Y-%m-%d') as date) as listing_date,
            cast(strptime(regexp_extract(parse_filename(l.filename), 'captured-(\\d{{8}}T\\d{{6}}Z)', 1),
                          '%Y%m%dT%H%M%SZ') as timestamptz) as captured_at,
            cast(l.rowid - s.first_rowid + 1 as integer) as rank,
            l.paper.id as arxiv_id,
            coalesce(nullif(l.paper.title, ''), l.title) as title,
            coalesce(nullif(l.paper.summary, ''), l.summary) as summary,
            cast(to_json(list_transform(l.paper.authors,
                 lambda a: {{'name': a.name, 'hidden': coalesce(a.hidden, false)}})) as varchar) as authors_json,
            cast(len(l.paper.authors) as integer) as author_count,
            l.paper.publishedAt as published_at,
            cast(l.paper.upvotes as integer) as upvotes,
            cast(coalesce(l.numComments, 0) as integer) as num_comments,
            l.paper.githubRepo as github_repo,
            cast(l.paper.githubStars as integer) as github_stars,
            l.paper.projectPage as project_page,
            coalesce(nullif(l.organization.fullname, ''), nullif(l.organization.name, ''),
                     nullif(l.paper.organization.fullname, ''), nullif(l.paper.organization.name, ''))
                as organization,
            cast(to_json(l.paper.ai_keywords) as varchar) as ai_keywords_json,
            l.paper.ai_summary as ai_summary,
            l.paper.submittedOnDailyAt as submitted_on_daily_at,
            coalesce(nullif(l.submittedBy.name, ''), l.paper.submittedOnDailyBy.user) as submitted_by
        from landed as l
        join files as f using (filename)
        join starts as s using (filename)
        """),
    ]


def stage_reference(args: argparse.Namespace) -> dict:
    import duckdb

    con = duckdb.connect(str(args.db))
    timings = {}
    for step, sql in reference_sql(str(Path(args.corpus) / "*.json")):
        started = time.perf_counter()
        con.execute(sql)
        timings[step] = round(time.perf_counter() - started, 3)
    rows = con.execute(f"select count(*) from {RAW_TABLE}").fetchone()[0]
    con.close()
    return {"rows": rows, "steps_s": timings}


# --- ingest: the project's own landing -> dlt -> raw path, without Dagster/dbt/GX ---------------


def stage_ingest(args: argparse.Namespace) -> dict:
    """What the ``landing_raw`` asset does (``ingest_landing``, the function it calls), with dlt run
    directly instead of through dagster-dlt."""
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    import logging

    from orchestration.config import Settings
    from orchestration.defs.dlt.ingest import ingest_landing
    from orchestration.defs.resources import Warehouse

    warehouse = Warehouse(Settings.load(home=args.home))
    started = time.perf_counter()
    with warehouse.connect() as con:
        run = ingest_landing(con, warehouse.home, f"bench-{int(STARTED)}",
                             lambda source, pipeline: (pipeline.run(source), pipeline), logging.getLogger("bench"))
        rows = con.execute(f"select count(*) from {RAW_TABLE}").fetchone()[0]
    ingest_s = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    info, pipeline = run.loaded
    trace = pipeline.last_trace
    dlt_steps = {step.step: round((step.finished_at - step.started_at).total_seconds(), 3)
                 for step in (trace.steps if trace else []) if step.finished_at and step.started_at}
    return {"rows": rows, "files_loaded": len(run.found.to_load), "files_rejected": len(run.found.rejected),
            "files_duplicate": len(run.found.duplicates), "ingest_s": round(ingest_s, 3), "dlt_steps_s": dlt_steps,
            "has_failed_jobs": bool(info.has_failed_jobs)}


# --- parse: the parser alone (CPU per record) -----------------------------------------------------


def stage_parse(args: argparse.Namespace) -> dict:
    """CPU seconds per record of ``parse_snapshots`` on the corpus, 64 MiB of files per call (as the
    landing intake batches them); not one of the issue's stages."""
    from orchestration.snapshots import parse_snapshots

    files = sorted(Path(args.corpus).glob("*.json"))[: args.limit or None]
    rows, cpu, batch, size = 0, 0.0, [], 0
    for path in [*files, None]:
        if path is not None:
            body = path.read_bytes()
            batch.append((body, path.name, None))
            size += len(body)
        if batch and (path is None or size >= 64 << 20):
            started = time.process_time()
            outcomes = parse_snapshots(batch)
            cpu += time.process_time() - started
            rows += sum(o.rows for o in outcomes if hasattr(o, "rows"))
            batch, size = [], 0
    return {"parse": {"files": len(files), "rows": rows, "cpu_s": round(cpu, 3),
                      "us_per_record": round(cpu / max(rows, 1) * 1e6, 1)}}


# --- papers: the CLI as a user runs it ----------------------------------------------------------


def stage_papers(args: argparse.Namespace) -> dict:
    """``papers --home HOME <command>`` in this (fresh) process; the Dagster imports are timed apart.

    After the command returns, the run's step timings (Dagster's events) and the warehouse's table
    counts are read here too; ``post_run_s`` says how long that took, so that the parent can take it
    out of the wall time it measured.
    """
    os.environ["DAGSTER_HOME"] = str(args.dagster_home)
    started = time.perf_counter()
    if not args.cold:  # what `papers` imports once it has a run to do
        import orchestration.defs.definitions  # noqa: F401

    imports_s = time.perf_counter() - started
    from orchestration.cli import console_main

    code = console_main(["--home", str(args.home), *args.command])  # what the `papers` script runs
    finished_at = time.time()
    post = time.perf_counter()
    steps = stage_steps(args)
    if (steps.get("first_event_at") or 0) < STARTED:  # the latest run is an earlier stage's: none ran
        steps = {"run_id": None}
    warehouse = Path(args.home) / "warehouse.duckdb"
    counts = table_counts(warehouse) if warehouse.exists() else {}
    return {"exit_code": code, "imports_s": round(imports_s, 3), "started_at": STARTED,
            "finished_at": finished_at, "steps": steps, "counts": counts,
            "post_run_s": round(time.perf_counter() - post, 3)}


# --- helpers (not measured) ---------------------------------------------------------------------

PUBLISH_WORDS = ("publish", "export")


def step_category(step_key: str) -> str:
    key = step_key.lower()
    if any(word in key for word in PUBLISH_WORDS):
        return "publish"
    if "check" in key or "valid" in key or "expect" in key:
        return "validation"
    if "dbt" in key:
        return "dbt"
    if "raw" in key or "landing" in key or "dlt" in key:
        return "dlt"
    return f"other:{step_key}"


def stage_steps(args: argparse.Namespace) -> dict:
    """Step timings of the latest run (or ``--run-id``) in a DAGSTER_HOME instance."""
    os.environ["DAGSTER_HOME"] = str(args.dagster_home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    run_id = getattr(args, "run_id", None)
    if not run_id:
        runs = instance.get_runs(limit=1)
        if not runs:
            return {"run_id": None}
        run_id = runs[0].run_id
    run = instance.get_run_by_id(run_id)
    logs = instance.all_logs(run_id)
    first = logs[0].timestamp if logs else None
    started: dict[str, float] = {}
    steps: dict[str, float] = {}
    windows: dict[str, list[float]] = {}
    run_start = run_end = None
    for entry in logs:
        if not entry.is_dagster_event:
            continue
        kind = entry.dagster_event.event_type_value
        if kind in ("PIPELINE_START", "RUN_START"):
            run_start = entry.timestamp
        elif kind in ("PIPELINE_SUCCESS", "RUN_SUCCESS", "PIPELINE_FAILURE", "RUN_FAILURE"):
            run_end = entry.timestamp
        elif kind == "STEP_START":
            started[entry.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in started:
            steps[entry.step_key] = entry.timestamp - started[entry.step_key]
            windows[entry.step_key] = [started[entry.step_key], entry.timestamp]
    return {"run_id": run_id, "status": str(run.status) if run else None, "first_event_at": first,
            "run_start_at": run_start, "run_end_at": run_end,
            "last_event_at": logs[-1].timestamp if logs else None,
            "steps_s": {k: round(v, 3) for k, v in steps.items()}, "windows": windows,
            "categories": {k: step_category(k) for k in steps}}


def table_counts(db: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('raw', 'marts', 'ops') order by 1").fetchall()
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}
    finally:
        con.close()


def stage_counts(args: argparse.Namespace) -> dict:
    return {"counts": table_counts(args.db)}


def stage_compare(args: argparse.Namespace) -> dict:
    """Rows of the reference table missing from the ingested one and vice versa (JSON compared parsed)."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set memory_limit = '4GB'")  # an unmeasured helper: keep it from crowding the machine
    con.execute(f"attach '{args.reference}' as ref (read_only)")
    con.execute(f"attach '{args.ingest}' as ing (read_only)")
    cols = ("snapshot_id, source_uri, listing_date, captured_at, rank, arxiv_id, title, summary, "
            "json(authors_json)::varchar as authors, author_count, published_at, upvotes, num_comments, "
            "github_repo, github_stars, project_page, organization, json(ai_keywords_json)::varchar as kw, "
            "ai_summary, submitted_on_daily_at, submitted_by")
    only_ref = con.execute(f"select count(*) from (select {cols} from ref.{RAW_TABLE} except all "
                           f"select {cols} from ing.{RAW_TABLE})").fetchone()[0]
    only_ing = con.execute(f"select count(*) from (select {cols} from ing.{RAW_TABLE} except all "
                           f"select {cols} from ref.{RAW_TABLE})").fetchone()[0]
    return {"only_in_reference": only_ref, "only_in_ingest": only_ing}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="stage", required=True)
    p = sub.add_parser("reference")
    p.add_argument("--corpus", required=True, type=Path)
    p.add_argument("--db", required=True, type=Path)
    p = sub.add_parser("ingest")
    p.add_argument("--home", required=True, type=Path)
    p.add_argument("--profile", type=Path)
    p = sub.add_parser("parse")
    p.add_argument("--corpus", required=True, type=Path)
    p.add_argument("--limit", type=int, default=0, help="files (0: all)")
    p = sub.add_parser("papers")
    p.add_argument("--home", required=True, type=Path)
    p.add_argument("--cold", action="store_true", help="no Dagster import before the command (it imports what it needs)")
    p.add_argument("--dagster-home", required=True, type=Path)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("steps")
    p.add_argument("--dagster-home", required=True, type=Path)
    p.add_argument("--run-id")
    p = sub.add_parser("counts")
    p.add_argument("--db", required=True, type=Path)
    p = sub.add_parser("compare")
    p.add_argument("--reference", required=True, type=Path)
    p.add_argument("--ingest", required=True, type=Path)
    args = parser.parse_args(argv)
    if getattr(args, "command", None) and args.command[0] == "--":
        args.command = args.command[1:]
    result = {
        "reference": stage_reference, "ingest": stage_ingest, "papers": stage_papers, "parse": stage_parse,
        "steps": stage_steps, "counts": stage_counts, "compare": stage_compare,
    }[args.stage](args)
    emit(result)
    return int(result.get("exit_code", 0) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
