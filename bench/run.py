"""Benchmark of the pipeline against DuckDB reading the same files itself.

    python -m bench.run --records 100000          # or: make bench RECORDS=100000

Generates (or reuses) a deterministic synthetic corpus of N API-shaped records, then measures, each
stage in its own child process (wall seconds, records/s, peak RSS):

- reference   DuckDB-native SQL building raw.landed_api_papers from the files (read_json + SQL)
- ingest      the project's landing -> dlt -> raw path (ingest_landing, as the landing_raw asset), no Dagster
- end_to_end  `papers run` over all N files: raw -> dbt marts -> validation (-> publish)
- incremental `papers ingest` of one new 50-record snapshot onto the N-record warehouse (full) and
              onto an empty one (empty)
- idle        `papers run` again on the N-record warehouse with nothing new (a scheduled run on a
              quiet day), from a cold process: it imports only what it needs
- one_file    `papers ingest` of one more snapshot onto a small warehouse, as a user runs it, broken
              down (imports, definitions/run setup, dlt, dbt, validation, publish) from Dagster's events

Prints a table and writes bench/results/latest.json. Exit code 1 when a stage produced unexpected row
counts or failed. Peak RSS: the child's ru_maxrss from wait4 (the largest single process of its tree)
and the sampled sum over its process tree (the same figure now that dbt runs inside `papers`; it
was a subprocess before).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from bench import corpus as corpus_mod

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
RESULT_PREFIX = "BENCH_RESULT "
STAGES = ("reference", "ingest", "end_to_end", "incremental", "idle", "one_file")
EXTRA_STAGES = ("parse",)  # not run by default: --stages ...,parse
GIB = 1024 ** 3
PAGE = os.sysconf("SC_PAGE_SIZE")
CORPUS_VERSION = 3  # bump when the generator's output changes


# --- child processes ------------------------------------------------------------------------------


class TreeRssSampler(threading.Thread):
    """Samples the RSS of a process tree (from /proc) every ``interval`` s: the summed peak, the largest
    single process, and a timeline (time, summed RSS, largest process and its command) to attribute
    the peak to a step."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self.timeline: list[tuple[float, int, int, str]] = []
        self._stop_event = threading.Event()

    def _sample(self) -> tuple[int, int, str]:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        names: dict[int, str] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    head, tail = f.read().rsplit(b")", 1)
                fields = tail.split()
                pid = int(entry.name)
                children.setdefault(int(fields[1]), []).append(pid)  # fields[1] = ppid
                rss[pid] = int(fields[21]) * PAGE  # fields[21] = rss in pages
                names[pid] = head.split(b"(", 1)[1].decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
        total, largest, largest_pid, todo = 0, 0, self.pid, [self.pid]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            if rss.get(pid, 0) > largest:
                largest, largest_pid = rss[pid], pid
            todo.extend(children.get(pid, ()))
        command = names.get(largest_pid, "?")
        if command.startswith("python"):
            try:
                with open(f"/proc/{largest_pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                command = " ".join(Path(a.decode(errors="replace")).name for a in argv[1:3])
            except OSError:
                pass
        return total, largest, command

    def run(self) -> None:
        while not self._stop_event.is_set():
            total, largest, command = self._sample()
            self.peak = max(self.peak, total)
            self.timeline.append((time.time(), total, largest, command))
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def run_child(args: list[str], log: Path, env: dict[str, str] | None = None) -> dict:
    """Run ``python -m bench.stage ARGS``; return its result plus wall time and peak RSS."""
    command = [sys.executable, "-m", "bench.stage", *args]
    launched = time.time()
    started = time.perf_counter()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        child = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                 env={**os.environ, **(env or {})})
        sampler = TreeRssSampler(child.pid)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        tree_peak = sampler.stop()
    result = {}
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
    biggest = max(sampler.timeline, key=lambda sample: sample[2], default=None)
    return {**result, "wall_s": round(wall, 3), "launched_at": launched, "returncode": child.returncode,
            "maxrss_gib": round(usage.ru_maxrss * 1024 / GIB, 3),  # ru_maxrss is KiB on Linux
            "tree_rss_gib": round(tree_peak / GIB, 3),
            "largest_process": {"command": biggest[3], "rss_gib": round(biggest[2] / GIB, 3)} if biggest else None,
            "_timeline": sampler.timeline}


