"""The ``papers`` command: run the pipeline, ingest files, backfill API dates, show status.

Exit codes (scripts can trust them): 0 ok (also: nothing to do); 1 validation failed (bad data was
blocked); 2 usage error (a bad argument or setting); 3 the pipeline itself failed (e.g. API
unreachable, dbt error); 4 with ``--strict``: the run went through but quarantined files.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import re
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from orchestration.publish import current_release
from orchestration.sql import table_exists
from orchestration.config import ConfigError, PapersHome, Settings
from orchestration.project import FIRST_LISTING_DATE

EXIT_OK, EXIT_VALIDATION_FAILED, EXIT_USAGE, EXIT_PIPELINE_ERROR, EXIT_QUARANTINED = 0, 1, 2, 3, 4

#: the standard output ``main`` was called with (during a run, sys.stdout is the home's log)
_out = sys.stdout
#: ``--json``: no progress lines, the summary is one JSON object
_quiet = False


def say(message: str) -> None:
    if not _quiet:
        _write(message)


def _write(message: str) -> None:
    global _out
    try:
        print(message, file=_out, flush=True)
    except BrokenPipeError:
        # the reader went away (`papers status | head`): keep working, send the rest nowhere
        _out = open(os.devnull, "w")


class _UsageError(Exception):
    """A bad argument, path or setting: its one line is printed, the exit code is 2."""


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class _PlainLog(io.TextIOBase):
    """A text stream that appends to the home's log without terminal colour codes."""

    encoding = "utf-8"

    def __init__(self, file) -> None:
        self._file = file

    def write(self, text: str) -> int:
        self._file.write(ANSI.sub("", text))
        return len(text)

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()


@contextlib.contextmanager
def _captured(home: PapersHome, command: str, debug: bool):
    """Send what the libraries print to ``logs/papers.log`` (yielded; ``--debug``: None, to the terminal)."""
    if debug:
        yield None
        return
    path = home.logs / "papers.log"  # main made the home's folders
    with path.open("a", encoding="utf-8") as file:
        file.write(f"\n=== papers {command} at {datetime.now(timezone.utc).isoformat(timespec='seconds')} ===\n")
        log = _PlainLog(file)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield path


def _free_dead_runs(instance) -> None:
    """Fail the runs whose process was killed, freeing the warehouse slot they hold (else this run
    would wait for it forever); name the live runs this one will wait for."""
    from orchestration.defs.dead_runs import free_dead_runs, slot_holders

    try:
        freed, ahead = free_dead_runs(instance), slot_holders(instance)
    except Exception as error:  # the run goes on; at worst it waits, as it would have
        say(f"warning:    could not check the Dagster instance for killed runs: {error}")
        return
    for run in freed:
        if run.failed:
            say(f"recovered:  run {run.run_id} ({run.job_name}) was killed (its process {run.pid} is gone): "
                "marked ended, its hold on the warehouse released")
    for run in ahead:
        say(f"waiting:    run {run.run_id} ({run.job_name}) is ahead of this one for the warehouse")


