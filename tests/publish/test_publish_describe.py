"""The published release describes itself: comments in the DuckDB file, Parquet metadata, a data
dictionary and the `quality` schema — in every release, including files reused from the previous one.

Reads the demo release built once per session (`demo_home`: the real October 2025 month plus one
malformed file); descriptions are compared with dbt's manifest read directly here.
"""

from __future__ import annotations

import hashlib
import json

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.project import PUBLIC_MARTS
from orchestration.publish import publish
from orchestration.publish.describe import load_docs
from orchestration.publish.quality import VIEWS
from tests.conftest import DEMO_BAD_FILE, copy_home
from tests.pipeline_runs import REPO

MANIFEST = REPO / "dbt_project" / "target" / "manifest.json"


def dbt_docs() -> dict[str, dict]:
    """schema.table -> {"description", "columns": {name: description}} straight from manifest.json."""
    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    return {f"{n['schema']}.{n['name']}": {"description": n["description"].strip(),
                                          "columns": {c: v["description"].strip() for c, v in n["columns"].items()}}
            for n in nodes if n["resource_type"] == "model" and n["schema"] in ("marts", "quality")}


def comments(db_path):
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = dict(((f"{s}.{t}"), c) for s, t, c in con.execute(
            "select schema_name, table_name, comment from duckdb_tables()").fetchall())
        columns = {(f"{s}.{t}", c): d for s, t, c, d in con.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns() "
            "where schema_name in ('marts', 'quality')").fetchall()}
    return tables, columns


