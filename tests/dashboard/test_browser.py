"""Smoke test in a real headless browser: `presence dashboard` as a subprocess against a simulated shop, every page
opened by Playwright driving Debian's /usr/bin/chromium, charts drawn, key numbers equal to `presence report`, and
nothing fetched from outside the machine (the dashboard must work offline)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from app.dashboard import filters
from tests.dashboard.conftest import PRESENCE, Shop, clean_env, write_config
from tests.dashboard.test_sites import DAYS as CHAIN_DAYS
from tests.dashboard.test_sites import Chain, build_chain
from tests.servers import free_port, stop

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Set to a directory (e.g. docs/screenshots) to keep the screenshots there as well as in the test's tmp dir.
SCREENSHOTS_ENV = "PRESENCE_SCREENSHOTS_DIR"
PAGE_TIMEOUT_MS = 240_000  # the first page of a cold server reads and analyses the whole database
LEARNING = "Learning what a usual day looks like"
# page path -> (title, charts it draws)
PAGES = {"": ("Live", 1), "visitors": ("Visitors", 6), "trends": ("Trends", 3), "zones": ("Zones", 5)}


def require_chromium() -> None:
    """Skip without Debian's chromium, except in CI (CI=true), where a missing browser is a broken setup."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install it with `apt-get install chromium` (.ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(f"{reason}; the browser smoke test is skipped here and fails in CI")


@dataclass(frozen=True)
class Dashboard:
    url: str
    shop: Shop

    def report(self, first, last, *options: str) -> dict:
        """`presence report` as a separate process against the same database."""
        command = [PRESENCE, "report", "--from", str(first), "--to", str(last), "--format", "json", *options]
        done = subprocess.run(command, env={**clean_env(), **self.shop.env}, capture_output=True, check=True, text=True)
        return json.loads(done.stdout)


@contextlib.contextmanager
def running_dashboard(template: Shop, tmp_path: Path, secrets: str | None = None) -> Iterator[Dashboard]:
    """`presence dashboard` on a free loopback port against a private copy of the simulated shop.

    It starts in `tmp_path` with HOME there too, so Streamlit reads no developer's secrets.toml: only `secrets`,
    when given, written to ./.streamlit/secrets.toml as an installer would.
    """
    shop = Shop(tmp_path / "data", write_config(tmp_path / "presence.toml"), template.days)
    shutil.copytree(template.data_dir, shop.data_dir)
    if secrets is not None:
        (tmp_path / ".streamlit").mkdir()
        (tmp_path / ".streamlit" / "secrets.toml").write_text(secrets)
    port = free_port()
    log = (tmp_path / "dashboard.log").open("wb")
    process = subprocess.Popen(
        [PRESENCE, "dashboard", "--host", "127.0.0.1", "--port", str(port)],
        env={**clean_env(), **shop.env, "HOME": str(tmp_path)},
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(f"{url}/_stcore/health", process)
        yield Dashboard(url, shop)
    finally:
        stop(process)
        log.close()
        print((tmp_path / "dashboard.log").read_text(errors="replace")[-4000:])


@pytest.fixture
def dashboard(simulated_template: Shop, tmp_path: Path) -> Iterator[Dashboard]:
    with running_dashboard(simulated_template, tmp_path) as running:
        yield running


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"presence dashboard exited with {process.returncode}"
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).text == "ok":
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def open_page(page, url: str, title: str, charts: int) -> float:
    """Open `url`, wait until the script finished and every chart is drawn; returns the seconds it took."""
    started = time.monotonic()
    page.goto(url, wait_until="domcontentloaded")
    wait_until_drawn(page, title, charts)
    return time.monotonic() - started


def wait_until_drawn(page, title: str, charts: int) -> None:
    """Wait until the page titled `title` finished its script and drew its charts, without an error."""
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=PAGE_TIMEOUT_MS)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=PAGE_TIMEOUT_MS)
    drawn = page.locator(".vega-embed canvas, .vega-embed svg.marks")
    page.wait_for_function(
        "n => document.querySelectorAll('.vega-embed canvas, .vega-embed svg.marks').length >= n",
        arg=charts,
        timeout=PAGE_TIMEOUT_MS,
    )
    assert drawn.count() >= charts
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def metric(page, label: str) -> str:
    card = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    )
    return card.first.locator('[data-testid="stMetricValue"]').inner_text().strip()