def measured(args: list[str], log: Path, env: dict[str, str] | None = None) -> dict:
    result = run_child(args, log, env)
    result.pop("_timeline", None)
    return result


def helper(args: list[str], log: Path, env: dict[str, str] | None = None) -> dict:
    """An unmeasured helper stage (counts, Dagster step timings, comparisons)."""
    return {k: v for k, v in run_child(args, log, env).items()
            if k not in ("wall_s", "maxrss_gib", "tree_rss_gib", "launched_at", "largest_process", "_timeline")}


# --- stage set-up -----------------------------------------------------------------------------------


def ensure_corpus(workdir: Path, records: int, seed: int) -> tuple[Path, dict]:
    """The corpus for (records, seed), generated once and reused while the generator is unchanged."""
    folder = workdir / f"corpus-{records}-{seed}"
    manifest = workdir / f"corpus-{records}-{seed}.json"  # outside the folder: DuckDB globs dot files
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if info.get("version") == CORPUS_VERSION:
            return folder, {**info, "reused": True}
    shutil.rmtree(folder, ignore_errors=True)
    manifest.unlink(missing_ok=True)
    info = {**asdict(corpus_mod.generate(folder, records, seed)), "version": CORPUS_VERSION}
    manifest.write_text(json.dumps(info))
    return folder, {**info, "reused": False}


def landing_from(corpus: Path, home: Path) -> None:
    """PAPERS_HOME with the corpus in landing/ (hard links: the pipeline moves them to archive/)."""
    landing = home / "landing"
    landing.mkdir(parents=True)
    for path in corpus.glob("*.json"):
        try:
            os.link(path, landing / path.name)
        except OSError:
            shutil.copy2(path, landing / path.name)


def dagster_home(folder: Path, log: Path) -> Path:
    """A DAGSTER_HOME holding the repo's dagster.yaml (runs and their events are stored), migrated as
    `make` does it (`dagster instance migrate`: once per benchmark, then copied)."""
    template = log.parent / "dagster_template"
    if not template.exists():
        template.mkdir(parents=True)
        shutil.copy(REPO / "dagster.yaml", template / "dagster.yaml")
        dagster = Path(sys.executable).with_name("dagster")
        with open(log, "ab") as out:
            subprocess.run([str(dagster), "instance", "migrate"], cwd=REPO, stdout=out,
                           stderr=subprocess.STDOUT, env={**os.environ, "DAGSTER_HOME": str(template)},
                           check=False)
    shutil.copytree(template, folder)
    return folder


def papers(home: Path, dhome: Path, command: list[str], log: Path, cold: bool = False) -> dict:
    """`papers COMMAND` in a fresh child process, with its step breakdown and table counts.

    The child reads its run's Dagster events and the table counts after the command returned; that
    bookkeeping time (``post_run_s``) is taken out of the wall time.
    """
    env = {"PAPERS_HOME": str(home), "DAGSTER_HOME": str(dhome)}
    result = run_child(["papers", "--home", str(home), "--dagster-home", str(dhome), *(["--cold"] if cold else []),
                        "--", *command], log, env)
    result["wall_s"] = round(result["wall_s"] - result.get("post_run_s", 0.0), 3)
    result["breakdown_s"] = breakdown(result)
    timeline = result.pop("_timeline", [])
    windows = (result.get("steps") or {}).get("windows") or {}
    result["step_peak_rss_gib"] = {
        step: round(max((t[1] for t in timeline if start <= t[0] <= end), default=0) / GIB, 3)
        for step, (start, end) in windows.items()}
    return result