def _summary(home: PapersHome, run_id: str, failure: str | None, strict: bool) -> dict:
    """What a run did, from the registry, the validation results and the release it left; its exit code
    and one-line result last."""
    import duckdb

    from orchestration.dbt_state import project_md5
    from orchestration.ops import ledger

    rows, papers, validations, skipped = [], None, [], False
    if home.warehouse.exists():
        with duckdb.connect(str(home.warehouse), read_only=True) as con:
            if table_exists(con, "ops.snapshot_files"):
                rows = con.execute(
                    "select source, source_uri, listing_date, status, rows, reason from ops.snapshot_files "
                    "where run_id = ? order by listing_date, source_uri", [run_id]).fetchall()
            if table_exists(con, "marts.papers"):
                papers = con.execute("select count(*), count(arxiv_id) from marts.papers").fetchone()
            if table_exists(con, "ops.validation_results"):
                validations = con.execute(
                    "select suite, table_name, success, failed_expectations from ops.validation_results "
                    "where run_id = ? order by validated_at", [run_id]).fetchall()
            # no mart was validated because nothing arrived since the published build (dbt skipped too)
            skipped = (failure is None and not any(v[1].startswith("marts.") for v in validations)
                       and ledger.published_is_current(con, project_md5()))
    summary: dict = {"run_id": run_id, "failure": failure}
    unfetched = [r for r in rows if (r[5] or "").startswith("fetch failed: ")]
    for source, key in (("landing", "files"), ("api", "fetches")):
        mine = [r for r in rows if r[0] == source]
        if mine:
            summary[key] = {status: sum(1 for r in mine if r[3] == status and r not in unfetched)
                            for status in ("loaded", "duplicate", "quarantined")}
    if "fetches" in summary:
        summary["fetches"]["not_fetched"] = sum(1 for r in unfetched if r[0] == "api")
    summary["quarantined"] = [{"name": r[1], "reason": r[5]} for r in rows
                              if r[3] == "quarantined" and r not in unfetched]
    summary["not_fetched"] = [{"listing_date": str(day), "url": uri, "reason": reason.removeprefix("fetch failed: ")}
                              for _, uri, day, _, _, reason in unfetched]
    summary["raw_rows_added"] = sum(r[4] or 0 for r in rows if r[3] == "loaded")
    if papers is not None:
        summary["papers"] = {"count": papers[0], "with_arxiv_id": papers[1]}
    # a raw suite audits each batch before it is loaded: what broke it was quarantined (listed above)
    # and never loaded; a mart suite that fails blocks publishing
    summary["validation"] = {
        "skipped": skipped,
        "suites": len(validations),
        "passed": sum(1 for v in validations if v[2]),
        "raw_audits_that_quarantined": [{"suite": s, "table": t} for s, t, ok, _ in validations
                                        if not ok and not t.startswith("marts.")],
        "failed": [{"suite": s, "table": t, "expectations": json.loads(e)} for s, t, ok, e in validations
                   if not ok and t.startswith("marts.")],
        "report": str(home.reports) if validations else None,
    }
    release = current_release(home.published)
    summary["published"] = ({"now": release.get("run_id") == run_id, "release": Path(release["release_dir"]).name,
                             "run_id": release["run_id"], "published_at": release["published_at"]}
                            if release else None)
    summary["exit_code"], summary["result"] = _outcome(summary, strict)
    return summary


def _outcome(summary: dict, strict: bool) -> tuple[int, str]:
    """The exit code and the one-line result of a summary."""
    failed = summary["validation"]["failed"]
    if failed:
        return EXIT_VALIDATION_FAILED, ("validation FAILED — bad data was blocked: "
                                        + ", ".join(f["table"] for f in failed) + " (see above)")
    if summary["failure"]:
        return EXIT_PIPELINE_ERROR, f"FAILED: {summary['failure']}"
    if summary["not_fetched"]:
        return EXIT_PIPELINE_ERROR, (f"{len(summary['not_fetched'])} listing date(s) could not be fetched (see above; "
                                     "the others were loaded, and the next fetch of these tries again)")
    if summary["quarantined"] and strict:
        return EXIT_QUARANTINED, f"{len(summary['quarantined'])} file(s) quarantined (--strict)"
    return EXIT_OK, "ok" + (f", {len(summary['quarantined'])} file(s) quarantined (see above)"
                            if summary["quarantined"] else "")


