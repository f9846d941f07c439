"""The ``papers`` command: run the pipeline, ingest files, backfill API dates, show status.

Exit codes (scripts can trust them): 0 ok; 1 validation failed (bad data was blocked);
2 usage error; 3 the pipeline itself failed (e.g. API unreachable, dbt error).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from orchestration.publish import current_release
from orchestration.sql import table_exists
from orchestration.config import ConfigError, PapersHome, Settings
from orchestration.project import FIRST_LISTING_DATE

EXIT_OK, EXIT_VALIDATION_FAILED, EXIT_USAGE, EXIT_PIPELINE_ERROR = 0, 1, 2, 3


def say(message: str) -> None:
    try:
        print(message, flush=True)
    except BrokenPipeError:
        # the reader went away (`papers status | head`): keep working, send the rest nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _execute(settings: Settings, job_name: str, *, run_config: dict | None = None, tags: dict | None = None):
    """Run one job of the definitions for ``settings`` in this process; returns the Dagster result."""
    from orchestration.defs.definitions import build_definitions

    defs = build_definitions(settings)
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        run_config={**QUIET_LOGGERS, **(run_config or {})},
        instance=_instance(),
        tags=tags,
        raise_on_error=False,
    )


def _summarize(home: PapersHome, run_ids: list[str], result_ok: bool) -> int:
    """Print what the runs did; return the exit code."""
    import duckdb

    from orchestration.dbt_state import project_md5
    from orchestration.ops import ledger
    from orchestration.ops.registry import status_counts

    con = duckdb.connect(str(home.warehouse))
    try:
        counts = dict.fromkeys(("loaded", "duplicate", "quarantined"), 0)
        rows = 0
        for run_id in run_ids:
            for status, n in status_counts(con, run_id).items():
                counts[status] += n
            rows += con.execute("select coalesce(sum(rows), 0) from ops.snapshot_files "
                                "where run_id = ? and status = 'loaded'", [run_id]).fetchone()[0]
        say(f"files:      {counts['loaded']} loaded, {counts['duplicate']} duplicate, "
            f"{counts['quarantined']} quarantined")
        unfetched = 0
        for name, reason in con.execute(
            "select source_uri, reason from ops.snapshot_files where run_id in (select unnest(?)) "
            "and status = 'quarantined' order by source_uri", [run_ids]
        ).fetchall():
            if reason.startswith("fetch failed: "):
                unfetched += 1
                say(f"  not fetched {name}: {reason.removeprefix('fetch failed: ')}")
            else:
                say(f"  quarantined {name}: {reason}")
        say(f"raw rows:   {rows} added")
        if table_exists(con, "marts.papers"):
            papers, with_id = con.execute(
                "select count(*), count(arxiv_id) from marts.papers").fetchone()
            say(f"papers:     {papers} in marts.papers ({with_id} with an arXiv id)")
        validations = con.execute(
            "select suite, table_name, success, failed_expectations from ops.validation_results "
            "where run_id in (select unnest(?)) order by validated_at", [run_ids]
        ).fetchall() if table_exists(con, "ops.validation_results") else []
        # a raw suite audits each batch before it is loaded: what broke it was quarantined (listed
        # above) and never loaded; a mart suite that fails blocks publishing
        failed = [v for v in validations if not v[2] and v[1].startswith("marts.")]
        audited = [v for v in validations if not v[2] and not v[1].startswith("marts.")]
        if not any(v[1].startswith("marts.") for v in validations) and ledger.published_is_current(con, project_md5()):
            say("validation: skipped: nothing new since the last published build (dbt and publish too)")
        else:
            say(f"validation: {len(validations) - len(failed) - len(audited)}/{len(validations)} suites passed"
                + (f" (report: {home.reports})" if validations else ""))
        for suite, table, _, _ in audited:
            say(f"  {suite} on {table}: the snapshots that broke it were quarantined, not loaded")
        for suite, table, _, expectations in failed:
            say(f"  FAILED {suite} on {table}:")
            for expectation in _as_list(expectations):
                say(f"    - {expectation}")
    finally:
        con.close()
    release = current_release(home.published)
    published_now = bool(release and release.get("run_id") in run_ids)
    if published_now:
        say(f"published:  {home.published} -> {Path(release['release_dir']).name}")
    elif release:
        say(f"published:  unchanged, still serves run {release['run_id']} of {release['published_at']}")
    else:
        say("published:  nothing published yet")
    if failed:
        say("result:     validation FAILED — bad data was blocked (see above)")
        return EXIT_VALIDATION_FAILED
    if unfetched:
        say(f"result:     {unfetched} listing date(s) could not be fetched (see above; the others were "
            "loaded, and the next fetch of these tries again)")
        return EXIT_PIPELINE_ERROR
    if not result_ok:
        say("result:     pipeline FAILED (see the errors above)")
        return EXIT_PIPELINE_ERROR
    say("result:     ok")
    return EXIT_OK


def _as_list(stored) -> list[str]:
    """ops.validation_results.failed_expectations as a list (stored as a JSON array)."""
    if isinstance(stored, list):
        return stored
    try:
        return list(json.loads(stored))
    except (TypeError, ValueError):
        return [str(stored)]


def _print_failure(result) -> None:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            say(f"error in {event.step_key}: {error.message.strip()}")


def _run_and_report(settings: Settings, job_name: str, *, run_config: dict | None = None,
                    tags: dict | None = None) -> int:
    """Execute one job, print errors and the summary; return the exit code."""
    home = settings.layout
    started = time.monotonic()
    result = _execute(settings, job_name, run_config=run_config, tags=tags)
    if not result.success:
        _print_failure(result)
    code = _summarize(home, [result.run_id], result.success)
    say(f"took:       {time.monotonic() - started:.1f} s (run {result.run_id})")
    return code


def cmd_run(settings: Settings) -> int:
    home = settings.layout
    waiting = len([p for p in home.landing.iterdir() if p.is_file()])
    say(f"papers run: {waiting} file(s) waiting in {home.landing}")
    return _run_and_report(settings, "ingest_landing")


def cmd_ingest(settings: Settings, files: list[str]) -> int:
    home = settings.layout
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        say(f"papers ingest: no such file: {', '.join(missing)}")
        return EXIT_USAGE
    for name in files:
        source = Path(name)
        target = home.landing / source.name
        n = 1
        while target.exists():
            target = home.landing / f"{source.stem}.{n}{source.suffix}"
            n += 1
        shutil.copy2(source, target)
    say(f"papers ingest: copied {len(files)} file(s) into {home.landing}")
    return cmd_run(settings)


def cmd_backfill(settings: Settings, start: date, end: date) -> int:
    if end < start:
        say("papers backfill: --end is before --start")
        return EXIT_USAGE
    first, last = date.fromisoformat(FIRST_LISTING_DATE), datetime.now(timezone.utc).date() + timedelta(days=1)
    if start < first or end > last:
        say(f"papers backfill: listing dates run from {first} (the first listing) to {last} (tomorrow, UTC); "
            f"{start if start < first else end} is outside")
        return EXIT_USAGE
    say(f"papers backfill: fetching {start} .. {end} from the API in one run")
    from orchestration.defs.schedules import partition_range_tags

    return _run_and_report(settings, "fetch_api", tags=partition_range_tags(start, end))


def cmd_rebuild(settings: Settings) -> int:
    say("papers rebuild: rebuilding every dbt model from raw (--full-refresh), validating, publishing")
    return _run_and_report(settings, "build_marts",
                           run_config={"ops": {"warehouse_dbt_models": {"config": {"full_refresh": True}}}})


def cmd_status(home: PapersHome) -> int:
    import duckdb

    if not home.warehouse.exists():
        say(f"no warehouse yet at {home.warehouse}; run `papers run` first")
        return EXIT_OK
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        say(f"warehouse: {home.warehouse}")
        say(f"landing:   {len(list(home.landing.glob('*')))} file(s) waiting")
        if table_exists(con, "ops.snapshot_files"):
            for source, status, files, rows in con.execute(
                "select source, status, count(*), sum(rows) from ops.snapshot_files "
                "group by all order by all"
            ).fetchall():
                say(f"  {source:8} {status:12} {files:6} file(s) {rows:8} rows")
            dates = con.execute(
                "select min(listing_date), max(listing_date), count(distinct listing_date) "
                "from ops.snapshot_files where status = 'loaded'").fetchone()
            if dates[2]:
                say(f"listing dates loaded: {dates[2]} ({dates[0]} .. {dates[1]})")
            quarantined = con.execute(
                "select source_uri, stored_path, reason from ops.snapshot_files "
                "where status = 'quarantined' order by recorded_at").fetchall()
            if quarantined:
                say("quarantined:")
                for uri, stored, reason in quarantined:
                    say(f"  {uri} -> {stored}\n      {reason}")
        last = []
        if table_exists(con, "marts.papers"):
            say(f"marts.papers: {con.execute('select count(*) from marts.papers').fetchone()[0]} papers")
        if table_exists(con, "ops.validation_results"):
            last = con.execute(
                "select run_id, count(*), count(*) filter (where success), max(validated_at) "
                "from ops.validation_results group by run_id order by max(validated_at) desc limit 1"
            ).fetchall()
            if last:
                run_id, suites, passed, at = last[0]
                say(f"last validation: {passed}/{suites} suites passed at {at} (run {run_id})")
        release = current_release(home.published)
        if release:
            say(f"published: {home.published} -> run {release['run_id']} at {release['published_at']}")
            for table, info in sorted(release.get("tables", {}).items()):
                rows = info.get("rows") if isinstance(info, dict) else info
                say(f"  {table:28} {rows} rows")
            if last and last[0][1] != last[0][2]:
                say(f"  the last validation failed: published/ still serves run {release['run_id']}")
        else:
            say("published: nothing yet (no run has passed validation)")
    finally:
        con.close()
    return EXIT_OK


def cmd_config(settings: Settings) -> int:
    width = max(len(name) for name, _, _ in settings.describe())
    for name, value, origin in settings.describe():
        say(f"{name:{width}}  {value}    ({origin})")
    return EXIT_OK


def cmd_digest(home, week: str) -> int:
    """Print ``digests/<week>.md`` of the release ``published/`` serves."""
    from orchestration.publish.digest import DIGESTS_DIR, week_name, week_start

    try:
        week = week_name(week_start(week))
    except ValueError as error:
        say(f"papers digest: {error}")
        return EXIT_USAGE
    release = current_release(home.published)
    if not release:
        say("papers digest: nothing published yet (run `papers run` first)")
        return EXIT_USAGE
    folder = Path(release["release_dir"]) / DIGESTS_DIR
    path = folder / f"{week}.md"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []
        say(f"papers digest: no digest for {week} in {home.published} "
            f"(weeks: {', '.join(known) if known else 'none'})")
        return EXIT_USAGE
    say(path.read_text(encoding="utf-8").rstrip("\n"))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    # the common options are accepted before and after the command (`papers --home X status`,
    # `papers status --home X`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="PAPERS_HOME (default: $PAPERS_HOME, the config file, or ./data)")
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                        help="settings file (default: $PAPERS_CONFIG, else ./papers.toml when present)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an unexpected error")
    parser = argparse.ArgumentParser(prog="papers", description=__doc__, parents=[common],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", parents=[common], help="ingest everything new in landing/, build marts, validate")
    ingest = commands.add_parser("ingest", parents=[common], help="copy FILEs into landing/, then run")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    backfill = commands.add_parser("backfill", parents=[common], help="fetch API listing dates START..END (inclusive)")
    backfill.add_argument("--start", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    backfill.add_argument("--end", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    commands.add_parser("rebuild", parents=[common], help="rebuild all marts from raw (dbt --full-refresh), validate, publish")
    commands.add_parser("status", parents=[common], help="what is loaded, quarantined, published, and the last validation")
    commands.add_parser("config", parents=[common], help="the effective settings and where each value came from")
    digest = commands.add_parser("digest", parents=[common], help="print the weekly digest of the published release")
    digest.add_argument("--week", required=True, help="ISO week, e.g. 2025-W42")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load(config_file=getattr(args, "config", None), home=getattr(args, "home", None))
    except ConfigError as error:
        say(f"papers: {error}")
        return EXIT_USAGE
    if args.command == "config":
        return cmd_config(settings)
    home = settings.layout.ensure()
    commands = {
        "run": lambda: cmd_run(settings),
        "ingest": lambda: cmd_ingest(settings, args.files),
        "backfill": lambda: cmd_backfill(settings, args.start, args.end),
        "rebuild": lambda: cmd_rebuild(settings),
        "status": lambda: cmd_status(home),
        "digest": lambda: cmd_digest(home, args.week),
    }
    try:
        return commands[args.command]()
    except KeyboardInterrupt:
        say("papers: interrupted")
        return EXIT_PIPELINE_ERROR
    except Exception as error:  # the last line of defence: a message and an exit code, no traceback
        say(f"papers {args.command}: error: {type(error).__name__}: {error}")
        if getattr(args, "debug", False):
            raise
        return EXIT_PIPELINE_ERROR


def console_main(argv: list[str] | None = None) -> int:
    """The ``papers`` command: :func:`main`, then a fast exit.

    At exit CPython's cyclic garbage collector walks every object the run left (Dagster, dbt, GX and
    pandas modules: millions of objects) several times while it tears the interpreter down — 2 to 5
    s measured on this machine. Everything is written and closed by then, so the objects are moved
    out of the collector's sight (``gc.freeze``); they are freed with the process.
    """
    code = main(argv)
    sys.stdout.flush()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console_main())
