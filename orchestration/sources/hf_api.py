"""The Hugging Face Daily Papers API (``GET /api/daily_papers?date=D``, paged with ``limit=100&p=N``
until an empty page) and the dlt source that loads what it returned.

Every wait is bounded (:class:`FetchLimits`): a total deadline per date (a socket timeout alone does
not cut off a server that drips one byte at a time), retries with backoff, a capped ``Retry-After``,
no redirect to another host. A date that cannot be fetched is recorded as such (the next fetch tries
again) and the other dates go on. Every fetched date is one snapshot, its id the sha256 of the date
and the listing as returned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import dlt
import pyarrow as pa
import requests
import urllib3

from orchestration.snapshots import API_PAPERS_SCHEMA, ApiBody, SnapshotRejected, parse_api_bodies
from orchestration.snapshots.errors import preview

API_FETCHED_TABLE = "api_fetched_papers"
PAGE_SIZE = 100
MAX_PAGES = 50  # a server that ignores `p` must not page forever (5,000 papers a day is far above real)


@dataclass(frozen=True)
class FetchLimits:
    """The bounds of one date's fetch."""

    deadline_seconds: float = 120.0      # everything for one date: every page, retry and wait
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 30.0   # one socket read (the deadline bounds the whole)
    max_attempts: int = 5                # per page, for 429, 5xx and connection errors
    backoff_seconds: float = 1.0         # 1, 2, 4, ... between attempts
    max_retry_after_seconds: float = 60.0  # a longer Retry-After fails the date at once
    max_body_bytes: int = 64 * 1024 * 1024


class FetchFailed(Exception):
    """One date could not be fetched; ``unreachable``: no attempt could connect to the API (not a
    server that answered, reset or failed TLS)."""

    def __init__(self, reason: str, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


@dataclass(frozen=True)
class FetchOutcome:
    """What one date's fetch produced: rows to load, a duplicate, or a rejected body."""

    listing_date: date
    url: str
    snapshot_id: str
    captured_at: datetime
    status: str  # 'loaded' | 'duplicate' | 'quarantined'
    rows: int = 0
    pages: int = 0
    reason: str | None = None
    body: bytes | None = None  # kept for quarantine
    failed: bool = False  # not fetched at all (network, deadline, HTTP error): no body


def redact(url: str) -> str:
    """``url`` without credentials (``user:password@`` is never stored or printed)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _get(session: requests.Session, url: str, params: dict, limits: FetchLimits, deadline: float) -> bytes:
    """The body of one page, within ``deadline`` (a monotonic time), retried as :class:`FetchLimits` says."""
    host = urlsplit(url).netloc
    connected = False  # some attempt reached the server
    for attempt in range(1, limits.max_attempts + 1):
        wait = limits.backoff_seconds * 2 ** (attempt - 1)
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchFailed(f"no answer within the {limits.deadline_seconds:.0f} s deadline")
        try:
            target, hops = url, 0
            while True:
                with session.get(target, params=params, stream=True, allow_redirects=False,
                                 timeout=(min(limits.connect_timeout_seconds, left),
                                          min(limits.read_timeout_seconds, left))) as response:
                    connected = True
                    if response.is_redirect:
                        location = requests.compat.urljoin(target, response.headers.get("Location", ""))
                        if urlsplit(location).netloc != host or hops >= 3:
                            raise FetchFailed(f"HTTP {response.status_code} redirect to {redact(location)} "
                                              "not followed (another host, or too many hops)")
                        target, params, hops = location, None, hops + 1
                        continue
                    status = response.status_code
                    if status == 429 or status >= 500:
                        retry_after = response.headers.get("Retry-After", "")
                        if retry_after.strip().isdigit():
                            asked = float(retry_after)
                            if asked > limits.max_retry_after_seconds:
                                raise FetchFailed(
                                    f"HTTP {status}; the API asked to retry after {asked:.0f} s, more than the "
                                    f"{limits.max_retry_after_seconds:.0f} s allowed: try this date later")
                            wait = asked
                        problem, unreachable = f"HTTP {status}", False
                        break  # retried
                    if status >= 400:
                        raise FetchFailed(f"HTTP {status} {response.reason}")
                    body = bytearray()
                    # read1: whatever has arrived (up to 64 kB), so the deadline is checked as bytes trickle in
                    while chunk := response.raw.read1(64 * 1024, decode_content=True):
                        body += chunk
                        if time.monotonic() > deadline:
                            raise FetchFailed(f"the body did not arrive within the {limits.deadline_seconds:.0f} s "
                                              f"deadline ({len(body)} bytes so far)")
                        if len(body) > limits.max_body_bytes:
                            raise FetchFailed(f"the body is larger than {limits.max_body_bytes} bytes")
                    return bytes(body)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as error:
            # (reading the body raises urllib3's own errors: a stalled or cut-off body)
            problem = _network_problem(error)
            unreachable = not connected and _no_connection(error)
        if attempt == limits.max_attempts:
            raise FetchFailed(f"{problem} after {attempt} attempts", unreachable)
        if time.monotonic() + wait >= deadline:
            raise FetchFailed(f"{problem}; no time left for another attempt within the "
                              f"{limits.deadline_seconds:.0f} s deadline", unreachable)
        time.sleep(wait)
    raise AssertionError("unreachable")


def _no_connection(error: Exception) -> bool:
    """No connection was made: the name did not resolve, the connection was refused, or its set-up
    timed out (``requests`` wraps urllib3's reason in the error's first argument)."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return (isinstance(error, requests.exceptions.ConnectTimeout)
            or isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)))