def _render(home: PapersHome, summary: dict) -> None:
    """The summary as lines: counts, what went wrong and why, the release, the result."""
    for key in ("files", "fetches"):
        if key in summary:
            counts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in summary[key].items())
            say(f"{key}:".ljust(12) + counts)
    for item in summary["quarantined"]:
        say(f"  quarantined {item['name']}: {item['reason']}")
    by_reason: dict[str, list[str]] = {}
    for item in summary["not_fetched"]:
        by_reason.setdefault(item["reason"], []).append(item["listing_date"])
    for reason, days in by_reason.items():
        dates = days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]} ({len(days)} dates)"
        say(f"  not fetched {dates}: {reason}")
    if "files" in summary or "fetches" in summary:
        say(f"raw rows:   {summary['raw_rows_added']} added")
    if "papers" in summary:
        say(f"papers:     {summary['papers']['count']} in marts.papers "
            f"({summary['papers']['with_arxiv_id']} with an arXiv id)")
    v = summary["validation"]
    if v["skipped"]:
        say("validation: skipped: nothing new since the last published build (dbt and publish too)")
    elif v["suites"]:
        say(f"validation: {v['passed']}/{v['suites']} suites passed (report: {v['report']})")
    else:
        say("validation: not run" + (" (the run stopped before it)" if summary["failure"] else ""))
    for audit in v["raw_audits_that_quarantined"]:
        say(f"  {audit['suite']} on {audit['table']}: the snapshots that broke it were quarantined, not loaded")
    for failed in v["failed"]:
        say(f"  FAILED {failed['suite']} on {failed['table']}:")
        for expectation in failed["expectations"]:
            say(f"    - {expectation}")
    release = summary["published"]
    if release and release["now"]:
        say(f"published:  {home.published} -> {release['release']}")
    elif release:
        say(f"published:  unchanged, still serves run {release['run_id']} of {release['published_at']}")
    else:
        say("published:  nothing published yet")
    say(f"result:     {summary['result']}")


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _failure(result) -> str | None:
    """The cause of a failed run in one line: the first failed step and its error, unwrapped."""
    for event in result.get_step_failure_events():
        if event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            # a user-code error arrives wrapped ("Error occurred while executing op ..."): its cause says it
            while error.cls_name == "DagsterExecutionStepExecutionError" and error.cause is not None:
                error = error.cause
            message = error.message.strip()
            if error.cls_name in ("Failure", "DagsterAssetCheckFailedError"):
                message = message.split(": ", 1)[-1]
            return f"{event.step_key}: {_one_line(message)}"
    return None if result.success else "the run failed (see the log)"


def _run_and_report(settings: Settings, args, job_name: str, *, run_config: dict | None = None,
                    tags: dict | None = None) -> int:
    """Run one job in this process, then print its summary (``--json``: as one object); returns the exit code."""
    home = settings.layout
    started = time.monotonic()
    with _captured(home, job_name, args.debug) as log:
        import dagster as dg

        from orchestration.defs.dead_runs import PROCESS_TAG, process_identity
        from orchestration.defs.definitions import build_definitions

        job = build_definitions(settings, progress=say).resolve_job_def(job_name)
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
        _free_dead_runs(instance)
        identity = process_identity(os.getpid())  # lets a later command tell that this run was killed
        result = job.execute_in_process(
            # Dagster's own log (every event, errors with their traceback) goes where _captured sends it
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}, **(run_config or {})},
            instance=instance,
            tags={**(tags or {}), **({PROCESS_TAG: identity} if identity else {})},
            raise_on_error=False,
        )
    summary = _summary(home, result.run_id, _failure(result), args.strict)
    seconds = round(time.monotonic() - started, 1)
    if args.json:
        _write(json.dumps({"command": args.command, **summary, "seconds": seconds, "log": str(log) if log else None}))
    else:
        _render(home, summary)
        say(f"took:       {seconds} s (run {result.run_id}" + (f"; log: {log})" if log else ")"))
    return summary["exit_code"]


def _nothing_to_do(args, message: str) -> int:
    if args.json:
        _write(json.dumps({"command": args.command, "exit_code": EXIT_OK, "result": "nothing to do", "why": message}))
    else:
        say(f"papers {args.command}: nothing to do: {message}")
    return EXIT_OK


def _ensure(home: PapersHome, who: str) -> None:
    try:
        home.ensure()
    except OSError as error:
        raise _UsageError(f"{who}: cannot create the home's folders in {home.root}: {error.strerror or error}")


