"""The API resource against a real HTTP server on 127.0.0.1 replaying fixture bodies."""

from __future__ import annotations

import json
import time
from datetime import date

import dlt
import pytest
from werkzeug import Response

from orchestration.snapshots import API_PAPERS_SCHEMA
from orchestration.sources.hf_api import FetchLimits, fetch_dates, hf_api_source
from tests.pipeline_runs import FIXTURES

TWO_PAGE_DATE = date(2025, 10, 3)   # served as two pages, then an empty one
RETRIED_DATE = date(2024, 6, 12)    # first answered 429, then served


def fixture_rows(name: str) -> list[dict]:
    return json.loads((FIXTURES / "daily_papers" / name).read_text())


@pytest.fixture
def api_server(httpserver):
    """/api/daily_papers for two dates; records each request's query and answer status."""
    two_page = fixture_rows("2025-10-03_captured-20251003T074927Z.json")
    retried = fixture_rows("2024-06-12_captured-20240613T035001Z.json")
    pages = {TWO_PAGE_DATE.isoformat(): [two_page[:25], two_page[25:]],
             RETRIED_DATE.isoformat(): [retried]}
    state = {"throttled": False}
    log: list[tuple[str, str, int]] = []

    def handler(request):
        day, page, limit = request.args["date"], int(request.args.get("p", 0)), request.args.get("limit")
        assert limit == "100"
        if day == RETRIED_DATE.isoformat() and not state["throttled"]:
            state["throttled"] = True
            log.append((day, str(page), 429))
            return Response("slow down", status=429, headers={"Retry-After": "0"})
        served = pages.get(day, [])
        body = served[page] if page < len(served) else []
        log.append((day, str(page), 200))
        return Response(json.dumps(body), status=200, content_type="application/json")

    httpserver.expect_request("/api/daily_papers").respond_with_handler(handler)
    return httpserver, log, {TWO_PAGE_DATE: len(two_page), RETRIED_DATE: len(retried)}


def test_api_resource_pages_and_retries(api_server, tmp_path):
    server, log, expected_rows = api_server
    base_url = server.url_for("/").rstrip("/")
    assert base_url.startswith("http://127.0.0.1") or base_url.startswith("http://localhost")
    outcomes = []
    pipeline = dlt.pipeline(pipeline_name="api_test", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="raw", pipelines_dir=str(tmp_path / "dlt"))
    days = [TWO_PAGE_DATE, RETRIED_DATE]
    pipeline.run(hf_api_source(outcomes=outcomes, fetched=fetch_dates(days, base_url)))

    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select listing_date, count(*), count(distinct arxiv_id), min(rank), max(rank) "
            "from api_fetched_papers group by 1 order by 1")
        nullable = dict(client.execute_sql(
            "select column_name, is_nullable from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'api_fetched_papers'"))
    # the required fields of the parser's schema are NOT NULL columns: no suite re-checks them
    required = [f.name for f in API_PAPERS_SCHEMA if not f.nullable]
    assert required and {c: nullable[c] for c in required} == dict.fromkeys(required, "NO")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (RETRIED_DATE, 16, 16, 1, 16),
        (TWO_PAGE_DATE, 39, 39, 1, 39),
    ]
    by_date = {o.listing_date: o for o in outcomes}
    assert by_date[TWO_PAGE_DATE].pages == 2 and by_date[TWO_PAGE_DATE].rows == expected_rows[TWO_PAGE_DATE]
    assert by_date[RETRIED_DATE].rows == expected_rows[RETRIED_DATE]
    assert all(o.status == "loaded" for o in outcomes)
    # page 0, page 1, the empty page 2 that ends paging; the throttled date asked twice for page 0
    assert [entry for entry in log if entry[0] == TWO_PAGE_DATE.isoformat()] == [
        ("2025-10-03", "0", 200), ("2025-10-03", "1", 200), ("2025-10-03", "2", 200)]
    assert [entry for entry in log if entry[0] == RETRIED_DATE.isoformat()][:2] == [
        ("2024-06-12", "0", 429), ("2024-06-12", "0", 200)]


