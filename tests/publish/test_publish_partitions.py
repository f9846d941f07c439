"""Publish proportional to change: the tables of papers are Parquet folders partitioned by listing month.

Real DuckDB files in tmp_path, no Dagster. What is checked:
- a batch touching one month rewrites only that month's partition: every other partition's file is
  the previous release's (same inode, sha256 carried over); a month that only gained rows keeps its
  file and gets one more with the new rows (written anew once it has ``MAX_FILES``); the release
  reads back identical to the warehouse's tables (DuckDB file and Parquet, as multisets);
- a release published incrementally equals one published from scratch for the same warehouse
  (contents per table, the same partitions with the same rows);
- a table without its own listing date (``paper_topics``) is partitioned by its paper's month, and
  follows a paper whose listing date moves; rows without a date go to the NULL partition; a month
  that lost all its rows loses its folder; an empty table keeps one empty file;
- the DuckDB file's delta looks only at the changed partitions and stays exact;
- a publish told the load the previous release holds (and which its manifest records) reads only
  the rows of the papers observed after it (in the warehouse and in the previous release), and
  every row when a paper left a month no load touched or the manifest records another load; its
  release equals one published from scratch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from orchestration.publish import PublishError, prepare_copy, publish
from orchestration.publish import duckdb_file as duckdb_file_module
from orchestration.publish import releases as releases_module
from orchestration.publish.releases import prepared_copy
from orchestration.publish import parquet as parquet_module

TABLES = ["marts.papers", "marts.paper_observations", "marts.paper_topics", "marts.authors"]
MONTHS = ["2025-08", "2025-09", "2025-10"]


def _make_warehouse(path: Path, papers: int = 300) -> None:
    """Papers listed over three months, their observations (own listing date), their topics (no date:
    dated by their paper), and an aggregate (one file)."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(f"""
        create table marts.papers as
        select 'p' || lpad(i::varchar, 4, '0') as paper_id, 'Title ' || i as title,
               date '2025-08-01' + (i % 90)::integer as first_listed_on,
               (i * 3)::integer as upvotes, ['llm', 'k' || (i % 7)] as ai_keywords
        from range({papers}) t(i)
    """)
    con.execute("""
        create table marts.paper_observations as
        select paper_id, first_listed_on + j::integer as listing_date,
               timestamptz '2025-08-01 08:00:00+00' + (j * 24 + hash(paper_id) % 20) * interval 1 hour as captured_at,
               upvotes + j::integer as upvotes
        from marts.papers, range(2) t(j)
    """)
    con.execute("""
        create table marts.paper_topics as
        select paper_id, ['llm', 'vision'][j + 1] as topic, j = 0 as is_primary, (upvotes / 10.0)::double as score
        from marts.papers, range(2) t(j) where j = 0 or upvotes % 2 = 0
    """)
    con.execute("create table marts.authors as select 'Author ' || i as author, (i % 3)::integer as papers "
                "from range(20) t(i)")
    con.close()


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    _make_warehouse(tmp_path / "warehouse.duckdb")
    return tmp_path


def _publish(home: Path, run_id: str, published: str = "published", **kw):
    time.sleep(0.002)  # release names carry microseconds
    return publish(home / "warehouse.duckdb", home / published, tables=TABLES, run_id=run_id, **kw)


def _sql(home: Path, sql: str) -> None:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(sql)


def _files(result, table: str) -> dict[str, dict]:
    return result.manifest["tables"][table]["files"]


def _partition_files(result, table: str) -> dict[str, list[str]]:
    """partition -> its files, as the manifest lists them (and as they are on disk)."""
    entry = result.manifest["tables"][table]
    out: dict[str, list[str]] = {}
    for path, f in entry["files"].items():
        out.setdefault(f["partition"], []).append(path)
    on_disk = sorted(str(p.relative_to(result.release_dir)) for p in result.release_dir.glob(entry["parquet"]))
    assert sorted(entry["files"]) == on_disk
    return {k: sorted(v) for k, v in out.items()}


def _assert_release_is_the_warehouse(home: Path, release: Path) -> None:
    """Each table of the release (DuckDB file; Parquet files, each partition holding the rows of its
    month) equals the warehouse's, as multisets (EXCEPT ALL both ways)."""
    manifest = json.loads((release / "manifest.json").read_text())
    with duckdb.connect() as con:
        con.execute(f"attach '{home / 'warehouse.duckdb'}' as src (read_only)")
        con.execute(f"attach '{release / 'warehouse.duckdb'}' as p (read_only)")
        for table in TABLES:
            glob = release / manifest["tables"][table]["parquet"]
            for copy in (f"p.{table}", f"read_parquet('{glob}', hive_partitioning = false)"):
                diff = con.execute(
                    f"select count(*) from ((select * from src.{table} except all select * from {copy}) union all "
                    f"(select * from {copy} except all select * from src.{table}))").fetchall()[0][0]
                assert diff == 0, f"{table}: {copy} differs from the warehouse"
        months = {
            "marts.papers": "strftime(first_listed_on, '%Y-%m')",
            "marts.paper_observations": "strftime(listing_date, '%Y-%m')",
            "marts.paper_topics": "(select strftime(first_listed_on, '%Y-%m') from src.marts.papers p "
                                  "where p.paper_id = t.paper_id)",
        }
        for table, month in months.items():
            glob = release / manifest["tables"][table]["parquet"]
            wrong = con.execute(
                f"select count(*) from read_parquet('{glob}', hive_partitioning = true) t "
                f"where listing_month is distinct from {month}").fetchall()[0][0]
            assert wrong == 0, f"{table}: rows in another month's partition"