def breakdown(result: dict) -> dict:
    """Split a `papers` run's wall time: start-up, imports, run setup, steps by kind, teardown."""
    steps = result.get("steps") or {}
    launched, started = result.get("launched_at"), result.get("started_at")
    run_start, run_end = steps.get("run_start_at"), steps.get("run_end_at")
    if not (launched and started and run_start and run_end and result.get("finished_at")):
        return {}
    imports = result.get("imports_s", 0.0)
    parts = {"python_startup": started - launched, "imports": imports,
             "definitions_and_run_setup": run_start - started - imports}
    for key, seconds in (steps.get("steps_s") or {}).items():
        kind = steps["categories"][key]
        parts[kind] = parts.get(kind, 0.0) + seconds
    parts["dagster_between_steps"] = (run_end - run_start) - sum((steps.get("steps_s") or {}).values())
    parts["summary_and_exit"] = result["finished_at"] - run_end  # CLI summary after the run
    parts["interpreter_exit"] = result["wall_s"] - (result["finished_at"] - launched)
    return {k: round(v, 3) for k, v in parts.items()}


def count(result: dict, table: str = "raw.landed_api_papers") -> int | None:
    return (result.get("counts") or {}).get(table)


# --- the benchmark --------------------------------------------------------------------------------


def run(records: int, seed: int, workdir: Path, stages: list[str], keep: bool, profile: bool,
        log_copy: Path | None = None) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"bench: {records:,} records, stages {', '.join(stages)}; work in {workdir}")
    corpus, info = ensure_corpus(workdir, records, seed)
    say(f"corpus: {info['files']:,} files ({info['large_files']} large), {info['bytes'] / GIB:.2f} GiB, "
        f"generated in {info['seconds']:.1f} s{' (reused)' if info['reused'] else ''} — not a measured stage")
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    log = run_dir / "bench.log"
    extra = [corpus_mod.extra_snapshot(run_dir / "extra", records, seed, nth=n) for n in range(2)]
    results: dict = {"records": records, "seed": seed, "corpus": info, "stages": {}, "checks": {},
                     "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "loadavg_before": os.getloadavg()}, "log": str(log)}
    stage_results, checks = results["stages"], results["checks"]

    def check(name: str, expected, got) -> None:
        checks[name] = {"expected": expected, "got": got, "ok": expected == got}
        if expected != got:
            say(f"  CHECK FAILED {name}: expected {expected}, got {got} (log: {log})")

    try:
        if "reference" in stages:
            say("stage reference ...")
            r = stage_results["reference"] = measured(
                ["reference", "--corpus", str(corpus), "--db", str(run_dir / "reference.duckdb")], log)
            check("reference.raw_rows", records, r.get("rows"))
        if "ingest" in stages:
            say("stage ingest ...")
            landing_from(corpus, run_dir / "ingest")
            r = stage_results["ingest"] = measured(["ingest", "--home", str(run_dir / "ingest")], log)
            check("ingest.raw_rows", records, r.get("rows"))
            if "reference" in stages and r.get("rows") is not None:
                diff = helper(["compare", "--reference", str(run_dir / "reference.duckdb"),
                               "--ingest", str(run_dir / "ingest" / "warehouse.duckdb")], log)
                check("ingest.same_rows_as_reference", [0, 0],
                      [diff.get("only_in_reference"), diff.get("only_in_ingest")])
            if profile:
                say("profiling ingest (cProfile; not measured) ...")
                shutil.rmtree(run_dir / "ingest")
                landing_from(corpus, run_dir / "ingest")
                prof = RESULTS / "ingest.prof"
                RESULTS.mkdir(parents=True, exist_ok=True)
                helper(["ingest", "--home", str(run_dir / "ingest"), "--profile", str(prof)], log)
                results["ingest_profile"] = top_functions(prof)
            shutil.rmtree(run_dir / "ingest", ignore_errors=True)
        if "parse" in stages:
            say("parsers alone (CPU per record; not an issue stage) ...")
            results["parse"] = helper(["parse", "--corpus", str(corpus)], log).get("parse")
        full_home, full_dagster = run_dir / "e2e", None
        if "end_to_end" in stages or "incremental" in stages:
            say("stage end_to_end ...")
            landing_from(corpus, full_home)
            full_dagster = dagster_home(run_dir / "e2e_dagster", log)
            r = stage_results["end_to_end"] = papers(full_home, full_dagster, ["run"], log)
            check("end_to_end.exit_code", 0, r.get("exit_code", r.get("returncode")))
            check("end_to_end.raw_rows", records, count(r))
            check("end_to_end.marts_papers", records, count(r, "marts.papers"))
        if "incremental" in stages:
            say("stage incremental (onto the N-record warehouse) ...")
            r = stage_results["incremental_full"] = papers(full_home, full_dagster, ["ingest", str(extra[0])], log)
            check("incremental_full.exit_code", 0, r.get("exit_code", r.get("returncode")))
            check("incremental_full.raw_rows", records + corpus_mod.PER_FILE, count(r))
        if "idle" in stages and full_dagster is not None:
            say("stage idle (papers run again, nothing new) ...")
            before = count(stage_results.get("incremental_full") or stage_results["end_to_end"])
            r = stage_results["idle"] = papers(full_home, full_dagster, ["run"], log, cold=True)
            check("idle.exit_code", 0, r.get("exit_code", r.get("returncode")))
            check("idle.raw_rows", before, count(r))
            check("idle.no_run", None, (r.get("steps") or {}).get("run_id"))
        small_home, small_dagster = run_dir / "small", None
        if "incremental" in stages:
            say("stage incremental (onto an empty warehouse) ...")
            small_dagster = dagster_home(run_dir / "small_dagster", log)
            r = stage_results["incremental_empty"] = papers(small_home, small_dagster, ["ingest", str(extra[0])], log)
            check("incremental_empty.exit_code", 0, r.get("exit_code", r.get("returncode")))
            check("incremental_empty.raw_rows", corpus_mod.PER_FILE, count(r))
        if "one_file" in stages:
            # one more snapshot onto an existing warehouse, as a user adds today's file: the small one
            # from `incremental`, else the N-record one from `end_to_end`, else a new one
            if small_dagster is not None:
                home, dhome, before, base = small_home, small_dagster, corpus_mod.PER_FILE, "small"
            elif full_dagster is not None:
                home, dhome, before, base = full_home, full_dagster, records, "end_to_end"
            else:
                home, dhome, before, base = small_home, dagster_home(run_dir / "small_dagster", log), 0, "empty"
            say(f"stage one_file (one more snapshot onto the {base} warehouse) ...")
            r = stage_results["one_file"] = papers(home, dhome, ["ingest", str(extra[1])], log)
            r["base_warehouse"] = base
            check("one_file.exit_code", 0, r.get("exit_code", r.get("returncode")))
            check("one_file.raw_rows", before + corpus_mod.PER_FILE, count(r))
    finally:
        results["machine"]["loadavg_after"] = os.getloadavg()
        if log_copy is not None and log.exists():
            log_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, log_copy)  # the children's output (dbt, Dagster) outlives the run folder
            results["log"] = str(log_copy)
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    summarize(results)
    return results


