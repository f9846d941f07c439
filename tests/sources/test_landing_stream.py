"""LandingStream: the landing files of a run read in bounded batches, every file given an outcome.

Reads the shared fixtures in place (the stream never moves files; settling does).
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pyarrow as pa

from orchestration.snapshots import API_PAPERS_SCHEMA
from orchestration.sources.landing_files import LandingStream, _Spilled
from tests.pipeline_runs import API_FIXTURES, GOOD_API_NAMES, TEXT_FIXTURES

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


# --- large files: hashed as a stream, parsed in pieces (spilled), never held whole ---------------


def _run(paths, **kwargs):
    stream = LandingStream(paths, _never_seen, batch_bytes=1, **kwargs)
    tables = _drain(stream)
    return stream, tables, stream.finish()


def _outcomes(found):
    return ([(f.path, f.sha256, f.format, f.rows, f.listing_date, f.captured_at, f.warnings) for f in found.to_load],
            [(f.path, f.reason) for f in found.rejected], [(f.path, f.reason) for f in found.duplicates])


def _same_as_whole_files(paths, tmp_path, **kwargs):
    spill = tmp_path / "spill"
    spill.mkdir(exist_ok=True)
    pieces, piece_tables, piece_found = _run(paths, large_file_bytes=1, spill_dir=spill, **kwargs)
    whole, whole_tables, whole_found = _run(paths, large_file_bytes=1 << 40)
    assert whole.files_in_pieces == 0
    assert _outcomes(piece_found) == _outcomes(whole_found)
    for fmt in ("api_json", "page_text"):
        assert sum(t.num_rows for t in piece_tables[fmt]) == sum(f.rows for f in piece_found.to_load
                                                                 if f.format == fmt)
        assert all(t.schema.equals(API_PAPERS_SCHEMA) for t in piece_tables["api_json"])
        if whole_tables[fmt]:
            assert _sorted(pa.concat_tables(piece_tables[fmt])).equals(_sorted(pa.concat_tables(whole_tables[fmt])))
    assert not any(spill.iterdir())  # spilled rows are deleted once handed out
    return pieces, piece_tables, piece_found


def _compact_copies(tmp_path):
    """Good API fixtures rewritten as one-line JSON (both separator styles)."""
    copies = []
    for n, path in enumerate(p for p in API_FIXTURES if p.name in GOOD_API_NAMES):
        separators = (", ", ": ") if n % 2 else (",", ":")
        folder = tmp_path / f"compact-{n}"
        folder.mkdir()
        copy = folder / path.name
        copy.write_text(json.dumps(json.loads(path.read_text()), separators=separators), encoding="utf-8")
        copies.append(copy)
    return copies


def test_large_files_parsed_in_pieces_give_the_rows_and_outcomes_of_whole_files(tmp_path):
    # every file counts as large; pieces of ~16 KB hold a few papers (ranks continue across pieces)
    paths = ALL_FIXTURES + _compact_copies(tmp_path)
    stream, tables, found = _same_as_whole_files(paths, tmp_path, piece_bytes=16384)
    api_files = [f for f in found.to_load if f.format == "api_json"]
    assert stream.files_in_pieces == len(api_files) > 0
    assert len(tables["api_json"]) > 2 * len(api_files)  # handed out piece by piece
    # rejects (not API arrays, malformed) took the whole-file path: same reasons as above
    assert {f.path.name for f in found.rejected} == {p.name for p in API_FIXTURES if p.name not in GOOD_API_NAMES}


def test_a_truncated_large_file_is_rejected_whole_and_loads_no_rows(tmp_path):
    body = API_FIXTURES[-1].read_bytes()
    truncated = tmp_path / API_FIXTURES[-1].name
    truncated.write_bytes(body[: len(body) * 2 // 3])  # papers of the first pieces parse alone
    stream, tables, found = _same_as_whole_files([truncated, API_FIXTURES[0]], tmp_path, piece_bytes=16384)
    assert [f.path for f in found.rejected] == [truncated]
    assert {t.column("source_uri")[0].as_py() for t in tables["api_json"] if t.num_rows} == {API_FIXTURES[0].name}


def test_a_large_file_with_a_bad_paper_late_in_it_is_rejected_whole(tmp_path):
    # the last paper's upvotes are a string: the piece holding it is rejected, the file takes the
    # whole-file path and its reason names the paper's position in the file, not in the piece
    papers = json.loads(API_FIXTURES[-1].read_text())
    papers[-1]["paper"]["upvotes"] = "many"
    bad = tmp_path / API_FIXTURES[-1].name
    bad.write_text(json.dumps(papers), encoding="utf-8")
    stream, tables, found = _same_as_whole_files([bad], tmp_path, piece_bytes=16384)
    assert stream.files_in_pieces == 0 and not found.to_load
    assert [f.reason for f in found.rejected] == [
        f'element {len(papers) - 1}: paper.upvotes is the JSON string "many", expected an integer']
    # an author without "hidden" is not hidden: parsed in pieces like any other paper
    del papers[-1]["paper"]["upvotes"], papers[-1]["paper"]["authors"][0]["hidden"]
    bad.write_text(json.dumps(papers), encoding="utf-8")
    stream, tables, found = _same_as_whole_files([bad], tmp_path, piece_bytes=16384)
    assert stream.files_in_pieces == 1 and [f.path for f in found.to_load] == [bad]
    assert sum(t.num_rows for t in tables["api_json"]) == len(papers)
    last = pa.concat_tables(tables["api_json"]).to_pylist()[-1]
    assert json.loads(last["authors_json"])[0]["hidden"] is False and last["upvotes"] is None


def test_taking_turns_reads_no_batch_while_the_pieces_of_a_large_file_wait():
    large = max(API_FIXTURES, key=lambda p: p.stat().st_size)
    paths = [large] + TEXT_FIXTURES + [p for p in API_FIXTURES if p != large]
    stream = LandingStream(paths, _never_seen, batch_bytes=1, large_file_bytes=large.stat().st_size,
                           piece_bytes=16384)
    empty = pa.table({"x": pa.array([], pa.int64())})
    api, cards = stream.tables("api_json", idle=empty), stream.tables("page_text", idle=empty)
    batches_while_pieces_wait, pieces = set(), 0
    for _ in range(200):
        for iterator in (api, cards):
            table = next(iterator, None)
            if iterator is api and table is not None and table.num_rows and (
                    table.column("source_uri")[0].as_py() == large.name):
                pieces += 1
            if stream._pending["api_json"] and isinstance(stream._pending["api_json"][0], _Spilled):
                batches_while_pieces_wait.add(stream.batches_read)
    found = stream.finish()
    assert stream.files_in_pieces == 1 and pieces > 2
    assert batches_while_pieces_wait == {1}  # the large file's batch: nothing read after it meanwhile
    assert stream.batches_read == len(paths) and len(found.to_load) + len(found.rejected) == len(paths)


def test_the_next_batch_is_read_and_parsing_while_a_batch_is_audited():
    events: list[tuple[str, object]] = []
    paths = list(API_FIXTURES[:4])

    def seen(digests: set[str]) -> dict[str, str]:  # called once per batch, when it is read
        events.append(("read", len(events)))
        return {}

    def audit(fmt: str, table: pa.Table) -> dict[str, str]:
        events.append(("audit", sorted(set(table.column("snapshot_id").to_pylist()))))
        return {}

    stream = LandingStream(paths, seen, audit=audit, batch_bytes=1)  # every file its own batch
    _drain(stream)
    found = stream.finish()

    kinds = [kind for kind, _ in events]
    audited = [kind for kind in kinds if kind == "audit"]
    # every batch but the last is read before the one ahead of it is audited (and so parsed meanwhile)
    assert kinds[:3] == ["read", "read", "audit"]
    assert kinds.count("read") == len(paths) and len(audited) >= 2
    assert stream.batches_read == len(paths)
    # the outcomes keep the files' order
    loaded = [f.path for f in found.to_load]
    assert loaded and loaded == [p for p in paths if p in loaded]


def test_a_paper_listed_twice_in_a_large_file_is_audited_with_the_whole_file(tmp_path):
    """The raw suite's uniqueness rule sees the whole file, not each piece: a large file listing a
    paper twice is rejected as the same file read whole is."""
    import duckdb

    from orchestration.sources.landing import FORMAT_TABLES
    from orchestration.validation.audit import RawAudit

    papers = json.loads(API_FIXTURES[-1].read_text())
    papers.append(papers[0])  # the first paper again, pieces apart
    twice = tmp_path / API_FIXTURES[-1].name
    twice.write_text(json.dumps(papers), encoding="utf-8")
    reasons = []
    for large_file_bytes in (1, 1 << 40):  # in pieces, then whole
        with duckdb.connect() as con:
            audit = RawAudit(con)
            stream = LandingStream([twice], _never_seen, audit=lambda fmt, table: audit(FORMAT_TABLES[fmt], table),
                                   batch_bytes=1, large_file_bytes=large_file_bytes, piece_bytes=16384)
            tables = _drain(stream)
            found = stream.finish()
            audit.finish(run_id="t", report_dir=tmp_path)
        assert not found.to_load and not any(t.num_rows for t in tables["api_json"])
        assert stream.files_in_pieces == 0 and [f.path for f in found.rejected] == [twice]
        reasons.append(found.rejected[0].reason)
    assert reasons[0] == reasons[1] and "expect_compound_columns_to_be_unique" in reasons[0]


def test_an_api_file_named_after_a_day_that_does_not_exist_is_rejected_in_pieces_too(tmp_path):
    bad = tmp_path / API_FIXTURES[-1].name.replace(API_FIXTURES[-1].name[:10], "2025-02-30")
    shutil.copyfile(API_FIXTURES[-1], bad)
    stream, tables, found = _same_as_whole_files([bad], tmp_path, piece_bytes=16384)
    assert [(f.path, f.reason) for f in found.rejected] == [
        (bad, "the file name starts with 2025-02-30, which is not a date: name API files after their listing date "
              "(YYYY-MM-DD)")]