def _contents(release: Path) -> dict[str, dict]:
    """Per table: its rows (sorted) in the DuckDB file and per partition in the Parquet files."""
    manifest = json.loads((release / "manifest.json").read_text())
    out = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{release / 'warehouse.duckdb'}' as p (read_only)")
        for table in TABLES:
            entry = manifest["tables"][table]
            parts = {}
            for path, f in entry["files"].items():
                parts.setdefault(f.get("partition"), []).extend(
                    con.execute(f"select * from read_parquet('{release / path}') order by all").fetchall())
            out[table] = {
                "duckdb": con.execute(f"select * from p.{table} order by all").fetchall(),
                "parquet": {k: sorted(v) for k, v in parts.items()},
                "rows": entry["rows"], "fingerprint": entry["fingerprint"],
                "partitions": {k: (p["rows"], p["fingerprint"]) for k, p in entry.get("partitions", {}).items()},
            }
    return out


# --------------------------------------------------------------------------------------------------


def test_the_tables_of_papers_are_partitioned_by_listing_month(home: Path):
    result = _publish(home, "run-1")
    release = result.release_dir
    for table in ("marts.papers", "marts.paper_observations", "marts.paper_topics"):
        name = table.split(".")[1]
        entry = result.manifest["tables"][table]
        assert entry["parquet"] == f"parquet/{name}/*/*.parquet"
        assert set(_partition_files(result, table)) == set(entry["partitions"])
    assert set(result.manifest["tables"]["marts.papers"]["partitions"]) == set(MONTHS)
    assert set(result.manifest["tables"]["marts.paper_observations"]["partitions"]) == set(MONTHS)
    assert result.manifest["tables"]["marts.paper_topics"]["partitioned_by"] == {
        "column": "listing_month", "month_of": "marts.papers.first_listed_on"}
    assert list(_files(result, "marts.authors")) == ["parquet/authors.parquet"]  # an aggregate: one file
    _assert_release_is_the_warehouse(home, release)
    # polars reads the folder with its partition column, as the README shows
    papers = pl.scan_parquet(release / "parquet" / "papers").collect()
    assert papers.height == 300 and "listing_month" in papers.columns
    october = papers.filter(pl.col("listing_month") == "2025-10")
    assert october.height == 87 and october["first_listed_on"].dt.month().unique().to_list() == [10]


