"""Write–audit–publish: ``published/`` is swapped to a complete, read-only release as a whole.

Real DuckDB files in tmp_path, no Dagster. What is checked:
- the published DuckDB file and Parquet files hold the same rows (and column types) as the marts;
- every published file is read-only; the manifest's hashes and counts match the files;
- the DuckDB file is written in the v1.4.0 storage format (header version number 67, which DuckDB
  1.4/1.5 can open; duckdb 2.0's own format is refused by every 1.x);
- a second publish swaps the symlink, the previous release's bytes are untouched, readers that had
  it open keep reading it; ``keep`` prunes the oldest releases;
- a failed publish (missing table, failure at the swap, a type 1.x cannot read) leaves ``published/``
  byte-identical and no temporary folder or link behind; a real ``published/`` folder is refused.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.publish import (
    STORAGE_VERSION,
    STORAGE_VERSION_NUMBER,
    PublishError,
    current_release,
    publish,
    read_storage_version_number,
)

TABLES = ["marts.papers", "marts.authors", "marts.topics_daily"]


def _make_warehouse(path: Path, papers: int = 25) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema raw")
    con.execute(f"""
        create table marts.papers as
        select
            'p' || lpad(i::varchar, 4, '0')                                     as paper_id,
            case when i % 5 = 0 then null else '2510.' || lpad(i::varchar, 5, '0') end as arxiv_id,
            'Title ' || i || ' — ünïcødé'                                        as title,
            (date '2025-10-01' + (i % 7)::integer)                              as first_listed_on,
            timestamptz '2025-10-01 08:00:00+00' + i * interval 37 minute       as first_seen_at,
            (i * 1.5 / 7)::double                                               as upvote_velocity,
            (i * 3)::integer                                                    as upvotes,
            case when i % 4 = 0 then [] else ['llm', 'agents', 'k' || i] end   as ai_keywords,
            ['api']::varchar[]                                                  as sources
        from range({papers}) t(i)
    """)
    con.execute("""
        create table marts.authors as
        select 'Author ' || i as author, (i % 3)::integer as papers from range(9) t(i)
    """)
    con.execute("""
        create table marts.topics_daily as
        select date '2025-10-01' + (i // 3)::integer as listing_date,
               ['llm', 'vision', 'other'][i % 3 + 1] as topic,
               (i % 4)::integer as papers, (i / 10)::double as share
        from range(12) t(i)
    """)
    con.execute("create table raw.not_public as select 1 as x")
    con.close()
    return path


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    _make_warehouse(tmp_path / "warehouse.duckdb")
    return tmp_path


def _publish(home: Path, run_id: str = "run-0001-aaaa", **kw):
    kw.setdefault("tables", TABLES)
    return publish(home / "warehouse.duckdb", home / "published", run_id=run_id, **kw)


def _rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple]:
    return con.execute(f"select * from {relation} order by all").fetchall()


def _types(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"describe select * from {relation}").fetchall()]


def _tree_digest(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under root (links followed): relative path -> (mode, sha256)."""
    out = {}
    for path in sorted(root.resolve().rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root.resolve()))] = (
                path.stat().st_mode, hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return out


def _leftovers(home: Path) -> list[str]:
    hidden = [p.name for p in (home / "releases").glob(".building-*")]
    hidden += [p.name for p in (home / "releases").glob("*.spill")]
    hidden += [p.name for p in home.glob(".published-*")]
    return hidden


def _release_names(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "releases").iterdir() if not p.name.startswith("."))


# --------------------------------------------------------------------------------------------------


def test_publish_links_a_complete_release(home: Path):
    result = _publish(home)

    published = home / "published"
    assert published.is_symlink()
    assert not os.path.isabs(os.readlink(published)), "relative link: PAPERS_HOME can move"
    assert published.resolve() == result.release_dir.resolve()
    assert result.release_dir.parent == home / "releases"
    assert result.release_dir.name.endswith("-run-0001")
    assert result.tables == {"marts.papers": 25, "marts.authors": 9, "marts.topics_daily": 12}
    assert result.published_at.tzinfo is not None and result.published_at.utcoffset().total_seconds() == 0
    assert result.seconds > 0
    assert sorted(p.name for p in published.iterdir()) == [
        "README.md", "catalog.json", "manifest.json", "parquet", "warehouse.duckdb"]  # + the data dictionary
    assert sorted(p.name for p in (published / "parquet").iterdir()) == [
        "authors.parquet", "papers", "topics_daily.parquet",
    ]  # papers (it has paper_id and a listing date) partitioned by listing month, the others one file
    assert sorted(str(p.relative_to(published)) for p in (published / "parquet" / "papers").rglob("*")) == [
        "parquet/papers/listing_month=2025-10", "parquet/papers/listing_month=2025-10/data_0.parquet"]
    assert _leftovers(home) == []