def assert_described(release):
    docs = dbt_docs()
    tables, columns = comments(release / "warehouse.duckdb")
    with duckdb.connect(str(release / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_columns() where schema_name = 'marts' "
                           "and comment is null").fetchall() == [(0,)]
        assert con.execute("select count(*) from duckdb_columns() where schema_name = 'quality' "
                           "and comment is null").fetchall() == [(0,)]
    manifest = json.loads((release / "manifest.json").read_text())
    for mart in PUBLIC_MARTS:
        q = f"marts.{mart}"
        assert tables[q] == docs[q]["description"]
        for column, text in docs[q]["columns"].items():
            assert columns[(q, column)] == text, (q, column)
        rows = 0
        for path in manifest["tables"][q]["files"]:  # every file (each partition's) is described
            parquet = pq.ParquetFile(release / path)
            meta = {k.decode(): v.decode() for k, v in parquet.schema_arrow.metadata.items()}
            assert meta["description"] == docs[q]["description"] and meta["table"] == q
            assert json.loads(meta["column_descriptions"]) == {c: docs[q]["columns"][c] for c in parquet.schema_arrow.names}
            for f in parquet.schema_arrow:
                assert f.metadata[b"description"].decode() == docs[q]["columns"][f.name], (q, f.name)
            rows += parquet.read().num_rows
        assert rows == manifest["tables"][q]["rows"]


def test_every_published_table_and_column_carries_its_dbt_description(demo_home):
    assert_described((demo_home / "published").resolve())


def test_release_holds_a_data_dictionary_of_what_it_serves(demo_home):
    release = (demo_home / "published").resolve()
    catalog = json.loads((release / "catalog.json").read_text())
    manifest = json.loads((release / "manifest.json").read_text())
    assert catalog["release"] == manifest["release"] and catalog["published_at"] == manifest["published_at"]
    docs = dbt_docs()
    with duckdb.connect(str(release / "warehouse.duckdb"), read_only=True) as con:
        published = {f"{s}.{t}": n for s, t, n in con.execute(
            "select schema_name, table_name, estimated_size from duckdb_tables()").fetchall()}
        for name, table in catalog["tables"].items():
            assert table["rows"] == con.execute(f"select count(*) from {name}").fetchall()[0][0]
    assert set(catalog["tables"]) == set(published)
    for mart in PUBLIC_MARTS:
        entry = catalog["tables"][f"marts.{mart}"]
        partitioned = mart in ("papers", "paper_observations", "paper_topics")
        assert entry["parquet"] == (f"parquet/{mart}/*/*.parquet" if partitioned else f"parquet/{mart}.parquet")
        assert (entry["partitioned_by"] or {}).get("column") == ("listing_month" if partitioned else None)
        assert entry["parquet"] == manifest["tables"][f"marts.{mart}"]["parquet"]
        assert {c["name"]: c["description"] for c in entry["columns"]} == docs[f"marts.{mart}"]["columns"]
    readme = (release / "README.md").read_text()
    for name, table in catalog["tables"].items():
        assert f"## {name}" in readme
        assert all(f"| `{c['name']}` |" in readme for c in table["columns"])


def test_the_quality_views_copied_are_dbts_quality_models():
    # one list (publish.quality.VIEWS, also the publish asset's dependencies) of what dbt builds in `quality`
    assert [q for q in load_docs() if q.startswith("quality.")] == [f"quality.{view}" for view in VIEWS]


def test_quality_schema_copies_the_ops_record(demo_home):
    release = (demo_home / "published").resolve()
    manifest = json.loads((release / "manifest.json").read_text())
    con = duckdb.connect()
    con.execute(f"attach '{demo_home / 'warehouse.duckdb'}' as w (read_only)")
    con.execute(f"attach '{release / 'warehouse.duckdb'}' as p (read_only)")
    try:
        assert con.execute("select source_uri, reason is not null and reason <> '' from p.quality.quarantined_files"
                           ).fetchall() == [(DEMO_BAD_FILE.name, True)]
        cols = "run_id, suite, table_name, evaluated, failed, success, failed_expectations, validated_at, rows, scope"
        expected = con.execute(f"select {cols} from w.ops.validation_results order by all").fetchall()
        assert con.execute(f"select {cols} from p.quality.validation_results order by all").fetchall() == expected
        # this run's mart suites are in the release that run published
        assert any(r[0] == manifest["run_id"] and r[2].startswith("marts.") for r in expected)
        assert con.execute("select run_id, suites, expectations_evaluated, success from p.quality.validation_runs"
                           ).fetchall() == con.execute(
            "select run_id, count(*), sum(evaluated), bool_and(success) from w.ops.validation_results group by 1"
        ).fetchall()
        assert con.execute("select count(*), count(*) filter (where status = 'loaded') from p.quality.snapshot_files"
                           ).fetchall() == [(23, 22)]
        (release_name, run_id, published_at), = con.execute(
            "select release, run_id, published_at from p.quality.release").fetchall()
        assert (release_name, run_id, published_at.isoformat()) == (
            manifest["release"], manifest["run_id"], manifest["published_at"])
        # no server paths leave the warehouse
        names = {c for (c,) in con.execute(
            "select column_name from duckdb_columns() where database_name = 'p'").fetchall()}
        assert not {"stored_path", "report_path"} & names
    finally:
        con.close()


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reused_and_patched_files_stay_described(demo_home, tmp_path):
    home = copy_home(demo_home, tmp_path / "home")
    first = (home / "published").resolve()
    before = {p.name: sha(p) for p in first.rglob("*") if p.is_file()}
    tables = [f"marts.{m}" for m in PUBLIC_MARTS]

    # nothing changed: every Parquet file is reused, the DuckDB file is a private copy (new quality.release)
    second = publish(home / "warehouse.duckdb", home / "published", tables=tables, run_id="second-run")
    assert all(e["reused"] for e in second.manifest["tables"].values())
    assert second.manifest["duckdb"]["made"] == "copied"
    assert_described(second.release_dir)
    with duckdb.connect(str(second.release_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select run_id from quality.release").fetchall() == [("second-run",)]

    # one mart row changed: that table is patched in the copied file, its Parquet file rewritten
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("update marts.papers set upvotes = upvotes + 1000 where paper_id = "
                    "(select min(paper_id) from marts.papers)")
    third = publish(home / "warehouse.duckdb", home / "published", tables=tables, run_id="third-run")
    assert third.manifest["tables"]["marts.papers"]["reused"] is False
    assert third.manifest["duckdb"]["delta"] == {"marts.papers": {"deleted": 1, "inserted": 1}}
    assert_described(third.release_dir)
    # files of a release are never modified
    assert {p.name: sha(p) for p in first.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("reader", ["pandas", "polars", "duckdb"])
def test_described_parquet_files_read_in_common_tools(demo_home, reader):
    """The partitioned papers folder, read whole with its listing_month column (from the folder names)."""
    folder = (demo_home / "published").resolve() / "parquet" / "papers"
    if reader == "pandas":
        import pandas as pd

        frame = pd.read_parquet(folder)
        assert len(frame) == 575 and set(frame["listing_month"].astype(str)) == {"2025-10"}
    elif reader == "polars":
        import polars as pl

        frame = pl.scan_parquet(folder).collect()
        assert frame.height == 575 and frame["listing_month"].unique().to_list() == ["2025-10"]
    else:
        assert duckdb.sql(f"select listing_month, count(*) from read_parquet('{folder}/*/*.parquet', "
                          "hive_partitioning = true) group by all").fetchall() == [("2025-10", 575)]


def test_a_description_dbt_no_longer_has_leaves_the_copied_file(tmp_path):
    """A DuckDB file copied from the previous release carries its comments: one dbt dropped is cleared."""
    from orchestration.publish.describe import TableDoc, comment_duckdb_file

    db = tmp_path / "release.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts; create table marts.t (a integer, b varchar)")
        con.execute("comment on table marts.t is 'old table text'; comment on column marts.t.a is 'old a'; "
                    "comment on column marts.t.b is 'old b'")
    assert comment_duckdb_file(db, ["marts.t"], {"marts.t": TableDoc("marts.t", "", {"a": "new a"})}) == 1
    tables, columns = comments(db)
    assert tables["marts.t"] is None
    assert columns[("marts.t", "a")] == "new a" and columns[("marts.t", "b")] is None