def top_functions(prof: Path, limit: int = 25) -> list[dict]:
    import pstats

    stats = pstats.Stats(str(prof))
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(filename).name}:{line}({name})", "calls": calls,
                     "tottime_s": round(tottime, 3), "cumtime_s": round(cumtime, 3)})
    return sorted(rows, key=lambda r: -r["tottime_s"])[:limit]


def summarize(results: dict) -> None:
    """Flat figures (wall time, records per second, peak RSS per stage) and ratios, next to the per-stage details."""
    s = results["stages"]

    def wall(name: str) -> float | None:
        return s[name]["wall_s"] if name in s else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    results.update({
        "reference_s": wall("reference"), "ingest_s": wall("ingest"), "end_to_end_s": wall("end_to_end"),
        "incremental_empty_s": wall("incremental_empty"), "incremental_full_s": wall("incremental_full"),
        "one_file_s": wall("one_file"), "idle_s": wall("idle"),
        "peak_rss_gib": max((max(r["maxrss_gib"], r["tree_rss_gib"]) for r in s.values()), default=None),
        "rss_gib": {name: {"max_process": r["maxrss_gib"], "tree_sampled": r["tree_rss_gib"]}
                    for name, r in s.items()},
        "ratios": {
            "ingest/reference": ratio(wall("ingest"), wall("reference")),
            "end_to_end/reference": ratio(wall("end_to_end"), wall("reference")),
            "incremental_full/incremental_empty": ratio(wall("incremental_full"), wall("incremental_empty")),
        },
        "breakdown_s": {name: s[name].get("breakdown_s") for name in ("end_to_end", "incremental_full",
                                                                       "incremental_empty", "one_file") if name in s},
        "ok": all(c["ok"] for c in results["checks"].values()),
    })