def test_a_batch_touching_one_month_rewrites_only_that_partition(home: Path):
    first = _publish(home, "run-1")
    # one new paper listed in October (its observation, its topic), one October paper's upvotes change
    _sql(home, """
        insert into marts.papers values ('n0001', 'New', date '2025-10-30', 1, ['new']);
        insert into marts.paper_observations values ('n0001', date '2025-10-30', timestamptz '2025-10-30 09:00:00+00', 1);
        insert into marts.paper_topics values ('n0001', 'llm', true, 0.1);
        update marts.papers set upvotes = upvotes + 100 where paper_id = 'p0065';
    """)
    second = _publish(home, "run-2")
    old, new = first.release_dir, second.release_dir

    def inode(release, paths):
        return [(release / path).stat().st_ino for path in paths]

    for table in ("marts.papers", "marts.paper_observations", "marts.paper_topics"):
        before, after = _partition_files(first, table), _partition_files(second, table)
        assert set(before) == set(after) == set(MONTHS)
        for month in ("2025-08", "2025-09"):  # untouched: the previous release's files
            assert inode(new, after[month]) == inode(old, before[month]), (table, month)
            assert all(_files(second, table)[p]["reused"] for p in after[month])
            assert [_files(second, table)[p]["sha256"] for p in after[month]] == [
                _files(first, table)[p]["sha256"] for p in before[month]]
    # October of papers had a row changed: written anew, one file
    papers = _partition_files(second, "marts.papers")["2025-10"]
    assert len(papers) == 1 and inode(new, papers) != inode(old, _partition_files(first, "marts.papers")["2025-10"])
    # October of observations and topics only gained a row: the previous file linked, one more with that row
    for table in ("marts.paper_observations", "marts.paper_topics"):
        (kept,), (then, added) = _partition_files(first, table)["2025-10"], _partition_files(second, table)["2025-10"]
        assert then == kept and inode(new, [then]) == inode(old, [kept])
        assert added.endswith("/data_1.parquet") and _files(second, table)[added]["rows"] == 1
        with duckdb.connect() as con:
            assert con.execute(f"select paper_id from read_parquet('{new / added}')").fetchall() == [("n0001",)]
    assert second.manifest["duckdb"]["made"] == "copied"
    assert second.manifest["duckdb"]["delta"] == {
        "marts.papers": {"deleted": 1, "inserted": 2}, "marts.paper_observations": {"deleted": 0, "inserted": 1},
        "marts.paper_topics": {"deleted": 0, "inserted": 1}}
    _assert_release_is_the_warehouse(home, new)


def test_rows_moving_month_with_their_paper_are_appended_to_the_month_that_gains_them(home: Path):
    """paper_topics keeps its fingerprint when a paper moves month: the month gaining its topics gets
    one more file (the previous one linked), the month losing them is written anew."""
    first = _publish(home, "run-1")
    _sql(home, "update marts.papers set first_listed_on = date '2025-10-03' where paper_id = 'p0040'")  # from Sept
    second = _publish(home, "run-2")
    topics = "marts.paper_topics"
    assert second.manifest["tables"][topics]["fingerprint"] == first.manifest["tables"][topics]["fingerprint"]
    (kept,), (then, added) = _partition_files(first, topics)["2025-10"], _partition_files(second, topics)["2025-10"]
    assert then == kept and (second.release_dir / then).stat().st_ino == (first.release_dir / kept).stat().st_ino
    assert _files(second, topics)[added]["rows"] == 2
    (september,) = _partition_files(second, topics)["2025-09"]
    assert not _files(second, topics)[september]["reused"]
    _assert_release_is_the_warehouse(home, second.release_dir)


def test_a_partition_that_only_gains_rows_is_compacted_after_max_files(home: Path):
    _publish(home, "run-0")
    for i in range(1, parquet_module.MAX_FILES + 1):
        _sql(home, f"insert into marts.paper_observations values ('p0001', date '2025-10-05', "
                   f"timestamptz '2025-10-05 09:00:00+00' + interval {i} minute, {i})")
        result = _publish(home, f"run-{i}")
        october = _partition_files(result, "marts.paper_observations")["2025-10"]
        assert len(october) == (i + 1 if i < parquet_module.MAX_FILES else 1), (i, october)
        _assert_release_is_the_warehouse(home, result.release_dir)


