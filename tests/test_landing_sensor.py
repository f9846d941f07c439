"""The landing sensor: one run request per new file, keyed by content hash; nothing for files seen."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from orchestration.defs.sensors import landing_run_requests, landing_sensor
from tests.pipeline_runs import papers_env


def test_one_request_per_new_file_none_for_seen(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.json").write_text("[]")
    (landing / "b.txt").write_text("Daily Papers")
    (landing / ".hidden.json").write_text("[]")
    (landing / "c.json.part").write_text("[")

    requests, cursor = landing_run_requests(landing, None)
    assert sorted(r.run_config["ops"]["landing_raw"]["config"]["files"][0] for r in requests) == ["a.json", "b.txt"]
    assert {r.run_key for r in requests} == {hashlib.sha256(b"[]").hexdigest(),
                                             hashlib.sha256(b"Daily Papers").hexdigest()}

    again, cursor = landing_run_requests(landing, cursor)
    assert again == []

    (landing / "d.json").write_text('[{"paper": {"id": "2501.00001"}}]')
    (landing / "a.json").unlink()  # ingested and archived: forgotten by the cursor
    third, cursor = landing_run_requests(landing, cursor)
    assert [r.run_config["ops"]["landing_raw"]["config"]["files"] for r in third] == [["d.json"]]
    assert set(json.loads(cursor)) == {"b.txt", "d.json"}


def test_sensor_definition_evaluates_with_cursor(tmp_path):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "2025-10-03_x.json").write_text("[]")
    with papers_env(tmp_path), dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        first = landing_sensor(context)
        assert len(first) == 1 and first[0].run_key == hashlib.sha256(b"[]").hexdigest()
        context2 = dg.build_sensor_context(instance=instance, cursor=context.cursor)
        assert isinstance(landing_sensor(context2), dg.SkipReason)