def cmd_run(settings: Settings, args) -> int:
    import duckdb

    from orchestration.dbt_state import project_md5
    from orchestration.ops import ledger
    from orchestration.sources.landing_files import list_landing

    home = settings.layout
    waiting = len(list_landing(home.landing))
    if waiting:
        say(f"papers {args.command}: {waiting} file(s) waiting in {home.landing}")
        return _run_and_report(settings, args, "ingest_landing")
    # why the warehouse holds what is not published (None: nothing): loads of an interrupted run or of
    # one whose validation failed, or a changed dbt project
    why = None
    try:
        if home.warehouse.exists():
            code = project_md5()
            with duckdb.connect(str(home.warehouse), read_only=True) as con:
                if ledger.newest_load(con) and not ledger.published_is_current(con, code):
                    why = ledger.plan(con, ledger.DBT, code).reason
    except duckdb.IOException as error:  # a run holds the warehouse
        _write(f"papers {args.command}: the warehouse {home.warehouse} is in use by another process "
               f"({_one_line(str(error))[:200]}); try again when it is done")
        return EXIT_PIPELINE_ERROR
    if why is None:
        return _nothing_to_do(args, f"no file waiting in {home.landing} (drop snapshot files there, "
                                    "or fetch listing dates with `papers backfill`)")
    # the ingest job with no file still repairs what an interrupted load left before dbt builds
    say(f"papers {args.command}: no file waiting; the warehouse holds what is not published yet ({why}): "
        "building, validating, publishing it")
    return _run_and_report(settings, args, "ingest_landing")


def _unreadable(name: str) -> str | None:
    """Why ``name`` cannot be ingested as a file, in plain words (None: it can)."""
    path = Path(name)
    if not path.exists():
        return f"{name}: no such file"
    if path.is_dir():
        return f"{name}: is a directory (give the files in it: {name.rstrip('/')}/*)"
    if not path.is_file():
        return f"{name}: not a regular file"
    try:
        with path.open("rb") as file:
            file.read(1)
    except OSError as error:
        return f"{name}: cannot be read ({error.strerror or error})"
    return None


def cmd_ingest(settings: Settings, args) -> int:
    home = settings.layout
    problems = [problem for problem in map(_unreadable, args.files) if problem]
    if problems:
        raise _UsageError("papers ingest: " + "; ".join(problems))
    for name in args.files:
        source = Path(name)
        target = home.landing / source.name
        n = 1
        while target.exists():
            target = home.landing / f"{source.stem}.{n}{source.suffix}"
            n += 1
        shutil.copy2(source, target)
    say(f"papers ingest: copied {len(args.files)} file(s) into {home.landing}")
    return cmd_run(settings, args)


def cmd_backfill(settings: Settings, args) -> int:
    start, end = args.start, args.end
    if end < start:
        raise _UsageError(f"papers backfill: --end {end} is before --start {start}")
    first, last = date.fromisoformat(FIRST_LISTING_DATE), datetime.now(timezone.utc).date() + timedelta(days=1)
    if start < first or end > last:
        raise _UsageError(f"papers backfill: listing dates run from {first} (the first listing) to {last} "
                          f"(tomorrow, UTC); {start if start < first else end} is outside")
    say(f"papers backfill: fetching {start} .. {end} from the API in one run")
    with _captured(settings.layout, "backfill", args.debug):  # importing the definitions warns
        from orchestration.defs.schedules import partition_range_tags

    return _run_and_report(settings, args, "fetch_api", tags=partition_range_tags(start, end))


def cmd_rebuild(settings: Settings, args) -> int:
    if not settings.layout.warehouse.exists():
        return _nothing_to_do(args, f"no warehouse yet at {settings.layout.warehouse}")
    say("papers rebuild: rebuilding every dbt model from raw (--full-refresh), validating, publishing")
    return _run_and_report(settings, args, "build_marts",
                           run_config={"ops": {"warehouse_dbt_models": {"config": {"full_refresh": True}}}})