def test_unchanged_listing_is_a_duplicate(api_server, tmp_path):
    server, _, _ = api_server
    base_url = server.url_for("/").rstrip("/")
    first: list = []
    pipeline = dlt.pipeline(pipeline_name="api_dup", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="raw", pipelines_dir=str(tmp_path / "dlt"))
    pipeline.run(hf_api_source(outcomes=first, fetched=fetch_dates([TWO_PAGE_DATE], base_url)))
    second: list = []
    pipeline.run(hf_api_source(outcomes=second, fetched=fetch_dates([TWO_PAGE_DATE], base_url),
                               already_loaded=frozenset(o.snapshot_id for o in first)))
    assert [o.status for o in second] == ["duplicate"]
    with pipeline.sql_client() as client:
        assert client.execute_sql("select count(*) from api_fetched_papers")[0][0] == 39


def test_a_date_answered_with_an_envelope_is_quarantined(httpserver, tmp_path):
    httpserver.expect_request("/api/daily_papers").respond_with_json({"error": "Invalid date"})
    outcomes = []
    pipeline = dlt.pipeline(pipeline_name="api_bad", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="raw", pipelines_dir=str(tmp_path / "dlt"))
    days = [date(2025, 1, 1)]
    pipeline.run(hf_api_source(outcomes=outcomes, fetched=fetch_dates(days, httpserver.url_for("/").rstrip("/"))))
    assert [(o.status, o.rows) for o in outcomes] == [("quarantined", 0)]
    assert "error" in outcomes[0].reason and outcomes[0].body
    with pipeline.sql_client() as client:
        assert client.execute_sql("select count(*) from api_fetched_papers")[0][0] == 0


def test_every_wait_is_bounded_and_one_bad_date_does_not_stop_the_others(httpserver, tmp_path):
    """A server dripping one byte a second, one asking to come back tomorrow, one answering 500,
    an HTML page and a non-UTF-8 body: each date ends on its own, the good date is loaded."""
    good = fixture_rows("2025-10-03_captured-20251003T074927Z.json")

    def drip():
        for byte in b'[{"paper": {}}]':
            time.sleep(1)
            yield bytes([byte])

    def handler(request):
        day, page = request.args["date"], int(request.args.get("p", 0))
        if day == "2025-10-01":
            return Response(drip(), content_type="application/json")
        if day == "2025-10-02":
            return Response("later", status=429, headers={"Retry-After": "86400"})
        if day == "2025-10-06":
            return Response("boom", status=500)
        if day == "2025-10-07":
            return Response("<html><body>maintenance</body></html>", content_type="text/html")
        if day == "2025-10-08":
            return Response(b"[{\"title\": \"caf\xe9\"}]", content_type="application/json")
        if day == "2025-10-09":
            return Response("", status=302, headers={"Location": "http://198.51.100.1/elsewhere"})
        return Response(json.dumps(good if page == 0 else []), content_type="application/json")

    httpserver.expect_request("/api/daily_papers").respond_with_handler(handler)
    days = [date(2025, 10, d) for d in (1, 2, 3, 6, 7, 8, 9)]
    limits = FetchLimits(deadline_seconds=4, backoff_seconds=0.05, max_attempts=3, max_retry_after_seconds=5)
    outcomes, seen = [], []
    pipeline = dlt.pipeline(pipeline_name="api_waits", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="raw", pipelines_dir=str(tmp_path / "dlt"))
    started = time.monotonic()
    base = httpserver.url_for("/").rstrip("/").replace("http://", "http://user:s3cret@")
    fetched = fetch_dates(days, base, limits, progress=lambda f: seen.append((f.listing_date, time.monotonic())))
    pipeline.run(hf_api_source(outcomes=outcomes, fetched=fetched))
    took = {d: t - (seen[i - 1][1] if i else started) for i, (d, t) in enumerate(seen)}
    by_day = {o.listing_date.day: o for o in outcomes}
    assert {d: (o.status, o.failed) for d, o in by_day.items()} == {
        1: ("quarantined", True), 2: ("quarantined", True), 3: ("loaded", False), 6: ("quarantined", True),
        7: ("quarantined", False), 8: ("quarantined", False), 9: ("quarantined", True)}
    assert "deadline" in by_day[1].reason and took[date(2025, 10, 1)] < limits.deadline_seconds + 2
    assert "retry after 86400 s" in by_day[2].reason and took[date(2025, 10, 2)] < limits.deadline_seconds  # not Retry-After's day (the server thread may still be dripping the previous answer)
    assert by_day[6].reason == "fetch failed: HTTP 500 after 3 attempts"
    assert "not JSON" in by_day[7].reason and by_day[7].body.startswith(b"<html>")
    assert "not UTF-8" in by_day[8].reason
    assert "not followed" in by_day[9].reason
    assert all("s3cret" not in o.url and "s3cret" not in (o.reason or "") for o in outcomes)
    with pipeline.sql_client() as client:
        assert client.execute_sql("select count(*), min(source_uri) from api_fetched_papers")[0] == \
            (len(good), base.replace("user:s3cret@", "***@") + "/api/daily_papers?date=2025-10-03")


