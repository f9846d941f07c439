"""The landing sensor: stable new files become a few batched run requests, each file in one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

import dagster as dg
from dagster_dlt import DagsterDltResource

from orchestration.defs.validation.checks import landing_raw_checks
from orchestration.defs.dlt.assets import landing_raw
from orchestration.config import Settings
from orchestration.defs.resources import Warehouse
from orchestration.defs.sensors import landing_sensor as sensor_for
from orchestration.sources.landing_plan import WatchSettings, plan_batches
from tests.pipeline_runs import FIXTURES, query

SETTINGS = WatchSettings(max_files=200, settle_seconds=30)


def files_of(batches):
    return [name for batch in batches for name in batch.files]


def age(path, seconds=3600):
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_new_file_is_requested_once(tmp_path):
    (tmp_path / "2025-10-03_a.json").write_text("[]")
    age(tmp_path / "2025-10-03_a.json")
    batches, cursor = plan_batches(tmp_path, None, SETTINGS)
    assert [b.files for b in batches] == [("2025-10-03_a.json",)]
    assert batches[0].digests == (hashlib.sha256(b"[]").hexdigest(),)
    again, cursor = plan_batches(tmp_path, cursor, SETTINGS)
    assert again == []
    # the same bytes dropped again after the first copy was ingested: a request of its own (Dagster
    # skips a run key it has seen, and the file would sit in landing unrecorded)
    (tmp_path / "2025-10-03_a.json").unlink()
    _, cursor = plan_batches(tmp_path, cursor, SETTINGS)
    (tmp_path / "2025-10-03_a.json").write_text("[]")
    age(tmp_path / "2025-10-03_a.json")
    redropped, cursor = plan_batches(tmp_path, cursor, SETTINGS, now=time.time() + 1)
    assert [b.files for b in redropped] == [("2025-10-03_a.json",)]
    assert redropped[0].run_key != batches[0].run_key
    # a file already requested and still there is not requested again, a new one is
    (tmp_path / "2025-10-04_b.json").write_text("[ ]")
    age(tmp_path / "2025-10-04_b.json")
    third, _ = plan_batches(tmp_path, cursor, SETTINGS)
    assert files_of(third) == ["2025-10-04_b.json"]


def test_500_files_make_a_handful_of_runs_each_file_once(tmp_path):
    names = []
    for i in range(500):
        name = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}_captured-{i:04d}.json"
        (tmp_path / name).write_text(f"[{i}]")
        age(tmp_path / name)
        names.append(name)
    batches, cursor = plan_batches(tmp_path, None, SETTINGS)
    assert len(batches) <= 3
    assert sorted(files_of(batches)) == sorted(names)  # each file in exactly one run
    assert len({b.run_key for b in batches}) == len(batches)
    first_dates = [b.listing_dates for b in batches]
    assert first_dates == sorted(first_dates)  # batches are contiguous in listing date
    assert plan_batches(tmp_path, cursor, SETTINGS)[0] == []


def test_a_growing_file_waits_until_stable(tmp_path):
    path = tmp_path / "2025-10-03_growing.json"
    path.write_text("[")
    batches, cursor = plan_batches(tmp_path, None, SETTINGS)
    assert batches == []  # first sight of a fresh file: look again next tick
    with path.open("a") as handle:
        handle.write('{"paper": ')
    batches, cursor = plan_batches(tmp_path, cursor, SETTINGS)
    assert batches == []  # it grew since the last tick
    batches, cursor = plan_batches(tmp_path, cursor, SETTINGS)
    assert files_of(batches) == [path.name]  # unchanged since the previous tick


def test_temporary_names_are_ignored_until_renamed(tmp_path):
    part = tmp_path / "2025-10-03_x.json.part"
    part.write_text("[]")
    (tmp_path / "2025-10-03_y.json.tmp").write_text("[]")
    (tmp_path / ".2025-10-03_z.json").write_text("[]")
    for p in tmp_path.iterdir():
        age(p)
    batches, cursor = plan_batches(tmp_path, None, SETTINGS)
    assert batches == []
    part.rename(tmp_path / "2025-10-03_x.json")  # atomic move in: ready at once, even when fresh
    os.utime(tmp_path / "2025-10-03_x.json", None)
    batches, _ = plan_batches(tmp_path, cursor, SETTINGS)
    assert files_of(batches) == ["2025-10-03_x.json"]


def test_sensor_definition_returns_batched_requests(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in ("2025-10-03_a.json", "2025-10-04_b.json", "papers-listing_captured-20251104.txt"):
        (landing / name).write_text(name)
        age(landing / name)
    landing_sensor = sensor_for(Settings.load(environ={}, home=tmp_path))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        requests = landing_sensor(context)
        assert len(requests) == 1
        assert requests[0].run_config["ops"]["landing_raw"]["config"]["files"] == [
            "2025-10-03_a.json", "2025-10-04_b.json", "papers-listing_captured-20251104.txt"]
        assert requests[0].tags["papers/listing_dates"] == "2025-10-03..2025-10-04"
        context2 = dg.build_sensor_context(instance=instance, cursor=context.cursor)
        assert isinstance(landing_sensor(context2), dg.SkipReason)


def test_invalid_listing_date_is_quarantined_not_a_failed_tick(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    source = FIXTURES / "daily_papers" / "2024-06-12_captured-20240612T170641Z.json"
    bad = landing / "2019-02-30_captured-20190301T000000Z.json"   # no such date, before the listing
    early = landing / "2021-01-05_captured-20210105T000000Z.json"  # a real date, before 2023-05-04
    shutil.copy(source, bad)
    data = json.loads(source.read_text())
    data[0]["paper"]["upvotes"] += 1  # different bytes
    early.write_text(json.dumps(data))
    for p in landing.iterdir():
        age(p)
    settings = Settings.load(environ={}, home=tmp_path)
    with dg.instance_for_test() as instance:
        requests = sensor_for(settings)(dg.build_sensor_context(instance=instance))
        assert len(requests) == 1  # the tick succeeds and hands the files to a run
        result = dg.materialize(
            [landing_raw, landing_raw_checks], instance=instance, run_config=requests[0].run_config,
            resources={"warehouse": Warehouse(settings), "dlt": DagsterDltResource()})
    assert result.success
    rows = dict(query(tmp_path / "warehouse.duckdb", "select source_uri, reason from ops.snapshot_files "
                      "where status = 'quarantined'"))
    assert set(rows) == {bad.name, early.name}
    assert "2021-01-05" in rows[early.name] and "not a valid partition" in rows[early.name]
    assert (tmp_path / "quarantine" / f"{bad.name}.reason.txt").exists()


def test_rolling_refetch_schedule_covers_the_last_14_dates_in_one_run():
    from datetime import date, datetime, timezone

    from orchestration.defs.schedules import rolling_refetch_schedule, rolling_window

    assert rolling_window(date(2025, 10, 20), 14) == (date(2025, 10, 7), date(2025, 10, 20))
    assert rolling_window(date(2023, 5, 6), 14) == (date(2023, 5, 4), date(2023, 5, 6))
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2025, 10, 20, 7, tzinfo=timezone.utc))
    request = rolling_refetch_schedule(Settings.load(environ={}))(context)
    assert request.tags["dagster/asset_partition_range_start"] == "2025-10-07"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-10-20"


def test_links_fifos_and_directories_are_batched_unread(tmp_path):
    """The sensor never opens them (a FIFO would block the tick, a link could point anywhere): the
    run quarantines each with its reason."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside.json"
    outside.write_text("[]")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "2025-10-01_link.json").symlink_to(outside)
    os.mkfifo(landing / "2025-10-02_fifo.json")
    (landing / "2025-10-03_dir.json").mkdir()
    for path in landing.iterdir():
        os.utime(path, (time.time() - 3600,) * 2, follow_symlinks=False)
    batches, _ = plan_batches(landing, None, SETTINGS)
    assert files_of(batches) == ["2025-10-01_link.json", "2025-10-02_fifo.json", "2025-10-03_dir.json"]
    assert set(batches[0].digests) == {"not a regular file"}
