"""The `papers` command end to end: the bundled sample (a real month), a broken snapshot, backfill, status, exit codes."""

from __future__ import annotations

import pytest

import hashlib
import json
from datetime import date

import duckdb
from werkzeug import Response

from orchestration.cli import EXIT_PIPELINE_ERROR
from tests.conftest import copy_home
from tests.pipeline_runs import FIXTURES, SAMPLE_FILES, land_sample, query, run_papers

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`


def test_sample_data_run_builds_marts_and_rerun_adds_nothing(tmp_path):
    written = land_sample(tmp_path / "landing")
    code, output = run_papers(tmp_path, "run")
    assert code == 0, output
    assert f"{len(written)} loaded, 0 duplicate, 0 quarantined" in output
    warehouse = tmp_path / "warehouse.duckdb"
    # every paper of the sample's files, one row each, all with their arXiv id
    records = [r for f in SAMPLE_FILES for r in json.loads(f.read_text())]
    ids = {r["paper"]["id"] for r in records}
    papers = query(warehouse, "select count(*) from marts.papers")[0][0]
    assert papers == len(ids)
    assert query(warehouse, "select count(*) from marts.papers where arxiv_id is null")[0][0] == 0
    assert query(warehouse, "select count(*), count(distinct listing_date) from marts.paper_observations") == [
        (len(records), len(SAMPLE_FILES))]

    # dbt's state of the latest build is kept with the warehouse, its per-run folder dropped
    dbt_target = tmp_path / "dbt" / "target"
    assert sorted(p.name for p in dbt_target.iterdir()) == ["dbt.log", "partial_parse.msgpack", "run_results.json"]
    assert "Unable to do partial parsing" in (dbt_target / "dbt.log").read_text()  # first build: full parse

    land_sample(tmp_path / "landing")
    code, output = run_papers(tmp_path, "run")
    assert code == 0, output
    assert f"0 loaded, {len(written)} duplicate, 0 quarantined" in output
    # nothing new: dbt, validation and publish do not run
    assert "validation: skipped: nothing new since the last published build" in output
    assert "published:  unchanged" in output
    assert query(warehouse, "select count(*) from marts.papers")[0][0] == papers

    code, output = run_papers(tmp_path, "status")
    assert code == 0
    assert f"marts.papers: {papers} papers" in output and "last validation" in output
    assert "published:" in output

    # a full rebuild from raw gives the incremental marts' exact contents
    before = mart_contents(warehouse)
    code, output = run_papers(tmp_path, "rebuild")
    assert code == 0, output
    # the next build of this warehouse reuses the parse (the profile's warehouse path is the same)
    assert "Unable to do partial parsing" not in (dbt_target / "dbt.log").read_text()
    assert mart_contents(warehouse) == before


def test_batches_and_a_rebuild_publish_the_same_marts(demo_home, tmp_path):
    """The same month ingested in three runs (each builds its window and publishes only what
    changed: hard-linked files, a patched DuckDB file) or at once and then `papers rebuild` (every
    model rebuilt from raw): the published marts are identical, in the DuckDB file and in Parquet."""
    batches = tmp_path / "batches"
    for part in (SAMPLE_FILES[:7], SAMPLE_FILES[7:15], SAMPLE_FILES[15:]):
        code, output = run_papers(batches, "ingest", *map(str, part))
        assert code == 0, output
    assert len(list((batches / "releases").glob("20*"))) == 3  # one release per run (3 kept)
    rebuilt = copy_home(demo_home, tmp_path / "rebuilt")
    code, output = run_papers(rebuilt, "rebuild")
    assert code == 0, output
    assert "dbt: building every model (asked for)" in output
    assert published_marts(batches) == published_marts(rebuilt)


def published_marts(home):
    """Every mart of the release ``home/published`` points at, as sorted rows: read from its DuckDB
    file, and checked equal to its Parquet (one file per mart, or a folder of partitions)."""
    from orchestration.project import PUBLIC_MARTS

    root = (home / "published").resolve()
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        marts = {m: sorted(map(repr, con.sql(f"select * from marts.{m}").fetchall())) for m in PUBLIC_MARTS}
        files: dict[str, list[str]] = {}
        for path in sorted((root / "parquet").rglob("*.parquet")):
            files.setdefault(path.relative_to(root / "parquet").parts[0].removesuffix(".parquet"), []).append(str(path))
        assert sorted(files) == sorted(PUBLIC_MARTS)
        for mart, paths in files.items():
            rows = con.execute("select * from read_parquet(?, hive_partitioning = false)", [paths]).fetchall()
            assert sorted(map(repr, rows)) == marts[mart], mart
    return marts


def mart_contents(warehouse):
    from orchestration.project import PUBLIC_MARTS

    return {m: sorted(map(repr, query(warehouse, f"select * from marts.{m}"))) for m in PUBLIC_MARTS}


def published_files(home):
    """sha256 of every file in the release published/ points at."""
    root = (home / "published").resolve()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_failed_validation_leaves_published_byte_identical(demo_home, tmp_path):
    home = copy_home(demo_home, tmp_path / "home")  # the sample month ingested and published
    before = published_files(home)
    assert {"warehouse.duckdb", "manifest.json", "parquet/papers/listing_month=2025-10/data_0.parquet"} <= set(before)
    with duckdb.connect(str(home / "published" / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("select count(*) from marts.papers").fetchall()[0][0] > 0

    # a bad row that got into raw past the audit (written there by hand): the mart suite catches it
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("update raw.landed_api_papers set num_comments = -1 where rank = 1")
    code, output = run_papers(home, "rebuild")
    assert code == 1, output
    assert "published:  unchanged" in output
    assert published_files(home) == before
    code, output = run_papers(home, "status")
    assert "the last validation failed: published/ still serves run" in output


def test_failed_dbt_build_names_its_first_failed_node_and_lets_the_warehouse_go(demo_home, tmp_path):
    home = copy_home(demo_home, tmp_path / "home")
    before = published_files(home)
    # a raw column changed by hand to a type the models cannot combine: a model fails at run time
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("alter table raw.landed_api_papers alter author_count type varchar")
    code, output = run_papers(home, "rebuild")
    assert code == EXIT_PIPELINE_ERROR, output
    failed = next(line for line in output.splitlines() if line.startswith("result:"))
    assert failed.startswith("result:     FAILED: warehouse_dbt_models: dbt build failed: "
                             "model.daily_papers.int_paper_attributes: Runtime Error in model int_paper_attributes"), failed
    # the failed build keeps its folder: dbt's log and the run results naming the node
    folder = next(p for p in (home / "dbt" / "target").iterdir() if p.is_dir())
    assert f"(log: {folder / 'dbt.log'})" in failed
    results = json.loads((folder / "run_results.json").read_text())["results"]
    assert [r["unique_id"] for r in results if r["status"] == "error"] == ["model.daily_papers.int_paper_attributes"]
    assert "published:  unchanged" in output and published_files(home) == before
    # dbt ran in this process: its DuckDB is closed, the file opens here with other settings
    with duckdb.connect(str(home / "warehouse.duckdb"), config={"threads": 1}) as con:
        assert con.sql("select count(*) from raw.landed_api_papers").fetchall()[0][0] > 0


def test_a_failed_dbt_test_fails_the_build_names_the_test_and_publishes_nothing(demo_home, tmp_path):
    home = copy_home(demo_home, tmp_path / "home")
    before = published_files(home)
    # a raw row without its listing date, set by hand: the staging model's not_null test fails
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("alter table raw.landed_api_papers alter listing_date drop not null")
        con.execute("update raw.landed_api_papers set listing_date = null "
                    "where rowid = (select min(rowid) from raw.landed_api_papers)")
    code, output = run_papers(home, "rebuild")
    assert code == EXIT_PIPELINE_ERROR, output
    failed = next(line for line in output.splitlines() if line.startswith("result:"))
    assert failed.startswith("result:     FAILED: warehouse_dbt_models: dbt build failed: "
                             "test.daily_papers.not_null_stg_api_paper_observations_listing_date"), failed
    assert "published:  unchanged" in output and published_files(home) == before


def test_a_duplicate_key_where_no_new_load_reaches_fails_dbt_s_unique_test(demo_home, tmp_path):
    """A mart's keys are dbt's tests: papers' over the whole table, also when a build takes in only
    the papers of one new file."""
    home = copy_home(demo_home, tmp_path / "home")
    before = published_files(home)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        paper = con.sql("select min(paper_id) from marts.papers").fetchall()[0][0]
        con.execute("insert into marts.papers select * from marts.papers where paper_id = ?", [paper])
    new = FIXTURES / "daily_papers" / "2025-03-17_captured-20250317T074930Z.json"
    code, output = run_papers(home, "ingest", str(new))
    assert code == EXIT_PIPELINE_ERROR, output
    assert "dbt: building the models (loads after" in output  # an incremental build, not a full one
    failed = next(line for line in output.splitlines() if line.startswith("result:"))
    assert failed.startswith("result:     FAILED: warehouse_dbt_models: dbt build failed: test.daily_papers.unique_papers_"), failed
    folder = next(p for p in (home / "dbt" / "target").iterdir() if p.is_dir())
    results = json.loads((folder / "run_results.json").read_text())["results"]
    assert sorted(r["unique_id"].rsplit(".", 1)[0] for r in results if r["status"] == "fail") == [
        "test.daily_papers.unique_papers_arxiv_id", "test.daily_papers.unique_papers_paper_id"]
    assert "published:  unchanged" in output and published_files(home) == before


def test_broken_snapshot_is_quarantined_before_it_is_loaded(tmp_path):
    # the good file's first title carries control characters (NUL, an ANSI escape): kept out of the marts
    good_rows = json.loads((FIXTURES / "daily_papers" / "2025-03-17_captured-20250317T074930Z.json").read_text())
    good_rows[0]["paper"]["title"] = "Control\u0000 \u001b[31mCharacters\u007f"
    good = tmp_path / "2025-03-17_captured-20250317T074930Z.json"
    good.write_text(json.dumps(good_rows))
    rows = json.loads((FIXTURES / "daily_papers" / "2025-10-03_captured-20251003T074927Z.json").read_text())
    rows[3]["paper"]["upvotes"] = -5
    broken = tmp_path / "2025-10-03_captured-20251004T120000Z.json"
    broken.write_text(json.dumps(rows))

    code, output = run_papers(tmp_path / "home", "ingest", str(good), str(broken))
    # the raw suite audits each parsed batch before loading: the broken file is quarantined with the
    # rule it broke, the good one is loaded and published in the same run
    assert code == 0, output
    assert "1 loaded, 0 duplicate, 1 quarantined" in output
    assert f"quarantined {broken.name}: failed validation (suite raw_api_papers): " \
           "expect_column_values_to_be_between(column=upvotes" in output
    assert "raw_api_papers on raw.landed_api_papers: the snapshots that broke it were quarantined" in output
    home = tmp_path / "home"
    reason = (home / "quarantine" / f"{broken.name}.reason.txt").read_text()
    assert "upvotes" in reason and "num_comments" not in reason
    warehouse = home / "warehouse.duckdb"
    # never loaded (nothing written and taken back out): no row of it in raw, whatever its load id
    assert query(warehouse, "select count(*) from raw.landed_api_papers where snapshot_id = ?",
                 [hashlib.sha256(broken.read_bytes()).hexdigest() if broken.exists() else ""])[0][0] == 0
    assert query(warehouse, "select count(*) from raw.landed_api_papers where upvotes < 0")[0][0] == 0
    assert query(warehouse, "select status from ops.snapshot_files where source_uri = ?", [broken.name]) == [
        ("quarantined",)]
    failed = query(warehouse, "select suite, rows from ops.validation_results where not success")
    assert failed == [("raw_api_papers", len(rows) + len(json.loads(good.read_text())))]
    assert query(warehouse, "select count(*) from marts.papers")[0][0] == len(json.loads(good.read_text()))
    assert query(warehouse, "select title from marts.papers where title like 'Control%'") == [
        ("Control [31mCharacters",)]
    assert "published:  " in output and "unchanged" not in output

    code, output = run_papers(home, "run")
    assert code == 0, output


def test_backfill_fetches_each_date_once_in_one_run(tmp_path, httpserver):
    bodies = {
        "2024-06-12": (FIXTURES / "daily_papers" / "2024-06-12_captured-20240613T035001Z.json").read_bytes(),
        "2024-06-13": b"[]",
        "2024-06-14": (FIXTURES / "daily_papers" / "2024-05-27_captured-20240601T170721Z.json").read_bytes(),
    }
    asked: list[tuple[str, str]] = []

    def handler(request):
        day, page = request.args["date"], request.args.get("p", "0")
        asked.append((day, page))
        body = bodies.get(day, b"[]") if page == "0" else b"[]"
        return Response(body, content_type="application/json")

    httpserver.expect_request("/api/daily_papers").respond_with_handler(handler)
    base = httpserver.url_for("/").rstrip("/")
    code, output = run_papers(tmp_path, "backfill", "--start", "2024-06-12", "--end", "2024-06-14",
                              PAPERS_API_BASE_URL=base)
    assert code == 0, output
    assert sorted({day for day, _ in asked}) == ["2024-06-12", "2024-06-13", "2024-06-14"]
    assert sorted(day for day, page in asked if page == "0") == ["2024-06-12", "2024-06-13", "2024-06-14"]
    warehouse = tmp_path / "warehouse.duckdb"
    assert query(warehouse, "select count(distinct run_id), count(*) from ops.snapshot_files") == [(1, 3)]
    assert query(warehouse, "select listing_date, count(*) from raw.api_fetched_papers group by 1 order by 1") == [
        (date(2024, 6, 12), 16), (date(2024, 6, 14), 13)]
    assert query(warehouse, "select count(*) from marts.papers")[0][0] == 29

    # same answers again: nothing new
    code, output = run_papers(tmp_path, "backfill", "--start", "2024-06-12", "--end", "2024-06-14",
                              PAPERS_API_BASE_URL=base)
    assert code == 0, output
    assert "0 loaded, 3 duplicate, 0 quarantined" in output


def test_usage_errors_exit_2(tmp_path):
    code, output = run_papers(tmp_path, "ingest", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in output
    # listing dates outside the listing's life: a usage error, nothing fetched or recorded
    for start, end in (("2023-05-01", "2023-05-05"), ("2030-01-01", "2030-01-02")):
        code, output = run_papers(tmp_path, "backfill", "--start", start, "--end", end,
                                  PAPERS_API_BASE_URL="http://127.0.0.1:9")
        assert code == 2 and "listing dates run from 2023-05-04" in output, output
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_backfill_keeps_the_good_dates_and_reports_the_bad(tmp_path, httpserver):
    good = (FIXTURES / "daily_papers" / "2024-06-12_captured-20240613T035001Z.json").read_bytes()

    def handler(request):
        if request.args["date"] == "2024-06-13":
            return Response("down", status=503, headers={"Retry-After": "3600"})
        return Response(good if request.args.get("p", "0") == "0" else b"[]", content_type="application/json")

    httpserver.expect_request("/api/daily_papers").respond_with_handler(handler)
    base = httpserver.url_for("/").rstrip("/")
    code, output = run_papers(tmp_path, "backfill", "--start", "2024-06-12", "--end", "2024-06-13",
                              PAPERS_API_BASE_URL=base)
    assert code == 3, output
    assert "\n  not fetched 2024-06-13: HTTP 503; the API asked to retry after 3600 s" in output
    assert "1 listing date(s) could not be fetched" in output
    warehouse = tmp_path / "warehouse.duckdb"
    assert query(warehouse, "select count(*) from marts.papers")[0][0] == 16  # the good date, published
    assert "published:  " in output and "unchanged" not in output