def screenshot(page, directory: Path, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so the window is first made as tall as that."""
    path = directory / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        '() => Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], [data-testid="stSidebar"]\')]'
        ".map(e => e.scrollHeight), 600)"
    )
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(800)  # charts redraw for the new size
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    keep = os.environ.get(SCREENSHOTS_ENV)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def test_every_page_in_a_real_browser(dashboard: Dashboard, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: outside.append(request.url) if _outside(request.url) else None)
            timings = {}
            for path, (title, charts) in PAGES.items():
                timings[title] = open_page(page, f"{dashboard.url}/{path}", title, charts)
                screenshot(page, shots, title.lower() if path else "live-first-view")

            first, last = _default_days(dashboard)
            report = dashboard.report(first, last)
            open_page(page, f"{dashboard.url}/visitors", "Visitors", 5)
            assert metric(page, "Visitors") == f"{report['visitors']:,}"
            assert metric(page, "Passersby") == f"{report['passersby']:,}"

            # A shared link with a filter: the numbers are the filtered report's, and the filter follows the
            # user to the next page.
            guest = dashboard.report(first, last, "--ssid", "Guest")
            open_page(page, f"{dashboard.url}/visitors?{filters.SSID}=Guest", "Visitors", 5)
            assert metric(page, "Visitors") == f"{guest['visitors']:,}"
            page.get_by_role("link", name="Trends").click()
            page.get_by_role("heading", name="Trends", level=1).wait_for(timeout=PAGE_TIMEOUT_MS)
            page.wait_for_url(f"**/trends?{filters.SSID}=Guest", timeout=PAGE_TIMEOUT_MS)

            # A chart for the meeting: the PNG is rendered on the server, offline.
            open_page(page, f"{dashboard.url}/trends?present=true", "Trends", 3)
            page.locator('[data-testid="stPopover"] button').first.click()
            with page.expect_download(timeout=PAGE_TIMEOUT_MS) as download:
                page.get_by_role("button", name="Chart (PNG)").first.click()
            assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
            assert download.value.suggested_filename == "week-over-week.png"
            screenshot(page, shots, "trends-presentation")

            # Once the history is learned (in the background), Live compares with the typical day.
            open_page(page, f"{dashboard.url}/", "Live", 1)
            page.get_by_text(LEARNING).wait_for(state="detached", timeout=PAGE_TIMEOUT_MS)
            page.get_by_text("Typical for a").wait_for(timeout=PAGE_TIMEOUT_MS)
            screenshot(page, shots, "live")

            # A phone: one column, nothing cut off.
            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            open_page(phone, f"{dashboard.url}/", "Live", 1)
            screenshot(phone, shots, "live-phone")
            open_page(phone, f"{dashboard.url}/visitors", "Visitors", 5)
            screenshot(phone, shots, "visitors-phone")
        finally:
            browser.close()
    print("page timings (s):", {title: round(seconds, 2) for title, seconds in timings.items()})
    assert outside == [], f"the dashboard fetched from outside the machine: {outside[:5]}"


PASSWORD = "a long shop password"
# In the configuration (AP and zone names) and on every page once logged in, never on the wire before.
SHOP_WORD = b"Fitting rooms"


@pytest.fixture
def protected_dashboard(simulated_template: Shop, tmp_path: Path) -> Iterator[Dashboard]:
    """The dashboard with its password in ./.streamlit/secrets.toml, as an installer would set it."""
    with running_dashboard(simulated_template, tmp_path, secrets=f'password = "{PASSWORD}"\n') as running:
        yield running


def test_nothing_is_shown_or_sent_before_the_password(protected_dashboard: Dashboard, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    dashboard = protected_dashboard
    received: list[bytes] = []  # everything the server sent over Streamlit's WebSocket
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "websocket", lambda socket: socket.on("framereceived", lambda frame: received.append(_bytes(frame)))
            )
            # A shared link with a filter: first the login form and nothing else.
            page.goto(f"{dashboard.url}/visitors?{filters.SSID}=Guest", wait_until="domcontentloaded")
            password = page.get_by_label("Password", exact=True)
            password.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=PAGE_TIMEOUT_MS)
            assert_login_form_only(page)
            assert not any(SHOP_WORD in frame for frame in received)
            screenshot(page, shots, "login")

            password.fill("a long shop passwort")
            password.press("Enter")
            page.get_by_text("Wrong password.").wait_for(timeout=PAGE_TIMEOUT_MS)
            assert_login_form_only(page)
            assert password.input_value() == ""  # the form forgets what was typed
            assert not any(SHOP_WORD in frame for frame in received)
            assert not any(b"passwort" in frame for frame in received)  # never echoed

            password.fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            wait_until_drawn(page, "Visitors", PAGES["visitors"][1])
            assert urlsplit(page.url).path == "/visitors"  # the link's page and filter, after the login
            first, last = _default_days(dashboard)
            guest = dashboard.report(first, last, "--ssid", "Guest")
            assert metric(page, "Visitors") == f"{guest['visitors']:,}"
            assert any(SHOP_WORD in frame for frame in received)  # the check above can fail
            assert page.locator(SIDEBAR_ELEMENTS).count() > 0  # the filters: what must be gone after the logout
            assert not any(PASSWORD.encode() in frame for frame in received)

            page.get_by_role("button", name="Log out").click()
            page.get_by_label("Password", exact=True).wait_for(timeout=PAGE_TIMEOUT_MS)
            # Streamlit removes the page's elements once the run that drew the form has finished (it may keep the
            # sidebar's empty frame, with only its collapse arrow, on screen).
            page.locator(SIDEBAR_ELEMENTS).first.wait_for(state="detached", timeout=PAGE_TIMEOUT_MS)
            page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=PAGE_TIMEOUT_MS)
            assert_login_form_only(page)

            # The login belongs to one tab's session: another tab asks again.
            other = browser.new_page(viewport={"width": 390, "height": 844})
            other.goto(f"{dashboard.url}/zones", wait_until="domcontentloaded")
            other.get_by_label("Password", exact=True).wait_for(timeout=PAGE_TIMEOUT_MS)
            other.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
                timeout=PAGE_TIMEOUT_MS
            )
            assert_login_form_only(other)
        finally:
            browser.close()


# Anything drawn in the sidebar: the filters, the page list, the logout button.
SIDEBAR_ELEMENTS = '[data-testid="stSidebar"] [data-testid="stElementContainer"], [data-testid="stSidebarNav"]'


def assert_login_form_only(page) -> None:
    assert page.locator("h1").all_inner_texts() == ["Presence"]
    for hidden in (
        '[data-testid="stMetric"]',
        ".vega-embed",
        '[data-testid="stDataFrame"]',
        SIDEBAR_ELEMENTS,
    ):
        assert page.locator(hidden).count() == 0, hidden
    assert page.locator('[data-testid="stException"]').count() == 0


def _bytes(frame: str | bytes) -> bytes:
    return frame.encode() if isinstance(frame, str) else frame


def _outside(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in ("127.0.0.1", "localhost")


def _default_days(dashboard: Dashboard) -> tuple[date, date]:
    today = datetime.now(dashboard.shop.tz).date()
    return filters.default_range(today - timedelta(days=dashboard.shop.days), today, today)


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), (None, pytest.skip.Exception)])
def test_a_missing_browser_skips_here_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci, outcome):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install chromium"):
        require_chromium()


# --- a chain -----------------------------------------------------------------------------------------------------

SITES_PAGE = ("Sites", 0)  # its figures are tables (sparklines included), no Vega charts


@pytest.fixture(scope="module")
def simulated_chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """The chain of test_sites (three shops, two time zones), made once for this module."""
    return build_chain(tmp_path_factory.mktemp("simulated-chain"))


@contextlib.contextmanager
def running_chain_dashboard(template: Chain, tmp_path: Path, capacities: dict[str, int]) -> Iterator[tuple[Chain, str]]:
    """`presence dashboard` on a free loopback port against a private copy of the simulated chain, whose sites
    have the given capacities."""
    chain = Chain(tmp_path / "data")
    shutil.copytree(template.data_dir, chain.data_dir)
    chain.set_capacity(capacities)
    port = free_port()
    log = (tmp_path / "dashboard.log").open("wb")
    process = subprocess.Popen(
        [PRESENCE, "dashboard", "--host", "127.0.0.1", "--port", str(port)],
        env={**clean_env(), **chain.env, "HOME": str(tmp_path)},
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}/_stcore/health", process)
        yield chain, f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        log.close()
        print((tmp_path / "dashboard.log").read_text(errors="replace")[-4000:])


def test_a_chain_in_a_real_browser(simulated_chain: Chain, tmp_path: Path) -> None:
    """The Sites page and Live for several sites and for one with its capacity, at desktop and phone width; the
    Sites table's visitors are each site's `presence report`, and a site chosen there opens its Visitors page with
    that site's figures."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with (
        running_chain_dashboard(simulated_chain, tmp_path, {"Shop 001": 40, "Shop 002": 60}) as (chain, url),
        sync_playwright() as playwright,
    ):
        first, last = filters.default_range(*_chain_days(chain))
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, viewport in (("", {"width": 1440, "height": 900}), ("-phone", {"width": 390, "height": 844})):
                page = browser.new_page(viewport=viewport, device_scale_factor=2 if name else 1)
                page.on("request", lambda request: outside.append(request.url) if _outside(request.url) else None)
                open_page(page, f"{url}/sites", *SITES_PAGE)
                tables = page.locator('[data-testid="stDataFrame"]')
                tables.nth(1).wait_for(timeout=PAGE_TIMEOUT_MS)  # the sites; the groups and the total
                # Each row's site and visitors (the grid's accessible cells: column 0 the site, 1 its visitors).
                for row, site in enumerate(("Shop 001", "Shop 002", "Shop 003")):
                    assert _cell(tables.first, 0, row) == site
                    visitors = _report(chain, first, last, "--site", site)["visitors"]
                    assert _cell(tables.first, 1, row).replace(",", "") == str(visitors), site
                screenshot(page, shots, f"sites{name}")
                open_page(page, f"{url}/", "Live", 1)
                page.get_by_text(LEARNING).wait_for(state="detached", timeout=PAGE_TIMEOUT_MS)
                page.get_by_role("heading", name="3 sites").wait_for(timeout=PAGE_TIMEOUT_MS)
                tables.nth(1).wait_for(timeout=PAGE_TIMEOUT_MS)  # the sites; the access points
                assert [_cell(tables.first, 0, row) for row in range(3)] == ["Shop 001", "Shop 002", "Shop 003"]
                screenshot(page, shots, f"live-sites{name}")
                open_page(page, f"{url}/?{filters.SITE}=Shop%20001", "Live", 1)
                page.get_by_text("Capacity used").first.wait_for(timeout=PAGE_TIMEOUT_MS)
                page.get_by_role("heading", name="Shop 001").wait_for(timeout=PAGE_TIMEOUT_MS)
                screenshot(page, shots, f"live-one-site{name}")

            # Choosing a site on the Sites page opens its pages, the site in the URL and the numbers its own.
            open_page(page, f"{url}/sites", *SITES_PAGE)
            chooser = page.get_by_label("Open a site's pages")
            chooser.click()
            chooser.fill("Shop 002")
            chooser.press("Enter")
            page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=PAGE_TIMEOUT_MS)
            page.get_by_role("button", name="Open its pages", exact=True).click()
            page.wait_for_url(
                lambda address: (
                    urlsplit(address).path == "/visitors"
                    and parse_qs(urlsplit(address).query).get(filters.SITE) == ["Shop 002"]
                ),
                timeout=PAGE_TIMEOUT_MS,
            )
            wait_until_drawn(page, "Visitors", PAGES["visitors"][1])
            report = _report(chain, first, last, "--site", "Shop 002")
            assert metric(page, "Visitors") == f"{report['visitors']:,}"
        finally:
            browser.close()
    assert outside == [], f"the dashboard fetched from outside the machine: {outside[:5]}"


def _cell(table, column: int, row: int) -> str:
    """The text of one cell of an st.dataframe (its grid keeps an accessible copy of the cells in view)."""
    cell = table.locator(f'[data-testid="glide-cell-{column}-{row}"]')
    cell.wait_for(state="attached", timeout=PAGE_TIMEOUT_MS)
    return cell.inner_text().strip()


def _chain_days(chain: Chain) -> tuple[date, date, date]:
    """The chain's first and last days with data and today, in the installation's time zone."""
    today = datetime.now(ZoneInfo(chain.env["PRESENCE_TIMEZONE"])).date()
    return today - timedelta(days=CHAIN_DAYS), today, today


def _report(chain: Chain, first: date, last: date, *options: str) -> dict:
    command = [PRESENCE, "report", "--from", str(first), "--to", str(last), "--format", "json", *options]
    done = subprocess.run(command, env={**clean_env(), **chain.env}, capture_output=True, check=True, text=True)
    return json.loads(done.stdout)