def test_a_file_gone_from_the_previous_release_is_written_anew(home: Path, caplog):
    """A month's file of the published release deleted by hand: the next publish, which would have
    appended to it, writes the month anew instead of failing at every run."""
    first = _publish(home, "run-1")
    (gone,) = _partition_files(first, "marts.paper_observations")["2025-10"]
    folder = (first.release_dir / gone).parent
    folder.chmod(0o755)
    (first.release_dir / gone).unlink()
    _sql(home, "insert into marts.paper_observations values "
               "('p0001', date '2025-10-05', timestamptz '2025-10-05 09:00:00+00', 5)")
    second = _publish(home, "run-2")
    assert _partition_files(second, "marts.paper_observations")["2025-10"] == [gone]  # one file, all rows
    assert not _files(second, "marts.paper_observations")[gone]["reused"]
    assert "cannot be read" in caplog.text and "2025-10" in caplog.text
    _assert_release_is_the_warehouse(home, second.release_dir)


def test_an_incremental_release_equals_one_published_from_scratch(home: Path):
    _publish(home, "run-1")
    _sql(home, """
        update marts.papers set upvotes = upvotes + 1 where paper_id in ('p0001', 'p0050');
        update marts.papers set first_listed_on = date '2025-10-15' where paper_id = 'p0002';  -- moves month
        update marts.papers set first_listed_on = date '2024-12-31' where paper_id = 'p0004';  -- a new December
        delete from marts.papers where first_listed_on between date '2025-09-01' and date '2025-09-30';
        delete from marts.paper_topics where paper_id not in (select paper_id from marts.papers);
        insert into marts.paper_observations values ('p0003', null, timestamptz '2025-09-01 00:00:00+00', 7);
        insert into marts.authors values ('Newcomer', 1);
    """)
    incremental = _publish(home, "run-2")
    from_scratch = _publish(home, "run-2", published="published_fresh")
    assert from_scratch.manifest["duckdb"]["made"] == "written"
    assert incremental.manifest["duckdb"]["made"] == "copied"
    assert _contents(incremental.release_dir) == _contents(from_scratch.release_dir)
    _assert_release_is_the_warehouse(home, incremental.release_dir)
    papers = incremental.manifest["tables"]["marts.papers"]
    assert set(papers["partitions"]) == {"2024-12", "2025-08", "2025-10"}  # September lost all its papers: no folder
    assert not (incremental.release_dir / "parquet/papers/listing_month=2025-09").exists()
    # a paper moved to another month takes its topics along; an observation without a date is NULL's
    topics = [str(incremental.release_dir / p) for p in _partition_files(incremental, "marts.paper_topics")["2025-10"]]
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) from read_parquet({topics}) where paper_id = 'p0002'").fetchall() == [(2,)]
        glob = incremental.release_dir / "parquet/paper_observations/*/*.parquet"
        assert con.execute(f"select listing_month, upvotes from read_parquet('{glob}', hive_partitioning = true) "
                           "where listing_date is null").fetchall() == [(None, 7)]


def test_an_empty_partitioned_table_keeps_one_empty_file(home: Path):
    _publish(home, "run-1")
    _sql(home, "delete from marts.paper_topics")
    second = _publish(home, "run-2")
    assert _partition_files(second, "marts.paper_topics") == {
        "__HIVE_DEFAULT_PARTITION__": ["parquet/paper_topics/listing_month=__HIVE_DEFAULT_PARTITION__/data_0.parquet"]}
    glob = second.release_dir / "parquet/paper_topics/*/*.parquet"
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) from read_parquet('{glob}', hive_partitioning = true)").fetchall() == [(0,)]
        columns = [r[0] for r in con.execute(f"describe select * from read_parquet('{glob}')").fetchall()]
    assert columns == ["paper_id", "topic", "is_primary", "score", "listing_month"]
    _sql(home, "insert into marts.paper_topics values ('p0001', 'llm', true, 1.0)")
    third = _publish(home, "run-3")
    assert set(_partition_files(third, "marts.paper_topics")) == {"2025-08"}
    _assert_release_is_the_warehouse(home, third.release_dir)


def test_a_paper_listed_twice_cannot_date_its_topics(home: Path):
    _publish(home, "run-1")
    before = (home / "published").resolve()
    _sql(home, "insert into marts.papers select * replace (date '2025-09-01' as first_listed_on) "
               "from marts.papers where paper_id = 'p0001'")
    with pytest.raises(PublishError, match="paper_topics: a paper_id occurs twice in marts.papers"):
        _publish(home, "run-2")
    assert (home / "published").resolve() == before