def cmd_backup(settings: Settings, args) -> int:
    from orchestration.ops.backup import BackupError, backup

    home = settings.layout
    try:
        made = backup(home, Path(args.dest).expanduser().resolve(), wait_seconds=args.wait)
    except BackupError as error:
        raise _UsageError(f"papers backup: {error}")
    say(f"papers backup: {home.root} -> {made.folder}: {made.files} file(s), {made.bytes / 1e6:.1f} MB "
        f"in {made.seconds:.1f} s")
    return EXIT_OK


def cmd_restore(settings: Settings, args) -> int:
    from orchestration.ops.backup import BackupError, restore

    home = settings.layout
    try:
        manifest = restore(Path(args.source).expanduser().resolve(), home)
    except BackupError as error:
        raise _UsageError(f"papers restore: {error}")
    say(f"papers restore: {args.source} (made {manifest['made_at']} from {manifest['home']}) -> {home.root}")
    return EXIT_OK


def cmd_init(settings: Settings, args) -> int:
    home = settings.layout
    existed = home.root.is_dir()
    _ensure(home, "papers init")
    say(f"papers init: {'ready' if existed else 'created'} {home.root}: "
        + ", ".join(f"{name}/" for name in home.FOLDERS))
    say(f"next: drop snapshot files into {home.landing} and run `papers run`, "
        "or fetch listing dates with `papers backfill --start YYYY-MM-DD --end YYYY-MM-DD`")
    return EXIT_OK


def cmd_status(settings: Settings, args) -> int:
    import duckdb

    home = settings.layout
    if not home.warehouse.exists():
        say(f"no warehouse yet at {home.warehouse}: `papers init` creates the home; drop snapshot files into "
            f"{home.landing} and `papers run`, or `papers backfill`")
        return EXIT_OK
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        say(f"warehouse: {home.warehouse}")
        say(f"landing:   {len(list(home.landing.glob('*'))) if home.landing.is_dir() else 0} file(s) waiting")
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
                say(f"  {table:28} {info['rows']} rows")
            if last and last[0][1] != last[0][2]:
                say(f"  the last validation failed: published/ still serves run {release['run_id']}")
        else:
            say("published: nothing yet (no run has passed validation)")
    return EXIT_OK


def cmd_config(settings: Settings, args) -> int:
    width = max(len(name) for name, _, _ in settings.describe())
    for name, value, origin in settings.describe():
        say(f"{name:{width}}  {value}    ({origin})")
    return EXIT_OK