def table(results: dict) -> str:
    n = results["records"]
    lines = [f"{'stage':<20}{'wall s':>10}{'records':>12}{'records/s':>12}{'peak RSS GiB':>14}  rows ok",
             "-" * 76]
    per_stage_records = {"incremental_full": corpus_mod.PER_FILE, "incremental_empty": corpus_mod.PER_FILE,
                         "one_file": corpus_mod.PER_FILE, "idle": 0}
    for name, r in results["stages"].items():
        recs = per_stage_records.get(name, n)
        ok = all(c["ok"] for k, c in results["checks"].items() if k.split(".")[0] == name)
        rss = max(r["maxrss_gib"], r["tree_rss_gib"])
        lines.append(f"{name:<20}{r['wall_s']:>10.1f}{recs:>12,}{recs / max(r['wall_s'], 1e-9):>12,.0f}{rss:>14.2f}  "
                     f"{'yes' if ok else 'NO'}")
    lines.append("-" * 76)
    for name, value in results["ratios"].items():
        if value is not None:
            lines.append(f"{name:<40}{value:>8.2f}")
    lines.append(f"{'peak RSS (GiB, any stage)':<40}{results['peak_rss_gib'] or 0:>8.2f}")
    for name, parts in results["breakdown_s"].items():
        if parts:
            lines.append(f"{name} breakdown (s): " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()))
    for name, r in results["stages"].items():
        if r.get("step_peak_rss_gib"):
            lines.append(f"{name} peak RSS by step (GiB): "
                         + ", ".join(f"{k} {v:.2f}" for k, v in r["step_peak_rss_gib"].items()))
    if results.get("parse"):
        lines.append(f"parse ({results['parse']['files']:,} files): {results['parse']['us_per_record']} CPU µs/record")
    if results.get("ingest_profile"):
        lines.append("ingest profile (top by own time):")
        for row in results["ingest_profile"][:12]:
            lines.append(f"  {row['tottime_s']:>8.2f} s  {row['calls']:>10,}  {row['function']}")
    return "\n".join(lines)


def say(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=corpus_mod.DEFAULT_SEED)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "papers-bench",
                        help="corpus cache and per-run folders (default: $TMPDIR/papers-bench)")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated subset of {','.join(STAGES + EXTRA_STAGES)}")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (warehouses, logs)")
    parser.add_argument("--profile", action="store_true", help="also cProfile the ingest stage (not measured)")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES) - set(EXTRA_STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    for var, value in (("DBT_SEND_ANONYMOUS_USAGE_STATS", "false"), ("RUNTIME__DLTHUB_TELEMETRY", "false"),
                       ("DO_NOT_TRACK", "1")):
        os.environ.setdefault(var, value)
    results = run(args.records, args.seed, args.workdir.resolve(), stages, args.keep, args.profile,
                  log_copy=args.output.with_suffix(".log"))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    say("")
    say(table(results))
    say(f"\nresults: {args.output}")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