@pytest.mark.parametrize("order", ["clustered", "scattered"])
def test_months_are_exported_by_the_cheaper_way_with_the_same_files(tmp_path: Path, monkeypatch, order: str):
    """Months lying together in the table: one COPY each (DuckDB skips the other months' vectors);
    months scattered through it: one COPY … PARTITION_BY. The release holds the same rows."""
    _make_warehouse(tmp_path / "warehouse.duckdb", papers=9000)
    sort = "first_listed_on, paper_id" if order == "clustered" else "hash(paper_id)"
    _sql(tmp_path, f"create or replace table marts.papers as select * from marts.papers order by {sort}")
    copies = []
    real = parquet_module._copy
    monkeypatch.setattr(parquet_module, "_copy", lambda con, query, building, path, *a: (
        copies.append(path), real(con, query, building, path, *a))[1])
    result = _publish(tmp_path, "run-1")
    papers = [p for p in copies if p.startswith("parquet/papers/")]
    assert len(papers) == (3 if order == "clustered" else 0)
    assert set(_partition_files(result, "marts.papers")) == set(MONTHS)
    _assert_release_is_the_warehouse(tmp_path, result.release_dir)


def test_a_publish_waits_for_another_one_a_bounded_time(home: Path, monkeypatch):
    import fcntl

    from orchestration.publish import releases

    _publish(home, "run-1")
    monkeypatch.setattr(releases, "LOCK_WAIT_SECONDS", 0.3)
    with open(home / "releases" / ".publish.lock", "a+") as held:  # another publisher holds the lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(PublishError, match="another publish has held .* for over 0 s"):
            _publish(home, "run-2")
    _publish(home, "run-3")  # released: the next one goes through


def _observed(home: Path, load_id: str, papers: list[str] | None = None) -> None:
    """The change ledger's view of the warehouse: ``papers`` (default: all) observed in load ``load_id``."""
    _sql(home, "create schema if not exists intermediate; create table if not exists "
               "intermediate.int_paper_observations (paper_id varchar, _dlt_load_id varchar)")
    where = "true" if papers is None else "paper_id in (" + ", ".join(f"'{p}'" for p in papers) + ")"
    _sql(home, f"insert into intermediate.int_paper_observations select paper_id, '{load_id}' "
               f"from marts.papers where {where}")


def test_a_publish_since_a_load_reads_only_the_rows_of_the_papers_observed_after_it(home: Path):
    _observed(home, "1")
    _publish(home, "run-1", holds="1")
    _publish(home, "run-1", published="published_other", holds="0")
    # p0001 (August) gains upvotes and an observation in load 2; p0002 moves from August to October
    # and a new paper n0001 is listed in October (rows added only: October's files get one more)
    _sql(home, """
        update marts.papers set upvotes = upvotes + 5 where paper_id = 'p0001';
        update marts.papers set first_listed_on = date '2025-10-20' where paper_id = 'p0002';
        insert into marts.papers values ('n0001', 'New', date '2025-10-30', 1, ['new']);
        insert into marts.paper_topics values ('n0001', 'llm', true, 0.1);
    """)
    _observed(home, "2", ["p0001", "p0002", "n0001"])
    # a row of a September paper changed without any load (as no incremental build does): the
    # narrowed publish does not read September, so it stays as published
    _sql(home, "update marts.paper_observations set upvotes = upvotes + 100 where paper_id = 'p0030'")
    narrowed = _publish(home, "run-2", since="1", holds="2")
    assert narrowed.manifest["loaded_through"] == "2"
    full = _publish(home, "run-2", published="published_full")
    # a release that records another load than the one the ledger says it holds is read whole
    other = _publish(home, "run-2", published="published_other", since="1")
    assert _contents(other.release_dir) == _contents(full.release_dir)
    for table in ("marts.papers", "marts.paper_topics"):
        assert _contents(narrowed.release_dir)[table] == _contents(full.release_dir)[table]
    papers = narrowed.manifest["tables"]["marts.papers"]["partitions"]
    assert not papers["2025-08"]["reused"] and papers["2025-09"]["reused"]
    observations = narrowed.manifest["tables"]["marts.paper_observations"]["partitions"]
    assert observations["2025-09"]["reused"]
    kept, added = _partition_files(narrowed, "marts.papers")["2025-10"]  # October gained p0002 and n0001
    assert _files(narrowed, "marts.papers")[kept]["reused"] and _files(narrowed, "marts.papers")[added]["rows"] == 2
    assert narrowed.manifest["duckdb"]["delta"]["marts.papers"] == {"deleted": 2, "inserted": 3}
    assert observations["2025-09"]["fingerprint"] != \
        full.manifest["tables"]["marts.paper_observations"]["partitions"]["2025-09"]["fingerprint"]