def _network_problem(error: Exception) -> str:
    """The cause of a connection problem in a few words (not the chain of wrapped exceptions)."""
    text = str(error)
    for marker in ("Failed to resolve", "Connection refused", "Read timed out", "timed out",
                   "Connection reset", "Remote end closed"):
        if marker in text:
            return marker.lower() if marker != "Failed to resolve" else "the host name could not be resolved"
    return preview(f"{type(error).__name__}: {text}", 160)


def fetch_listing(session: requests.Session, base_url: str, listing_date: date,
                  limits: FetchLimits = FetchLimits()) -> list:
    """The decoded pages of one listing date, up to an empty page (not included). Raises
    :class:`FetchFailed` or, for a page that is not UTF-8 JSON, :class:`_BadBody`."""
    deadline = time.monotonic() + limits.deadline_seconds
    pages: list = []
    for number in range(MAX_PAGES):
        body = _get(session, f"{base_url}/api/daily_papers",
                    {"date": listing_date.isoformat(), "limit": PAGE_SIZE, "p": number}, limits, deadline)
        try:
            page = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise _BadBody(f"page p={number}: not UTF-8 text (byte {error.start})", body) from None
        except ValueError as error:
            raise _BadBody(f"page p={number}: not JSON ({preview(str(error), 80)}; starts with "
                           f"{preview(body[:60].decode('utf-8', 'replace'), 40)})", body) from None
        if not page:
            break
        pages.append(page)
    return pages


class _BadBody(SnapshotRejected):
    def __init__(self, reason: str, body: bytes) -> None:
        super().__init__(reason)
        self.body = body


def listing_table(pages: list, snapshot_id: str, url: str, captured_at: datetime, listing_date: date) -> pa.Table:
    """The rows of all pages, ranks continued across pages (:class:`SnapshotRejected` naming the
    page that is not the API's shape)."""
    items, rank = [], 1
    for page in pages:
        items.append(ApiBody(json.dumps(page).encode(), snapshot_id, url, captured_at, listing_date, rank))
        rank += len(page) if isinstance(page, list) else 0
    tables = parse_api_bodies(items)
    for number, table in enumerate(tables):
        if isinstance(table, SnapshotRejected):
            raise SnapshotRejected(f"page p={number}: {table.reason}")
    return pa.concat_tables(tables) if tables else API_PAPERS_SCHEMA.empty_table()


