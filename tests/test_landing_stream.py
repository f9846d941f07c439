"""LandingStream: the landing files of a run read in bounded batches, every file given an outcome.

Reads the shared fixtures in place (the stream never moves files; settling does).
"""

from __future__ import annotations

import hashlib
import shutil

import pyarrow as pa

from orchestration.warehouse.intake import LandingStream
from tests.pipeline_runs import API_FIXTURES, TEXT_FIXTURES

ALL_FIXTURES = API_FIXTURES + TEXT_FIXTURES


def _never_seen(digests: set[str]) -> dict[str, str]:
    return {}


def _drain(stream: LandingStream) -> dict[str, list[pa.Table]]:
    # the loader's order (dlt takes the resources in turn): both formats consumed
    return {fmt: list(stream.tables(fmt)) for fmt in ("api_json", "page_text")}


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("snapshot_id", "ascending"), ("rank", "ascending")])


def test_one_file_per_batch_gives_the_same_rows_and_outcomes_as_one_batch(tmp_path):
    copy = tmp_path / "copy-of-first.json"
    shutil.copyfile(API_FIXTURES[0], copy)
    paths = ALL_FIXTURES + [copy]

    small = LandingStream(paths, _never_seen, batch_bytes=1)  # every file its own batch
    small_tables = _drain(small)
    small_found = small.finish()
    whole = LandingStream(paths, _never_seen, batch_bytes=1 << 40)
    whole_tables = _drain(whole)
    whole_found = whole.finish()

    assert small.batches_read == len(paths)
    assert whole.batches_read == 1
    assert (len(small_found.to_load), len(small_found.duplicates), len(small_found.rejected)) == (10, 1, 3)
    assert [(f.path, f.rows) for f in small_found.to_load] == [(f.path, f.rows) for f in whole_found.to_load]
    assert [f.path for f in small_found.rejected] == [f.path for f in whole_found.rejected]
    # the copy is a duplicate of a file read in an earlier batch of the same run
    (dup,) = small_found.duplicates
    assert dup.path == copy and API_FIXTURES[0].name in dup.reason

    for fmt in ("api_json", "page_text"):
        rows_loaded = sum(f.rows for f in small_found.to_load if f.format == fmt)
        assert sum(t.num_rows for t in small_tables[fmt]) == rows_loaded
        # bounded: no table holds more than one batch (here: one file) of rows
        assert max(t.num_rows for t in small_tables[fmt]) == max(
            f.rows for f in small_found.to_load if f.format == fmt)
        assert _sorted(pa.concat_tables(small_tables[fmt])).equals(_sorted(pa.concat_tables(whole_tables[fmt])))


def test_files_seen_before_are_duplicates_and_never_parsed_into_tables():
    seen = {hashlib.sha256(API_FIXTURES[1].read_bytes()).hexdigest(): "loaded"}
    stream = LandingStream(API_FIXTURES[:3], lambda digests: {d: s for d, s in seen.items() if d in digests},
                           batch_bytes=1)
    tables = _drain(stream)
    found = stream.finish()
    assert [d.path for d in found.duplicates] == [API_FIXTURES[1]]
    assert found.duplicates[0].reason == "same bytes as a snapshot already loaded"
    ids = set(pa.concat_tables(tables["api_json"]).column("snapshot_id").to_pylist())
    assert ids == {f.sha256 for f in found.to_load} and len(ids) == len(found.to_load)


def test_a_format_nobody_consumed_stays_out_of_the_loaded_files():
    # a subset run (only the API table selected): the page-text file must not be archived as loaded
    stream = LandingStream(API_FIXTURES[:2] + TEXT_FIXTURES, _never_seen, batch_bytes=1)
    api = list(stream.tables("api_json"))
    found = stream.finish()
    assert api and {f.format for f in found.to_load} == {"api_json"}
    assert TEXT_FIXTURES[0] not in {f.path for f in found.to_load + found.duplicates + found.rejected}


def test_taking_formats_in_turns_reads_one_batch_per_step():
    # dlt's round-robin: one table from each format's iterator in turn. Asking for page-text tables
    # must not read ahead through every API batch (memory would grow with the landing folder).
    stream = LandingStream(API_FIXTURES, _never_seen, batch_bytes=1)
    empty = pa.table({"x": pa.array([], pa.int64())})
    api, cards = stream.tables("api_json", idle=empty), stream.tables("page_text", idle=empty)
    largest_queue = 0
    for _ in range(len(API_FIXTURES) + 1):
        for iterator in (api, cards):
            next(iterator, None)
            largest_queue = max(largest_queue, len(stream._pending["api_json"]), len(stream._pending["page_text"]))
    assert stream.batches_read == len(API_FIXTURES)
    assert largest_queue <= 1