def test_a_paper_gone_from_a_month_no_load_touched_makes_the_publish_read_every_row(home: Path):
    _observed(home, "1")
    _publish(home, "run-1", holds="1")
    # a paper merged into another (its old id vanishes from a month of no new observation) and a new one
    _sql(home, """
        delete from marts.paper_topics where paper_id = 'p0040';
        delete from marts.paper_observations where paper_id = 'p0040';
        delete from marts.papers where paper_id = 'p0040';
        update marts.papers set upvotes = upvotes + 1 where paper_id = 'p0001';
    """)
    _observed(home, "2", ["p0001"])
    narrowed = _publish(home, "run-2", since="1", holds="2")
    full = _publish(home, "run-2", published="published_full")
    assert _contents(narrowed.release_dir) == _contents(full.release_dir)
    _assert_release_is_the_warehouse(home, narrowed.release_dir)


def test_a_copy_prepared_while_the_marts_are_built_is_the_one_the_publish_patches(home: Path):
    assert prepare_copy(home / "published") is None  # nothing published yet
    first = _publish(home, "run-1")
    prepared = prepare_copy(home / "published")
    assert prepared == prepared_copy(home / "published", first.release_dir.name)
    assert prepared.read_bytes() == (first.release_dir / "warehouse.duckdb").read_bytes()
    assert prepare_copy(home / "published") == prepared  # one per release: kept, not copied again
    # a publish that copied the file itself would leave the prepared copy behind: it takes it
    copied = []
    original = releases_module.copy_file
    with pytest.MonkeyPatch.context() as patch:
        for module in (releases_module, duckdb_file_module):
            patch.setattr(module, "copy_file", lambda *a: copied.append(a) or original(*a))
        _sql(home, "update marts.papers set upvotes = upvotes + 1 where paper_id = 'p0007'")
        second = _publish(home, "run-2")
    assert copied == [] and not prepared.exists()
    assert second.manifest["duckdb"]["made"] == "copied"
    _assert_release_is_the_warehouse(home, second.release_dir)
    # a copy of a release that is no longer the published one is never used, and the next publish removes it
    stale = prepared_copy(home / "published", first.release_dir.name)
    stale.write_bytes((first.release_dir / "warehouse.duckdb").read_bytes())
    _sql(home, "update marts.papers set upvotes = upvotes + 1 where paper_id = 'p0008'")
    third = _publish(home, "run-3")
    assert not stale.exists()
    _assert_release_is_the_warehouse(home, third.release_dir)


def test_two_copies_prepared_at_once_leave_one_whole_copy(tmp_path: Path):
    """The dbt step's copy may still run when the publish starts its own: each writes its own part
    file, and the prepared copy is a whole copy of the published file."""
    import filecmp
    import os
    import threading

    release = tmp_path / "releases" / "r1"
    release.mkdir(parents=True)
    source = release / releases_module.DUCKDB_FILE
    source.write_bytes(os.urandom(64 << 20))
    published = tmp_path / "published"
    published.symlink_to(release)
    for _ in range(3):
        prepared_copy(published, "r1").unlink(missing_ok=True)
        start = threading.Barrier(2)
        results: list = []
        threads = [threading.Thread(target=lambda: (start.wait(), results.append(prepare_copy(published))))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [prepared_copy(published, "r1")] * 2
        assert filecmp.cmp(prepared_copy(published, "r1"), source, shallow=False)
        assert sorted(p.name for p in release.parent.iterdir()) == [prepared_copy(published, "r1").name, "r1"]