def test_dates_after_one_that_could_not_connect_are_not_tried(httpserver):
    """Offline (no connection can be made), the first date waits out its retries; the others are not
    tried and say why. A date the API answers badly (HTTP 500) does not stop the others."""
    dead = "http://127.0.0.1:9"  # nothing listens: the connection is refused
    limits = FetchLimits(deadline_seconds=3, backoff_seconds=0.05, max_attempts=2)
    days = [date(2025, 10, d) for d in (1, 2, 3)]
    fetched = list(fetch_dates(days, dead, limits))
    assert all(f.failed for f in fetched)
    assert fetched[0].problem == "connection refused after 2 attempts"
    assert [f.problem for f in fetched[1:]] == [
        "not tried: the API could not be reached for 2025-10-01 (connection refused after 2 attempts)"] * 2

    httpserver.expect_request("/api/daily_papers").respond_with_handler(
        lambda request: Response("boom", status=500) if request.args["date"] == "2025-10-01"
        else Response("[]", content_type="application/json"))
    fetched = list(fetch_dates(days, httpserver.url_for("/").rstrip("/"), limits))
    assert [f.failed for f in fetched] == [True, False, False]
    assert fetched[0].problem == "HTTP 500 after 2 attempts"


def test_a_server_that_answers_badly_is_not_an_unreachable_api(httpserver):
    """A server that accepts and closes the connection, or sends headers then stalls its body, was
    reached: the date fails (within its deadline) and the next dates are still tried."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def close_each():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=close_each, daemon=True).start()
    limits = FetchLimits(deadline_seconds=3, backoff_seconds=0.05, max_attempts=2, read_timeout_seconds=0.5)
    days = [date(2025, 10, 1), date(2025, 10, 2)]
    try:
        fetched = list(fetch_dates(days, f"http://127.0.0.1:{listener.getsockname()[1]}", limits))
    finally:
        listener.close()
    assert [f.failed for f in fetched] == [True, True]
    assert not any(f.problem.startswith("not tried") for f in fetched), [f.problem for f in fetched]

    def stall():
        yield b"["
        time.sleep(2)
        yield b"]"

    httpserver.expect_request("/api/daily_papers").respond_with_handler(
        lambda request: Response(stall(), content_type="application/json") if request.args["date"] == "2025-10-01"
        else Response("[]", content_type="application/json"))
    fetched = list(fetch_dates(days, httpserver.url_for("/").rstrip("/"), limits))
    assert [f.failed for f in fetched] == [True, False]
    assert "timed out" in fetched[0].problem, fetched[0].problem