def test_manifest_matches_files_and_current_release_reads_it(home: Path):
    assert current_release(home / "published") is None
    result = _publish(home)

    manifest = current_release(home / "published")
    assert manifest is not None
    assert manifest["run_id"] == "run-0001-aaaa"
    assert manifest["published_at"] == result.published_at.isoformat()
    assert manifest["published_at"].endswith("+00:00")
    assert manifest["release"] == result.release_dir.name
    assert Path(manifest["release_dir"]) == result.release_dir.resolve()
    assert manifest["duckdb"]["storage_version"] == STORAGE_VERSION
    assert set(manifest["tables"]) == set(TABLES)
    for table, entry in manifest["tables"].items():
        assert entry["rows"] == result.tables[table]
        files = sorted(str(p.relative_to(home / "published")) for p in (home / "published").glob(entry["parquet"]))
        assert sorted(entry["files"]) == files and files
        for path, f in entry["files"].items():
            assert f["sha256"] == hashlib.sha256((home / "published" / path).read_bytes()).hexdigest()
            assert f["bytes"] == (home / "published" / path).stat().st_size
            assert f["rows"] == pq.ParquetFile(home / "published" / path).metadata.num_rows
        assert sum(f["rows"] for f in entry["files"].values()) == entry["rows"]
    papers = manifest["tables"]["marts.papers"]
    assert papers["parquet"] == "parquet/papers/*/*.parquet"
    assert papers["partitioned_by"] == {"column": "listing_month", "month_of": "marts.papers.first_listed_on"}
    assert {k: p["rows"] for k, p in papers["partitions"].items()} == {"2025-10": 25}
    assert manifest["tables"]["marts.authors"]["parquet"] == "parquet/authors.parquet"
    db = home / "published" / "warehouse.duckdb"
    assert manifest["duckdb"]["sha256"] == hashlib.sha256(db.read_bytes()).hexdigest()