@dataclass(frozen=True)
class Fetched:
    """What the network gave for one date: its pages, a body that is not JSON, or why nothing came.
    Kept as a line of JSON between the fetch step (no warehouse) and the load step (the writer pool)."""

    listing_date: date
    url: str
    captured_at: datetime
    pages: list | None = None
    bad_body: bytes | None = None
    problem: str | None = None  # why the body is rejected, or (with ``failed``) why nothing came
    failed: bool = False

    def to_json(self) -> str:
        bad_body = base64.b64encode(self.bad_body).decode() if self.bad_body is not None else None
        return json.dumps({**vars(self), "listing_date": self.listing_date.isoformat(),
                           "captured_at": self.captured_at.isoformat(), "bad_body": bad_body}, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Fetched:
        d = json.loads(line)
        return cls(**{**d, "listing_date": date.fromisoformat(d["listing_date"]),
                      "captured_at": datetime.fromisoformat(d["captured_at"]),
                      "bad_body": base64.b64decode(d["bad_body"]) if d["bad_body"] is not None else None})


def fetch_dates(listing_dates: Sequence[date], base_url: str, limits: FetchLimits = FetchLimits(),
                progress: Callable[[Fetched], None] | None = None) -> Iterator[Fetched]:
    """Fetch each date in turn; a date that fails does not stop the others — unless no connection to
    the API could be made: the dates after it are then not tried (offline, each would wait out its
    retries), and say so."""
    unreachable: str | None = None  # why a date could not connect, once one could not
    with requests.Session() as session:
        session.headers["Accept"] = "application/json"
        for listing_date in listing_dates:
            common = dict(listing_date=listing_date, url=f"{redact(base_url)}/api/daily_papers?date={listing_date}",
                          captured_at=datetime.now(timezone.utc))
            if unreachable is not None:
                fetched = Fetched(problem=unreachable, failed=True, **common)
            else:
                try:
                    fetched = Fetched(pages=fetch_listing(session, base_url.rstrip("/"), listing_date, limits),
                                      **common)
                except FetchFailed as failed:
                    fetched = Fetched(problem=str(failed), failed=True, **common)
                    if failed.unreachable:
                        unreachable = f"not tried: the API could not be reached for {listing_date} ({failed})"
                except _BadBody as bad:
                    fetched = Fetched(bad_body=bad.body, problem=bad.reason, **common)
            if progress is not None:
                progress(fetched)
            yield fetched


@dlt.source(name="hf_api", max_table_nesting=0)
def hf_api_source(
    fetched: Iterable[Fetched] = (),
    already_loaded: frozenset[str] = frozenset(),
    outcomes: list[FetchOutcome] | None = None,
    audit: Callable[[str, pa.Table], dict[str, str]] | None = None,
) -> dlt.sources.DltResource:
    """Daily Papers listings (append-only observations) from ``fetched``, what :func:`fetch_dates` got.
    ``audit``: checks a date's rows (``(table name, rows)`` -> snapshot ids to reject, with reasons)
    before they are yielded; a rejected listing is quarantined like a body that did not parse."""
    log = outcomes if outcomes is not None else []

    @dlt.resource(name=API_FETCHED_TABLE, write_disposition="append")
    def api_fetched_papers() -> Iterator[pa.Table]:
        """Papers fetched from /api/daily_papers, one row per paper per fetch."""
        yielded = False
        for got in fetched:
            outcome, table = _outcome(got, already_loaded, audit)
            log.append(outcome)
            if table is not None:
                yielded = True
                yield table
        if not yielded:
            yield API_PAPERS_SCHEMA.empty_table()

    return api_fetched_papers


def _outcome(got: Fetched, already_loaded: frozenset[str], audit) -> tuple[FetchOutcome, pa.Table | None]:
    """How one fetched date ends (a fetch equal to a loaded snapshot is a duplicate), and its rows to load."""
    day = got.listing_date.isoformat().encode()
    common = dict(listing_date=got.listing_date, url=got.url, captured_at=got.captured_at)
    if got.failed:
        stamp = day + b"\nfailed\n" + got.captured_at.isoformat().encode()
        # recorded as quarantined with the reason; the next fetch of the date tries again
        return FetchOutcome(snapshot_id=hashlib.sha256(stamp).hexdigest(), status="quarantined",
                            reason=f"fetch failed: {got.problem}", failed=True, **common), None
    if got.pages is None:
        return FetchOutcome(snapshot_id=hashlib.sha256(day + b"\n" + (got.bad_body or b"")).hexdigest(),
                            status="quarantined", reason=got.problem, body=got.bad_body, **common), None
    body = json.dumps(got.pages, sort_keys=True, separators=(",", ":")).encode()
    # The date is part of the id: two empty listings (weekends) are different snapshots.
    snapshot_id = hashlib.sha256(day + b"\n" + body).hexdigest()
    common.update(snapshot_id=snapshot_id, pages=len(got.pages))
    if snapshot_id in already_loaded:
        return FetchOutcome(status="duplicate", reason="listing unchanged since an earlier fetch", **common), None
    try:
        table = listing_table(got.pages, snapshot_id, got.url, got.captured_at, got.listing_date)
        problems = audit(API_FETCHED_TABLE, table) if audit is not None else {}
        if problems:
            raise SnapshotRejected(problems.get(snapshot_id) or next(iter(problems.values())))
    except SnapshotRejected as rejected:
        return FetchOutcome(status="quarantined", reason=rejected.reason, body=body, **common), None
    return FetchOutcome(status="loaded", rows=table.num_rows, **common), table
