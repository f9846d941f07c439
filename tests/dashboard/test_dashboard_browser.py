"""The dashboard as a user opens it: `make dashboard` on a free loopback port, headless Chromium.

Starts the Makefile's command (PAPERS_HOME = the session's demo release), loads every page by URL,
waits for its header and its first table, checks that Streamlit shows no exception, and saves a
screenshot per page under tests/artifacts/dashboard/ (gitignored). The server (make and its
Streamlit child, in a process group of their own) is stopped by that group's id at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.pipeline_runs import REPO
from tests.e2e.test_ui_browser import CHROMIUM, CHROMIUM_ARGS, require_browser

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "tests" / "artifacts" / "dashboard"
PAGES = {"top": "Top papers", "trends": "Trends", "people": "People and organizations", "paper": "Paper",
         "quality": "Data quality"}
START_TIMEOUT_S = 60
PAGE_TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_dashboard(home):
    port = free_port()
    env = {**os.environ, "PAPERS_HOME": str(home), "DASHBOARD_PORT": str(port)}
    log = open(home.parent / f"dashboard-{port}.log", "w") if os.access(home.parent, os.W_OK) else subprocess.DEVNULL
    proc = subprocess.Popen(["make", "--no-print-directory", "dashboard"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            assert proc.poll() is None, f"make dashboard exited with {proc.returncode}"
            assert time.monotonic() < deadline, f"no answer from {url} within {START_TIMEOUT_S} s"
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # make and Streamlit: the group this test started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if log is not subprocess.DEVNULL:
            log.close()


def test_every_dashboard_page_renders_in_chromium(demo_home, record_property):
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots, page_errors = [], []
    with running_dashboard(demo_home) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.on("pageerror", lambda err: page_errors.append(str(err)))
            for key, header in PAGES.items():
                page.goto(f"{url}/?page={key}")
                expect(page.get_by_role("heading", name=header, exact=True)).to_be_visible(timeout=PAGE_TIMEOUT_MS)
                expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible(timeout=PAGE_TIMEOUT_MS)
                # the script has finished this run: no "running" status left
                expect(page.locator("[data-testid='stStatusWidget']")).to_have_count(0, timeout=PAGE_TIMEOUT_MS)
                assert page.locator("[data-testid='stException']").count() == 0, key
                assert page.locator("[data-testid='stAlertContentError']").count() == 0, key
                shot = ARTIFACTS / f"{key}.png"
                page.screenshot(path=str(shot), full_page=True)
                shots.append(shot)
        finally:
            browser.close()
    for shot in shots:
        assert shot.stat().st_size > 20_000, shot
    record_property("screenshots", " ".join(map(str, shots)))
    assert not page_errors, f"JavaScript errors on the page: {page_errors}"
