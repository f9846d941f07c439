"""Browser check of the running Dagster UI: headless Chromium (Debian's `chromium`) via Playwright.

Starts one real `dagster dev` for the module (tests/dagster_dev.py). The first test, on the empty
home, opens the global asset lineage graph filtered to the raw group and its direct children, and
finds the raw (dlt) nodes, the dbt staging nodes and the raw nodes' asset-check rows; then follows a
raw node's check row to the asset's Checks tab and finds the Great Expectations check by name. The
second drops a good and a malformed file and reads the run's page and the papers mart's. Screenshots
go to each test's tmp dir.

Skipped when /usr/bin/chromium or the `playwright` package is missing (`.ci/run` installs Chromium;
Playwright's own browser download is not used: it cannot be fetched here).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import urllib.parse
from pathlib import Path

import pytest

from tests.dagster_dev import live_processes, running_dagster_dev

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
UI_TIMEOUT_MS = 60_000

RAW_NODES = ["api_fetched_papers", "landed_api_papers", "landed_page_cards"]           # dlt assets
DBT_NODES = ["stg_api_paper_observations", "stg_page_card_observations",               # dbt models
             "stg_api_paper_authors", "stg_api_paper_keywords"]


def require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (Debian package `chromium`; .ci/run installs it)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the `playwright` Python package is not installed (pip install -e '.[dev]')")


def descendants(pid: int) -> set[int]:
    """Live descendants of ``pid`` (from /proc parent links)."""
    children: dict[int, list[int]] = {}
    for child, parent, _ in live_processes():
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def graph_url(base: str, selection: str, expanded_groups: list[str]) -> str:
    """The global asset lineage (`/asset-groups`) with an asset selection and groups expanded."""
    expanded = ",".join(f"global@global:{group}" for group in expanded_groups)
    return (f"{base}/asset-groups~{urllib.parse.quote(selection, safe='')}/"
            f"?expanded={urllib.parse.quote(expanded, safe='')}")


def asset_node(page, name: str):
    """The graph node box of asset ``name``: the nearest ancestor of its title holding the rows."""
    return page.locator(f"xpath=//*[normalize-space(text())='{name}']"
                        "/ancestor::*[.//*[contains(text(), 'Asset checks')]][1]").first


@contextlib.contextmanager
def ui_page(dev, page_errors: list[str]):
    """A headless Chromium page (1920x1200) for the Dagster UI of ``dev``; the page's JavaScript
    errors are appended to ``page_errors``. A failed assertion prints the tail of dev's log."""
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1920, "height": 1200})
                # the one-time "Join the Dagster community" dialog would cover the graph
                context.add_init_script("window.localStorage.setItem('communityNux', '1')")
                page = context.new_page()
                page.set_default_timeout(UI_TIMEOUT_MS)
                page.on("pageerror", lambda err: page_errors.append(str(err)))
                yield page
            finally:
                browser.close()
    except AssertionError:
        print(dev.log_tail(60))
        raise


def assert_no_leftovers(before: set[int], dev) -> None:
    """Playwright's driver and Chromium are children of this process: none may outlive the test
    (those not in ``before`` are killed). ``dev``'s own processes (its run workers) are not counted."""
    leftovers = descendants(os.getpid()) - before - descendants(dev.process.pid) - {dev.process.pid}
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"processes left running after the browser test: {sorted(leftovers)}"


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """One `dagster dev` for the module: the graph test (first, on the empty home) then the run test."""
    require_browser()
    root = tmp_path_factory.mktemp("ui_browser")
    with running_dagster_dev(root / "papers_home", root / "dagster_home") as dev:
        yield dev