def test_published_duckdb_has_the_same_rows_and_types(home: Path):
    _publish(home)
    src = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    dst = duckdb.connect(str(home / "published" / "warehouse.duckdb"), read_only=True)
    try:
        for table in TABLES:
            assert _rows(dst, table) == _rows(src, table)
            assert _types(dst, table) == _types(src, table)
        assert {"DATE", "TIMESTAMP WITH TIME ZONE", "DOUBLE", "VARCHAR[]", "INTEGER"} <= {
            t for _, t in _types(dst, "marts.papers")
        }
        schemas = {r[0] for r in dst.execute(
            "select distinct schema_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()}
        assert schemas == {"marts"}, "only the listed tables are published"
    finally:
        src.close()
        dst.close()


def test_parquet_files_have_the_same_rows(home: Path):
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("update marts.papers set first_listed_on = first_listed_on - 40 where upvotes % 2 = 0")
    con.close()
    _publish(home)
    src = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        for table in TABLES:
            name = table.split(".")[1]
            partitioned = name == "papers"
            path = home / "published" / ("parquet/papers/*/*.parquet" if partitioned else f"parquet/{name}.parquet")
            via_duckdb = duckdb.connect()
            files = f"read_parquet('{path}', hive_partitioning = false)"  # the files hold the table's columns
            assert _rows(via_duckdb, files) == _rows(src, table)
            assert _types(via_duckdb, files) == _types(src, table)
            via_duckdb.close()
            arrow = pq.read_table(path.parent.parent if partitioned else path)  # a folder: Hive partitions
            assert arrow.num_rows == src.execute(f"select count(*) from {table}").fetchall()[0][0]
            assert arrow.column_names == [c for c, _ in _types(src, table)] + (["listing_month"] if partitioned else [])
    finally:
        src.close()
    papers = pq.read_table(home / "published" / "parquet" / "papers")
    assert str(papers.schema.field("first_seen_at").type) == "timestamp[us, tz=UTC]"
    assert str(papers.schema.field("ai_keywords").type).startswith("list<")
    # read with Hive partitioning, listing_month is the month of first_listed_on
    via_duckdb = duckdb.connect()
    months = via_duckdb.execute(
        f"select listing_month, count(*), bool_and(strftime(first_listed_on, '%Y-%m') = listing_month) from "
        f"read_parquet('{home / 'published' / 'parquet/papers/*/*.parquet'}', hive_partitioning = true) "
        "group by all order by all").fetchall()
    via_duckdb.close()
    assert months == [("2025-08", 13, True), ("2025-10", 12, True)]


def test_every_published_file_is_read_only(home: Path):
    _publish(home)
    files = [p for p in (home / "published").resolve().rglob("*") if p.is_file()]
    assert len(files) == 7  # DuckDB file, 3 Parquet files, manifest, catalog.json, README.md
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o444, path
    folders = [p for p in (home / "published").resolve().rglob("*") if p.is_dir()]
    assert len(folders) == 3  # parquet/, parquet/papers/, its one partition
    for path in folders:
        assert path.stat().st_mode & 0o777 == 0o555, path


def test_duckdb_file_uses_a_storage_format_duckdb_1x_reads(home: Path):
    """The header's version number is the one DuckDB v1.4.x writes (67, DuckDB's version_map.json),
    which DuckDB 1.4 and 1.5 accept; duckdb 2.0's default format has a number no 1.x accepts."""
    _publish(home)
    published_db = home / "published" / "warehouse.duckdb"
    assert read_storage_version_number(published_db) == STORAGE_VERSION_NUMBER == 67
    # The working warehouse (duckdb 2.0 default) is not in that format: the option made the difference.
    assert read_storage_version_number(home / "warehouse.duckdb") > 68
    con = duckdb.connect()
    con.execute(f"attach '{published_db}' as p (read_only)")
    tags = con.execute("select tags from duckdb_databases() where database_name = 'p'").fetchall()[0][0]
    con.close()
    assert tags["storage_version"].startswith("v1.4.0")


OLD_DUCKDB_PYTHON = os.environ.get("PAPERS_DUCKDB1X_PYTHON")


@pytest.mark.skipif(not OLD_DUCKDB_PYTHON, reason="PAPERS_DUCKDB1X_PYTHON: a python with duckdb 1.4/1.5")
def test_duckdb_1x_opens_the_published_file(home: Path):
    _publish(home)
    script = (
        "import duckdb, sys\n"
        "c = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(duckdb.__version__, c.execute('select count(*), count(distinct first_seen_at::varchar),"
        " sum(len(ai_keywords)) from marts.papers').fetchall())\n"
    )
    out = subprocess.run(
        [OLD_DUCKDB_PYTHON, "-c", script, str(home / "published" / "warehouse.duckdb")],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("1.") and "(25, 25, 54)" in out.stdout, out.stdout


def test_second_publish_swaps_and_leaves_the_first_release_untouched(home: Path):
    first = _publish(home, run_id="first-run")
    before = _tree_digest(first.release_dir)
    reader = duckdb.connect(str(home / "published" / "warehouse.duckdb"), read_only=True)

    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("insert into marts.authors values ('Newcomer', 1)")
    con.close()
    time.sleep(0.002)
    second = _publish(home, run_id="second-run")

    assert second.release_dir != first.release_dir
    assert (home / "published").resolve() == second.release_dir.resolve()
    assert second.tables["marts.authors"] == 10
    assert current_release(home / "published")["run_id"] == "second-run"
    assert _tree_digest(first.release_dir) == before, "the previous release is never modified"
    # A reader that opened the previous release keeps its consistent copy.
    assert reader.execute("select count(*) from marts.authors").fetchall() == [(9,)]
    reader.close()
    assert _release_names(home) == sorted([first.release_dir.name, second.release_dir.name])


def test_reader_of_a_pruned_release_keeps_reading(home: Path):
    _publish(home, run_id="first-run")
    reader = duckdb.connect(str(home / "published" / "warehouse.duckdb"), read_only=True)
    time.sleep(0.002)
    _publish(home, run_id="second-run", keep=1)
    assert len(_release_names(home)) == 1
    assert reader.execute("select count(*) from marts.papers").fetchall() == [(25,)]
    reader.close()


def test_keep_prunes_the_oldest_releases(home: Path):
    results = []
    for i in range(4):
        results.append(_publish(home, run_id=f"run-{i}", keep=2))
        time.sleep(0.002)
    names = [r.release_dir.name for r in results]
    assert _release_names(home) == names[-2:]
    assert (home / "published").resolve() == results[-1].release_dir.resolve()
    assert [p.name for p in results[2].pruned] == [names[0]]
    assert [p.name for p in results[3].pruned] == [names[1]]
    assert _leftovers(home) == []


def _assert_failed_publish_changed_nothing(home: Path, do_publish) -> PublishError:
    _publish(home, run_id="good-run")
    link_before = os.readlink(home / "published")
    digest_before = _tree_digest(home / "published")
    releases_before = _release_names(home)
    time.sleep(0.002)

    with pytest.raises(PublishError, match="left unchanged") as failed:
        do_publish()

    assert os.readlink(home / "published") == link_before
    assert _tree_digest(home / "published") == digest_before
    assert _release_names(home) == releases_before
    assert _leftovers(home) == []
    assert current_release(home / "published")["run_id"] == "good-run"
    return failed.value


def test_failed_publish_missing_table_leaves_published_identical(home: Path):
    err = _assert_failed_publish_changed_nothing(
        home, lambda: _publish(home, run_id="bad-run", tables=[*TABLES, "marts.does_not_exist"]),
    )
    assert "does_not_exist" in str(err)


def test_failure_at_the_swap_removes_the_built_release(home: Path, monkeypatch: pytest.MonkeyPatch):
    real_replace = os.replace

    def refuse_link_swap(src, dst, *a, **kw):
        if Path(dst) == home / "published":
            raise OSError("simulated failure at the swap")
        return real_replace(src, dst, *a, **kw)

    def attempt():
        monkeypatch.setattr(os, "replace", refuse_link_swap)
        try:
            _publish(home, run_id="bad-run")
        finally:
            monkeypatch.setattr(os, "replace", real_replace)

    err = _assert_failed_publish_changed_nothing(home, attempt)
    assert "simulated failure" in str(err)


def test_column_type_duckdb_1x_cannot_read_is_refused(home: Path):
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("create table marts.nanos as select now()::timestamptz_ns as at")
    con.close()
    err = _assert_failed_publish_changed_nothing(
        home, lambda: _publish(home, run_id="bad-run", tables=[*TABLES, "marts.nanos"]),
    )
    assert "marts.nanos.at TIMESTAMPTZ_NS" in str(err)


def test_first_publish_failing_creates_no_published_link(home: Path):
    with pytest.raises(PublishError):
        _publish(home, tables=["marts.nope"])
    assert not (home / "published").exists() and not (home / "published").is_symlink()
    assert _release_names(home) == [] and _leftovers(home) == []


def test_a_real_published_directory_is_refused_not_clobbered(home: Path):
    (home / "published").mkdir()
    (home / "published" / "mine.txt").write_text("hands off")
    with pytest.raises(PublishError, match="not the symlink"):
        _publish(home)
    assert (home / "published" / "mine.txt").read_text() == "hands off"
    assert not (home / "releases").exists()


def test_leftover_of_an_interrupted_publish_is_cleaned_up(home: Path):
    stale = home / "releases" / ".building-20000101T000000000000Z-killed"
    (stale / "parquet").mkdir(parents=True)
    (stale / "parquet" / "x.parquet").write_bytes(b"half")
    (stale / "parquet").chmod(0o555)
    _publish(home)
    assert not stale.exists()
    assert len(_release_names(home)) == 1


@pytest.mark.parametrize("tables", [["papers"], ["a.b.c"], ["marts.pa pers"], "marts.papers", []])
def test_bad_table_lists_are_rejected_before_touching_anything(home: Path, tables):
    with pytest.raises((ValueError, TypeError)):
        _publish(home, tables=tables)
    assert not (home / "releases").exists()


@pytest.mark.slow
def test_publish_one_million_rows_timing(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("""
        create table marts.papers as
        select 'p' || i as paper_id, 'A title about topic ' || (i % 977) || ' number ' || i as title,
               md5(i::varchar) || md5((i + 1)::varchar) as summary,
               date '2023-05-04' + (i % 900)::integer as first_listed_on,
               timestamptz '2023-05-04 00:00:00+00' + i * interval 7 second as first_seen_at,
               (i % 500)::integer as upvotes, random() as upvote_velocity,
               ['llm', 'k' || (i % 50)] as ai_keywords
        from range(1000000) t(i)
    """)
    con.close()
    result = publish(path, tmp_path / "published", tables=["marts.papers"], run_id="bulk-run")
    print(f"\npublish of 1M rows: {result.seconds:.2f}s", file=sys.stderr)
    assert result.tables == {"marts.papers": 1_000_000}