def cmd_digest(settings: Settings, args) -> int:
    """Print ``digests/<week>.md`` of the release ``published/`` serves."""
    from orchestration.publish.digest import DIGESTS_DIR, week_name, week_start

    home = settings.layout
    try:
        week = week_name(week_start(args.week))
    except ValueError as error:
        raise _UsageError(f"papers digest: {error}")
    release = current_release(home.published)
    if not release:
        raise _UsageError("papers digest: nothing published yet (run `papers run` first)")
    folder = Path(release["release_dir"]) / DIGESTS_DIR
    path = folder / f"{week}.md"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []
        raise _UsageError(f"papers digest: no digest for {week} in {home.published} "
                          f"(weeks: {', '.join(known) if known else 'none'})")
    say(path.read_text(encoding="utf-8").rstrip("\n"))
    return EXIT_OK


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block) and lets ``main`` exit 2."""

    def error(self, message: str):
        raise _UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD, e.g. 2025-10-01)") from None


def build_parser() -> argparse.ArgumentParser:
    # the common options are accepted before and after the command (`papers --home X status`,
    # `papers status --home X`)
    common = _Parser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="PAPERS_HOME (default: $PAPERS_HOME, the config file, or ./data)")
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                        help="settings file (default: $PAPERS_CONFIG, else ./papers.toml when present)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print what Dagster, dbt and dlt print (instead of logs/papers.log) and the full "
                             "traceback of an unexpected error")
    runs = _Parser(add_help=False)  # the commands that run the pipeline
    runs.add_argument("--json", action="store_true", help="print the summary as one JSON object (no progress lines)")
    runs.add_argument("--strict", action="store_true",
                      help=f"exit {EXIT_QUARANTINED} when the run quarantined files (else 0)")
    parser = _Parser(prog="papers", description=__doc__, parents=[common],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("init", parents=[common], help="create the home's folders (landing/ and the rest)")
    commands.add_parser("run", parents=[common, runs], help="ingest everything new in landing/, build marts, validate")
    ingest = commands.add_parser("ingest", parents=[common, runs], help="copy FILEs into landing/, then run")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    backfill = commands.add_parser("backfill", parents=[common, runs], help="fetch API listing dates START..END (inclusive)")
    backfill.add_argument("--start", required=True, type=_date, help="YYYY-MM-DD")
    backfill.add_argument("--end", required=True, type=_date, help="YYYY-MM-DD")
    commands.add_parser("rebuild", parents=[common, runs], help="rebuild all marts from raw (dbt --full-refresh), validate, publish")
    commands.add_parser("status", parents=[common], help="what is loaded, quarantined, published, and the last validation")
    commands.add_parser("config", parents=[common], help="the effective settings and where each value came from")
    digest = commands.add_parser("digest", parents=[common], help="print the weekly digest of the published release")
    digest.add_argument("--week", required=True, help="ISO week, e.g. 2025-W42")
    backup = commands.add_parser("backup", parents=[common], help="a consistent copy of the home in the new folder DEST")
    backup.add_argument("dest", metavar="DEST")
    backup.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                        help="how long to wait for a run to release the warehouse (default 60)")
    restore = commands.add_parser("restore", parents=[common], help="make the backup SRC the (empty) home")
    restore.add_argument("source", metavar="SRC")
    return parser


#: the commands that run the pipeline: they create the home's folders first
RUNS = ("run", "ingest", "backfill", "rebuild")
COMMANDS = {"init": cmd_init, "run": cmd_run, "ingest": cmd_ingest, "backfill": cmd_backfill, "rebuild": cmd_rebuild,
            "status": cmd_status, "digest": cmd_digest, "backup": cmd_backup, "restore": cmd_restore,
            "config": cmd_config}


def main(argv: list[str] | None = None) -> int:
    global _out, _quiet
    _out, _quiet = sys.stdout, False
    # the defaults of the options the parsers SUPPRESS (a subparser's default would undo `--home X` given
    # before the command) and of those only some commands take
    defaults = argparse.Namespace(home=None, config=None, debug=False, json=False, strict=False)
    try:
        args = build_parser().parse_args(argv, defaults)
        settings = Settings.load(config_file=args.config, home=args.home)
    except _UsageError as error:
        _write(str(error))
        return EXIT_USAGE
    except ConfigError as error:
        _write(f"papers: {error}")
        return EXIT_USAGE
    home = settings.layout
    _quiet = args.json
    try:
        if args.command != "config" and home.root.exists() and not home.root.is_dir():
            raise _UsageError(f"papers: the home {home.root} is not a directory")
        if args.command in RUNS:
            _ensure(home, "papers")
        return COMMANDS[args.command](settings, args)
    except _UsageError as error:
        _write(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _write("papers: interrupted")
        return EXIT_PIPELINE_ERROR
    except Exception as error:  # the last line of defence: a message and an exit code, no traceback
        if args.debug:
            raise
        _write(f"papers {args.command}: error: {type(error).__name__}: {_one_line(str(error))} "
               "(`--debug` shows the traceback)")
        return EXIT_PIPELINE_ERROR


def console_main(argv: list[str] | None = None) -> int:
    """The ``papers`` command: :func:`main`, then a fast exit."""
    code = main(argv)
    sys.stdout.flush()
    # all is written and closed: spare the teardown's garbage collector the millions of objects a run
    # leaves (seconds of work); they are freed with the process
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console_main())