def test_asset_graph_shows_raw_dbt_and_check_nodes(dev, tmp_path, record_property, capsys):
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)

    before = descendants(os.getpid())
    screenshots = []
    page_errors: list[str] = []
    with ui_page(dev, page_errors) as page:
        # 1. the asset graph: raw (dlt) nodes, their dbt children, check rows, kinds
        page.goto(graph_url(dev.url, 'group:"raw"+', ["raw", "staging"]))
        for name in RAW_NODES + DBT_NODES:
            expect(page.get_by_text(name, exact=True).first).to_be_visible()
        for name in RAW_NODES:  # the raw tables' Great Expectations checks (dbt's tests are not checks)
            node = asset_node(page, name)
            expect(node.get_by_text("Asset checks")).to_be_visible()
            expect(node.get_by_text("Passed")).to_be_visible()  # "0 / N Passed": N checks
        expect(page.get_by_text("dlt", exact=True).first).to_be_visible()
        expect(page.get_by_text("dbt", exact=True).first).to_be_visible()
        graph_png = tmp_path / "asset_graph.png"
        page.screenshot(path=str(graph_png))
        screenshots.append(graph_png)

        # 2. a raw node's check row leads to its checks: the Great Expectations suite
        asset_node(page, "api_fetched_papers").get_by_text("Passed").click()
        page.wait_for_url("**/assets/raw/api_fetched_papers?view=checks**")
        expect(page.get_by_text("great_expectations").first).to_be_visible()
        expect(page.get_by_text("expectations/raw_api_papers.json").first).to_be_visible()
        checks_png = tmp_path / "asset_checks.png"
        page.screenshot(path=str(checks_png))
        screenshots.append(checks_png)

        # 3. the public marts carry their GX suite as a check too
        page.goto(f"{dev.url}/assets/marts/papers?view=checks")
        page.get_by_text("great_expectations", exact=True).first.click()  # among the dbt tests
        expect(page.get_by_text("expectations/papers.json").first).to_be_visible()

    assert_no_leftovers(before, dev)

    for path in screenshots:
        assert path.stat().st_size > 10_000, path
    record_property("screenshots", " ".join(str(p) for p in screenshots))
    with capsys.disabled():
        print(f"\n[browser] screenshots: {', '.join(str(p) for p in screenshots)}")
    assert not page_errors, f"JavaScript errors on the page: {page_errors}"


def test_a_quarantining_run_is_marked_and_marts_show_row_counts(dev, tmp_path, capsys):
    """Drop a good file and a malformed one: the sensor's run succeeds, and its run page shows the
    quarantine tag and the raw check's warning naming the file; `marts/papers` shows its row count."""
    import json
    import shutil
    import time

    from playwright.sync_api import expect

    from tests.dagster_dev import graphql
    from tests.pipeline_runs import API_DIR, MALFORMED, SAMPLE_FILES

    expect.set_options(timeout=UI_TIMEOUT_MS)
    good = SAMPLE_FILES[0]
    bad = next(p for p in sorted(API_DIR.glob("*.json")) if p.name in MALFORMED)
    papers = len({r["paper"]["id"] for r in json.loads(good.read_text())})
    before = descendants(os.getpid())
    page_errors: list[str] = []
    landing = dev.papers_home / "landing"
    for source in (good, bad):
        shutil.copyfile(source, landing / f"{source.name}.part")
        os.rename(landing / f"{source.name}.part", landing / source.name)
    deadline = time.monotonic() + 600
    query = "{ runsOrError { ... on Runs { results { runId status jobName tags { key value } } } } }"
    while True:  # the sensor may put the two files in one run or two (grouped by listing date)
        runs = [r for r in graphql(dev.url, query)["runsOrError"]["results"] if r["jobName"] == "ingest_landing"]
        marked = [r for r in runs if {"key": "papers/quarantined", "value": "1"} in r["tags"]]
        if (marked and not any(landing.iterdir())
                and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)):
            break
        assert time.monotonic() < deadline, f"no run quarantined {bad.name}: {runs}\n" + dev.log_tail()
        time.sleep(0.5)
    [run] = marked
    assert all(r["status"] == "SUCCESS" for r in runs), dev.log_tail()
    with ui_page(dev, page_errors) as page:
        # the run's log, filtered to warnings (the page's level filter), says which file and why
        page.goto(f"{dev.url}/runs/{run['runId']}?levels=warning")
        expect(page.get_by_text(f"quarantining {bad.name}").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "run.png"))
        page.get_by_text("View tags and config").click()
        expect(page.get_by_text("papers/quarantined").first).to_be_visible()

        page.goto(f"{dev.url}/assets/marts/papers")
        expect(page.get_by_text("Row count").first).to_be_visible()
        expect(page.get_by_text(str(papers), exact=True).first).to_be_visible()
        page.screenshot(path=str(tmp_path / "papers.png"))
    assert_no_leftovers(before, dev)
    assert not page_errors, f"JavaScript errors on the page: {page_errors}"
    with capsys.disabled():
        print(f"\n[browser] screenshots: {tmp_path / 'run.png'}, {tmp_path / 'papers.png'}")
