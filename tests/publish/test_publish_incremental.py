"""Incremental publish: a new release reuses what did not change in the previous one.

Real DuckDB files in tmp_path, no Dagster. What is checked:
- an unchanged mart's Parquet file is hard-linked (same inode) from the previous release and its
  manifest hash carried over; a changed mart's file is rewritten and holds the new rows;
- the DuckDB file of an incremental publish (a copy of the previous one, changed tables patched by
  a row delta or replaced) holds exactly the warehouse's marts (EXCEPT both ways), opens read-only
  and keeps the v1.4.0 storage format; it does not grow over many publishes;
- the previous release's files are never modified; a failure in the middle of an incremental
  publish leaves ``published`` byte-identical;
- fingerprints see changes DuckDB's plain ``hash`` of lists would miss, duplicate rows, column changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import duckdb
import pytest

import orchestration.publish as pub
from orchestration.publish import (
    STORAGE_VERSION_NUMBER,
    PublishError,
    current_release,
    duckdb_file,
    publish,
    read_storage_version_number,
)

from tests.publish.test_publish import TABLES, _make_warehouse, _tree_digest

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    _make_warehouse(tmp_path / "warehouse.duckdb", papers=400)
    return tmp_path


def _publish(home: Path, run_id: str, tables=TABLES, **kw):
    time.sleep(0.002)  # release names carry microseconds
    return publish(home / "warehouse.duckdb", home / "published", tables=tables, run_id=run_id, **kw)


def _sql(home: Path, sql: str) -> None:
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        con.execute(sql)
    finally:
        con.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_same_contents(home: Path, release: Path, tables=TABLES) -> None:
    """Every published table equals the warehouse's, as multisets (EXCEPT ALL both ways)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{home / 'warehouse.duckdb'}' as src (read_only)")
        con.execute(f"attach '{release / 'warehouse.duckdb'}' as p (read_only)")
        for table in tables:
            for a, b in (("src", "p"), ("p", "src")):
                diff = con.execute(
                    f"select count(*) from (select * from {a}.{table} except all select * from {b}.{table})"
                ).fetchall()[0][0]
                assert diff == 0, f"{table}: {diff} rows in {a} missing from {b}"
            for a, b in (("src." + table, _read_parquet(release, table)),):
                diff = con.execute(
                    f"select count(*) from ((select * from {a} except all select * from {b}) union all "
                    f"(select * from {b} except all select * from {a}))"
                ).fetchall()[0][0]
                assert diff == 0, f"{table}: parquet differs from the warehouse"
        published = {f"{s}.{t}" for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'p'").fetchall()}
        assert published == set(tables)
    finally:
        con.close()


def _read_parquet(release: Path, table: str) -> str:
    """The table's Parquet files (a file or a glob over partitions, as the manifest says), as stored."""
    entry = json.loads((release / "manifest.json").read_text())["tables"][table]
    return f"read_parquet('{release / entry['parquet']}', hive_partitioning = false)"


def _parquet_files(release: Path, table: str) -> dict[str, dict]:
    return json.loads((release / "manifest.json").read_text())["tables"][table]["files"]


def _inode(path: Path) -> int:
    return path.stat().st_ino


# --------------------------------------------------------------------------------------------------


def test_unchanged_mart_is_hard_linked_and_its_hash_carried_over(home: Path):
    first = _publish(home, "run-1")
    _sql(home, "update marts.papers set upvotes = upvotes + 1 where paper_id = 'p0007'")
    second = _publish(home, "run-2")

    old, new = first.release_dir, second.release_dir
    for name in ("authors", "topics_daily"):  # unchanged
        path = f"parquet/{name}.parquet"
        assert _inode(new / path) == _inode(old / path)
        entry = second.manifest["tables"][f"marts.{name}"]
        assert entry["reused"] is True and entry["files"][path]["reused"] is True
        assert entry["files"][path]["sha256"] == first.manifest["tables"][f"marts.{name}"]["files"][path]["sha256"]
        assert entry["files"][path]["sha256"] == _sha(new / path)
    # the changed one (its one partition) is a new file with the new rows
    path = "parquet/papers/listing_month=2025-10/data_0.parquet"
    assert _inode(new / path) != _inode(old / path)
    assert second.manifest["tables"]["marts.papers"]["reused"] is False
    assert second.manifest["tables"]["marts.papers"]["files"][path]["sha256"] == _sha(new / path)
    con = duckdb.connect()
    assert con.execute(
        f"select upvotes from read_parquet('{new / path}') where paper_id = 'p0007'"
    ).fetchall() == [(22,)]
    con.close()
    assert second.manifest["duckdb"]["made"] == "copied"
    assert second.manifest["duckdb"]["delta"] == {"marts.papers": {"deleted": 1, "inserted": 1}}
    assert second.manifest["duckdb"]["sha256"] == _sha(new / "warehouse.duckdb")
    _assert_same_contents(home, new)


def test_incremental_duckdb_file_holds_exactly_the_warehouse_marts(home: Path):
    first = _publish(home, "run-1")
    before = _tree_digest(first.release_dir)
    _sql(home, """
        update marts.papers set upvotes = upvotes + 5, ai_keywords = ['changed'] where paper_id < 'p0010';
        delete from marts.papers where paper_id in ('p0100', 'p0101');
        insert into marts.papers select 'n' || i, null, 'new ' || i, date '2025-11-01',
               timestamptz '2025-11-01 00:00:00+00', 0.5, i, ['x'], ['api'] from range(30) t(i);
        insert into marts.authors values ('Newcomer', 1);
        delete from marts.topics_daily;
    """)
    second = _publish(home, "run-2")

    db = second.release_dir / "warehouse.duckdb"
    assert read_storage_version_number(db) == STORAGE_VERSION_NUMBER
    assert db.stat().st_mode & 0o777 == 0o444
    assert not Path(f"{db}.wal").exists()
    _assert_same_contents(home, second.release_dir)
    reader = duckdb.connect(str(db), read_only=True)
    assert reader.execute("select count(*) from marts.papers").fetchall() == [(428,)]
    assert reader.execute("select count(*) from marts.topics_daily").fetchall() == [(0,)]
    reader.close()
    assert _tree_digest(first.release_dir) == before, "the previous release is never modified"
    assert second.tables == {"marts.papers": 428, "marts.authors": 10, "marts.topics_daily": 0}


def test_many_small_publishes_keep_the_file_size_bounded(home: Path):
    first = _publish(home, "run-0")
    fresh = first.manifest["duckdb"]["bytes"]
    for i in range(1, 9):
        _sql(home, f"""
            update marts.papers set upvotes = upvotes + 1 where paper_id in ('p{i:04d}', 'p{i + 50:04d}');
            insert into marts.authors values ('Author new {i}', {i});
        """)
        result = _publish(home, f"run-{i}")
        assert result.manifest["duckdb"]["made"] == "copied"
    _assert_same_contents(home, result.release_dir)
    assert result.manifest["duckdb"]["bytes"] <= 2 * fresh
    assert result.manifest["duckdb"]["free_blocks"] <= result.manifest["duckdb"]["total_blocks"] * duckdb_file.MAX_FREE_FRACTION


def test_nothing_changed_links_every_file(home: Path):
    first = _publish(home, "run-1")
    second = _publish(home, "run-2")
    old, new = first.release_dir, second.release_dir
    files = [path for t in TABLES for path in _parquet_files(new, t)]
    assert len(files) == len(TABLES)
    for rel in ["warehouse.duckdb", *files]:
        assert _inode(new / rel) == _inode(old / rel), rel
    assert second.manifest["duckdb"]["made"] == "linked"
    assert second.manifest["duckdb"]["sha256"] == first.manifest["duckdb"]["sha256"]
    assert current_release(home / "published")["run_id"] == "run-2"
    # pruning the first release leaves the second one's (shared) files in place
    third = _publish(home, "run-3", keep=1)
    assert not old.exists()
    assert _sha(third.release_dir / "warehouse.duckdb") == first.manifest["duckdb"]["sha256"]
    _assert_same_contents(home, third.release_dir)


def test_a_big_change_replaces_the_table(home: Path):
    _publish(home, "run-1")
    _sql(home, "update marts.papers set upvotes = upvotes + 1")
    second = _publish(home, "run-2")
    assert second.manifest["duckdb"]["replaced"] == ["marts.papers"]
    assert second.manifest["duckdb"]["delta"] == {}
    _assert_same_contents(home, second.release_dir)


def test_duplicate_rows_and_column_changes_are_published_exactly(home: Path):
    _publish(home, "run-1")
    _sql(home, """
        insert into marts.authors select * from marts.authors where author = 'Author 1';
        alter table marts.topics_daily add column note varchar;
        update marts.topics_daily set note = 'n' where papers = 1;
    """)
    second = _publish(home, "run-2")
    assert set(second.manifest["duckdb"]["replaced"]) == {"marts.authors", "marts.topics_daily"}
    _assert_same_contents(home, second.release_dir)
    con = duckdb.connect(str(second.release_dir / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from marts.authors where author = 'Author 1'").fetchall() == [(2,)]
    assert "note" in [r[0] for r in con.execute("describe marts.topics_daily").fetchall()]
    con.close()


def _assert_update_changes_the_fingerprint(home: Path, table: str, update: str) -> None:
    """Publish with ``table``, apply ``update``, publish again: the table's fingerprint differs and
    the second release equals the warehouse."""
    tables = [*TABLES, table]
    first = _publish(home, "run-1", tables=tables)
    _sql(home, update)
    second = _publish(home, "run-2", tables=tables)
    fingerprints = [r.manifest["tables"][table]["fingerprint"] for r in (first, second)]
    assert fingerprints[0] != fingerprints[1]
    _assert_same_contents(home, second.release_dir, tables)


def test_moving_list_elements_between_columns_is_a_change(home: Path):
    """DuckDB's hash of (['a','b'], ['c']) equals that of (['a'], ['b','c']): a list is hashed with its length."""
    _sql(home, "create table marts.lists as select ['a', 'b'] as x, ['c'] as y")
    _assert_update_changes_the_fingerprint(home, "marts.lists", "update marts.lists set x = ['a'], y = ['b', 'c']")


def test_two_rows_making_the_same_change_of_their_last_column_are_a_change(home: Path):
    """A row hash is hash(other columns) XOR hash(last column): two rows flipping the same boolean
    change a plain sum of row hashes by amounts that can cancel out. The pair is searched for among
    20k ids with that plain sum; the fingerprint must still see the change."""
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        (a, b), = con.execute("""
            with d as (
                select 'p' || lpad(i::varchar, 5, '0') as id,
                       hash('p' || lpad(i::varchar, 5, '0'), true)::hugeint
                       - hash('p' || lpad(i::varchar, 5, '0'), false)::hugeint as delta
                from range(20000) t(i))
            select d1.id, d2.id from d as d1 join d as d2 on d1.delta = -d2.delta and d1.id < d2.id
            order by 1, 2 limit 1""").fetchall()
        con.execute(f"create table marts.flags as select id, false as flag from (values ('{a}'), ('{b}'), ('p99999')) v(id)")
        plain = "select sum(hash(id, flag)::hugeint) from marts.flags"
        before = con.execute(plain).fetchall()
        con.execute("create table marts.flags_flipped as select id, id <> 'p99999' as flag from marts.flags")
        assert con.execute(plain.replace("marts.flags", "marts.flags_flipped")).fetchall() == before  # the trap
        con.execute("drop table marts.flags_flipped")
    finally:
        con.close()
    _assert_update_changes_the_fingerprint(home, "marts.flags", "update marts.flags set flag = true where id <> 'p99999'")


def test_a_table_no_longer_published_leaves_the_copied_file(home: Path):
    _sql(home, "create schema extra; create table extra.t as select 1 as x")
    _publish(home, "run-1", tables=[*TABLES, "extra.t"])
    second = _publish(home, "run-2")  # same data, fewer tables: the previous file is copied, not linked
    assert second.manifest["duckdb"]["made"] == "copied"
    _assert_same_contents(home, second.release_dir)
    con = duckdb.connect(str(second.release_dir / "warehouse.duckdb"), read_only=True)
    schemas = {r[0] for r in con.execute(
        "select schema_name from duckdb_schemas() where database_name = current_database() and not internal"
    ).fetchall()}
    con.close()
    assert "extra" not in schemas


def test_a_newly_published_table_is_added_to_the_copied_file(home: Path):
    first = _publish(home, "run-1")
    _sql(home, "create table marts.fresh as select 'a' as k, 1 as v")
    second = _publish(home, "run-2", tables=[*TABLES, "marts.fresh"])
    assert second.manifest["duckdb"]["made"] == "copied"
    assert second.manifest["duckdb"]["replaced"] == ["marts.fresh"]
    papers = [r.release_dir / "parquet/papers/listing_month=2025-10/data_0.parquet" for r in (first, second)]
    assert _inode(papers[0]) == _inode(papers[1])
    _assert_same_contents(home, second.release_dir, [*TABLES, "marts.fresh"])


def test_release_of_an_older_scheme_is_not_reused(home: Path):
    first = _publish(home, "run-1")
    manifest_path = first.release_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["fingerprint_scheme"] = "something-else"
    first.release_dir.chmod(0o755)
    manifest_path.chmod(0o644)
    manifest_path.write_text(json.dumps(manifest))
    second = _publish(home, "run-2")
    assert second.manifest["duckdb"]["made"] == "written"
    assert not any(e["reused"] for e in second.manifest["tables"].values())
    _assert_same_contents(home, second.release_dir)


@pytest.mark.parametrize("owner, where", [
    (duckdb_file, "_apply_delta"), (duckdb_file, "_checkpoint"), (pub, "audit_release"), (pub, "write_manifest"),
], ids=["apply_delta", "checkpoint", "audit", "write_manifest"])
def test_failure_mid_incremental_publish_leaves_published_identical(
    home: Path, monkeypatch: pytest.MonkeyPatch, owner, where: str,
):
    first = _publish(home, "good-run")
    link_before = os.readlink(home / "published")
    digest_before = _tree_digest(home / "published")
    _sql(home, "update marts.papers set upvotes = upvotes + 1 where paper_id = 'p0001'")

    real = getattr(owner, where)

    def boom(*a, **kw):
        real(*a, **kw)
        raise OSError(f"simulated failure in {where}")

    monkeypatch.setattr(owner, where, boom)
    with pytest.raises(PublishError, match="left unchanged"):
        _publish(home, "bad-run")
    monkeypatch.setattr(owner, where, real)

    assert os.readlink(home / "published") == link_before
    assert _tree_digest(home / "published") == digest_before
    assert [p.name for p in (home / "releases").iterdir() if not p.name.startswith(".")] == [first.release_dir.name]
    assert not list((home / "releases").glob(".building-*")) and not list((home / "releases").glob("*.spill"))
    # and the next publish works from the untouched release
    third = _publish(home, "next-run")
    _assert_same_contents(home, third.release_dir)


OLD_DUCKDB_PYTHON = os.environ.get("PAPERS_DUCKDB1X_PYTHON")


@pytest.mark.skipif(not OLD_DUCKDB_PYTHON, reason="PAPERS_DUCKDB1X_PYTHON: a python with duckdb 1.4/1.5")
def test_duckdb_1x_opens_a_patched_file(home: Path):
    """duckdb 2.0 patching a copied v1.4.0 file keeps it readable by DuckDB 1.4."""
    import subprocess

    _publish(home, "run-1")
    _sql(home, """
        update marts.papers set upvotes = upvotes + 1, ai_keywords = ['patched'] where paper_id < 'p0020';
        insert into marts.papers select 'n' || i, null, 'new', date '2025-11-01',
               timestamptz '2025-11-01 00:00:00+00', 0.5, i, ['x'], ['api'] from range(5) t(i);
    """)
    second = _publish(home, "run-2")
    assert second.manifest["duckdb"]["made"] == "copied"
    script = (
        "import duckdb, sys\n"
        "c = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(duckdb.__version__, c.execute(\"select count(*), count(*) filter (where ai_keywords = ['patched']),"
        " sum(upvotes) from marts.papers\").fetchall())\n"
    )
    out = subprocess.run([OLD_DUCKDB_PYTHON, "-c", script, str(second.release_dir / "warehouse.duckdb")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    expected = con.execute("select count(*), count(*) filter (where ai_keywords = ['patched']),"
                           " sum(upvotes) from marts.papers").fetchall()
    con.close()
    assert out.stdout.startswith("1.") and str(expected) in out.stdout, (out.stdout, expected)


def test_a_corrupt_duckdb_file_of_the_published_release_does_not_stop_publishing(home: Path, caplog):
    """The previous release's DuckDB file damaged where its size does not show (every block after the
    headers overwritten): the next publish writes every file anew, with a warning, instead of failing
    — and every publish after it."""
    first = _publish(home, "run-1")
    damaged = first.release_dir / "warehouse.duckdb"
    damaged.chmod(0o644)
    size = damaged.stat().st_size
    with damaged.open("r+b") as file:
        file.seek(3 * 4096)
        file.write(b"\xa5" * (size - 3 * 4096))
    assert damaged.stat().st_size == size
    _sql(home, "update marts.papers set upvotes = upvotes + 1 where paper_id = 'p0001'")
    with caplog.at_level("WARNING", logger="orchestration.publish"):
        second = _publish(home, "run-2")
    assert f"the published release {first.release_dir.name} could not be reused" in caplog.text
    assert "damaged: warehouse.duckdb)" in caplog.text
    assert second.manifest["duckdb"]["made"] == "written"
    _assert_same_contents(home, second.release_dir)
    _sql(home, "update marts.papers set upvotes = upvotes + 1 where paper_id = 'p0002'")
    third = _publish(home, "run-3")
    assert third.manifest["duckdb"]["made"] == "copied"
    _assert_same_contents(home, third.release_dir)


def test_a_duckdb_error_with_the_published_release_intact_is_not_retried(home: Path, monkeypatch):
    """Only a release whose files no longer match their sha256 is built anew: any other DuckDB
    error (a bug in the delta, a lock) fails the publish as it is."""
    _publish(home, "run-1")
    _sql(home, "update marts.papers set upvotes = upvotes + 1 where paper_id = 'p0001'")

    def broken(*a, **kw):
        raise duckdb.BinderException("simulated bug in the delta")

    monkeypatch.setattr(duckdb_file, "_apply_delta", broken)
    with pytest.raises(PublishError, match="simulated bug in the delta"):
        _publish(home, "run-2")
