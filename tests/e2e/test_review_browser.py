"""The review page in a real browser: `maestro review serve` on loopback, opened in Debian's headless Chromium through
chromium-driver and Selenium (no browser download; Selenium Manager is skipped because the driver path is given).

A small catalog is generated the README's way (`maestro init`, `maestro seed`, `maestro run catalog`), the server is
started as an operator starts it, with a fresh reviewer token, and stopped by its process group. The checks: the run
page shows every track with its player and thumbnails, and each thumbnail really loaded; the player streams the
audio; an approval click, after logging in with the token, writes a REVIEWS row and the page then says so; and a write
without the token is refused, from a fresh browser and from a plain HTTP client, with nothing written.

Set ``MAESTRO_UPDATE_SCREENSHOT=1`` to copy the run page's screenshot to docs/review-run.png (the README's picture).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import secrets
import shutil
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    LOOPBACK,
    REPO_ROOT,
    RUN_DATE,
    VENV_BIN,
    Services,
    base_env,
    free_port,
    maestro,
    wait_for,
    warehouse_sql,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's `chromium` package
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"  # Debian's `chromium-driver` package


def _missing() -> list[str]:
    """What this test needs and this machine lacks, each named with how to get it."""
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append("the chromium binary (apt-get install chromium)")
    if not Path(CHROMEDRIVER).is_file():
        missing.append("the chromedriver binary (apt-get install chromium-driver)")
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package (pip install -e '.[test]')")
    return missing


pytestmark = pytest.mark.skipif(bool(_missing()), reason=f"browser test needs {', '.join(_missing())}")

# Three prompts the rights gate allows on RUN_DATE and one it rejects: three tracks and one rejection on the page.
PROMPTS = ("prm_0001", "prm_0005", "prm_0009", "prm_0019")
TRACK_SECONDS = 5  # the CLI's shortest track
PAGE_TIMEOUT_S = 30  # every browser wait is bounded by this
WINDOW = (1400, 1000)
REVIEWER, NOTE = "A&R lead", "Mix & levels fine; approved for delivery."
MARKUP_NOTE = 'Hold: <b class="injected">too quiet</b> & the intro drags'  # must come back as text, not markup
SCREENSHOT = REPO_ROOT / "docs" / "review-run.png"
SCREENSHOT_HEIGHT = 1500  # window height (px) for the README's picture: the run's header and two and a half tracks


@dataclass(frozen=True)
class Catalog:
    """A generated catalog date under its own MAESTRO_HOME."""

    env: dict[str, str]
    run_id: str
    durations_ms: dict[str, int]  # TRACK_ID -> TRACKS.DURATION_MS

    @property
    def track_ids(self) -> list[str]:
        return sorted(self.durations_ms)


@dataclass(frozen=True)
class ReviewServer:
    """`maestro review serve` on loopback, with its reviewer token."""

    base_url: str
    port: int
    token: str

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Three generated tracks (and one rejected prompt) for RUN_DATE, made with the real CLI."""
    env = base_env(MAESTRO_HOME=str(tmp_path_factory.mktemp("review") / "home"))
    for command in (["init"], ["seed"]):
        done = maestro(command, env, timeout_s=180)
        assert done.returncode == 0, done.stderr[-3000:]
    warehouse_sql(env, f"UPDATE PROMPT_CATALOG SET ACTIVE = PROMPT_ID IN ({', '.join(map(repr, PROMPTS))})")
    done = maestro(["run", "catalog", "--date", RUN_DATE, "--duration", str(TRACK_SECONDS), "--json"], env,
                   timeout_s=400)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    [tracks] = warehouse_sql(env, "SELECT TRACK_ID, DURATION_MS FROM TRACKS")
    assert len(tracks) == report["counts"]["tracks"] == len(PROMPTS) - 1
    return Catalog(env, report["run_id"], {t["TRACK_ID"]: int(t["DURATION_MS"]) for t in tracks})


@pytest.fixture(scope="module")
def review_server(services: Services, catalog: Catalog) -> Iterator[ReviewServer]:
    """The real server as a subprocess, up once /healthz answers; stopped (its process group) when the module ends."""
    port, token = free_port(), secrets.token_urlsafe(32)
    env = {**catalog.env, "MAESTRO_REVIEW_TOKEN": token}
    server = services.start("review-serve", [str(VENV_BIN / "maestro"), "review", "serve", "--host", LOOPBACK,
                                             "--port", str(port)], env)
    try:
        def up_or_exited() -> bool:
            return server.process.poll() is not None or _request(port, "GET", "/healthz") == (200, b"ok")

        wait_for(up_or_exited, 60, f"review server on port {port} (log: {server.log_path})")
        assert server.process.poll() is None, f"review serve exited {server.process.returncode}:\n{server.log_tail()}"
        yield ReviewServer(f"http://{LOOPBACK}:{port}", port, token)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Any]]:
    """Starts fresh headless Chromium sessions (no shared cookies); quits every one when the module ends."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []
    log_dir = tmp_path_factory.mktemp("chromedriver")

    def start() -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    f"--window-size={WINDOW[0]},{WINDOW[1]}", "--autoplay-policy=no-user-gesture-required"):
            options.add_argument(arg)
        # An explicit driver path: Selenium Manager is not run, so nothing is looked up or downloaded.
        service = Service(CHROMEDRIVER, log_output=str(log_dir / f"chromedriver-{len(drivers)}.log"))
        driver = webdriver.Chrome(service=service, options=options)
        drivers.append(driver)
        driver.set_page_load_timeout(PAGE_TIMEOUT_S)
        driver.set_script_timeout(PAGE_TIMEOUT_S)
        return driver

    try:
        yield start
    finally:
        for driver in drivers:
            with contextlib.suppress(Exception):
                driver.quit()


@pytest.fixture(scope="module")
def reviewer(open_browser: Callable[[], Any], review_server: ReviewServer) -> Any:
    """A browser session logged in through /login with the reviewer token."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec

    driver = open_browser()
    driver.get(review_server.url("/login"))
    field = driver.find_element(By.CSS_SELECTOR, "input[name=token]")
    field.send_keys(review_server.token + Keys.ENTER)
    _until(driver, ec.staleness_of(field), "the page after logging in")
    _loaded(driver)
    assert urllib.parse.urlsplit(driver.current_url).path != "/login", f"login refused: {_status(driver)}"
    [cookie] = [c for c in driver.get_cookies() if c.get("httpOnly")]
    assert cookie.get("sameSite") == "Strict"
    assert review_server.token not in json.dumps(driver.get_cookies())  # the session cookie is not the token itself
    return driver


def _until(driver: Any, check: Callable[[Any], Any], what: str, timeout_s: float = PAGE_TIMEOUT_S) -> Any:
    """Waits (bounded) for ``check(driver)`` to be truthy and returns it; fails naming ``what`` and the page shown."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout_s, poll_frequency=0.2,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    try:
        return wait.until(check)
    except TimeoutException:
        body = driver.execute_script("return document.body ? document.body.innerText : ''")
        pytest.fail(f"{what}: not within {timeout_s:g} s; at {driver.current_url}, the page says:\n{body[:2000]}")


def _status(driver: Any) -> tuple[int, str]:
    """The HTTP status of the page the browser shows (Navigation Timing) and the page's text."""
    status = driver.execute_script("return performance.getEntriesByType('navigation')[0].responseStatus")
    return int(status), str(driver.execute_script("return document.body ? document.body.innerText : ''"))


def _loaded(driver: Any) -> None:
    _until(driver, lambda d: d.execute_script("return document.readyState") == "complete", "page load")


def _request(port: int, method: str, path: str, body: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One plain HTTP request to loopback (no cookies, redirects not followed): (status, body)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        data = urllib.parse.urlencode(body).encode() if body is not None else None
        sent = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}
        conn.request(method, path, body=data, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _review_rows(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """REVIEWS as stored, by TRACK_ID: the warehouse file opened read-only beside the running server (retried while
    a request of the server holds its lock, bounded)."""
    import duckdb

    path = Path(catalog.env["MAESTRO_HOME"]) / "warehouse.duckdb"
    rows: list[dict[str, Any]] = []

    def read() -> bool:
        with duckdb.connect(str(path), read_only=True) as con:
            cursor = con.execute("SELECT * FROM REVIEWS")
            names = [d[0] for d in cursor.description]
            rows[:] = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        return True

    wait_for(read, 30, f"a read-only look at {path}", interval_s=0.1)
    return {r["TRACK_ID"]: r for r in rows}


def _run_page(driver: Any, server: ReviewServer, catalog: Catalog) -> None:
    """Opens the runs page and follows the run's link to its page (as a reviewer would)."""
    from selenium.webdriver.common.by import By

    driver.get(server.url("/"))
    row = _until(driver, lambda d: d.find_element(By.CSS_SELECTOR, f'tr.run[data-run-id="{catalog.run_id}"]'),
                 f"the run {catalog.run_id} on the runs page")
    row.find_element(By.CSS_SELECTOR, f'a[href$="/runs/{catalog.run_id}"]').click()
    _until(driver, lambda d: urllib.parse.urlsplit(d.current_url).path == f"/runs/{catalog.run_id}", "the run page")
    _loaded(driver)


def _state(driver: Any, track_id: str) -> str:
    from selenium.webdriver.common.by import By

    article = driver.find_element(By.CSS_SELECTOR, f'article.track[data-track-id="{track_id}"]')
    return str(article.find_element(By.CSS_SELECTOR, "span.review-state").text).strip()


def _click_decision(driver: Any, track_id: str, decision: str, reviewer: str, note: str) -> None:
    """Fills one track's review form and clicks its decision button; returns once the next page has loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    form = driver.find_element(By.CSS_SELECTOR, f'article.track[data-track-id="{track_id}"] form.review')
    assert form.get_attribute("action").endswith(f"/tracks/{track_id}/review")
    assert form.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("type") == "hidden"
    form.find_element(By.CSS_SELECTOR, "input[name=reviewer]").send_keys(reviewer)
    form.find_element(By.CSS_SELECTOR, "textarea[name=note]").send_keys(note)
    form.find_element(By.CSS_SELECTOR, f"button[name=decision][value={decision}]").click()
    _until(driver, ec.staleness_of(form), f"the page after clicking {decision} on {track_id}")
    _loaded(driver)


def _page_order(driver: Any) -> list[str]:
    """The track ids of the run page's articles, top to bottom."""
    from selenium.webdriver.common.by import By

    return [a.get_attribute("data-track-id") for a in driver.find_elements(By.CSS_SELECTOR, "article.track")]


def _save_screenshot(driver: Any, path: Path, *, for_readme: bool = False) -> None:
    """Saves what the browser shows to ``path``; with ``for_readme`` and MAESTRO_UPDATE_SCREENSHOT=1, also to
    docs/review-run.png (taller than the test's window, so that it shows a few tracks)."""
    if for_readme:
        driver.set_window_size(WINDOW[0], SCREENSHOT_HEIGHT)
        driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    assert path.stat().st_size > 10_000  # a rendered page, not an empty frame
    if for_readme and os.environ.get("MAESTRO_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOT)


def test_the_run_page_shows_every_track_with_a_player_and_both_thumbnails_loaded(open_browser, review_server,
                                                                                catalog, tmp_path):
    from selenium.webdriver.common.by import By

    driver = open_browser()  # reading needs no token (review_token_for_reads is off)
    _run_page(driver, review_server, catalog)
    assert sorted(_page_order(driver)) == catalog.track_ids
    assert len(driver.find_elements(By.CSS_SELECTOR, "article.track audio")) == len(catalog.track_ids)
    images = driver.find_elements(By.CSS_SELECTOR, "article.track img")
    assert len(images) == 2 * len(catalog.track_ids)
    for track_id in catalog.track_ids:
        article = driver.find_element(By.CSS_SELECTOR, f'article.track[data-track-id="{track_id}"]')
        audio = article.find_element(By.CSS_SELECTOR, "audio")
        assert audio.get_attribute("controls") is not None and audio.get_attribute("preload") == "none"
        assert urllib.parse.urlsplit(audio.get_attribute("src")).path == f"/tracks/{track_id}/audio"
        for kind in ("waveform", "spectrogram"):
            img = article.find_element(By.CSS_SELECTOR, f"img.{kind}")
            assert urllib.parse.urlsplit(img.get_attribute("src")).path == f"/tracks/{track_id}/{kind}.png"
        assert _state(driver, track_id) == "pending"
    whole_run = driver.find_element(By.CSS_SELECTOR, "form.review-run")
    assert urllib.parse.urlsplit(whole_run.get_attribute("action")).path == f"/runs/{catalog.run_id}/review"
    # Each thumbnail finished loading and decoded to a real picture (a broken image is complete with width 0).
    _until(driver, lambda d: d.execute_script("return [...document.images].every(i => i.complete)"), "thumbnails")
    sizes = driver.execute_script(
        "return [...document.querySelectorAll('article.track img')].map(i => [i.src, i.naturalWidth, "
        "i.naturalHeight])")
    assert len(sizes) == len(images) and all(w > 0 and h > 0 for _, w, h in sizes), sizes
    # The player streams the stored audio through the app: the browser reads its length from the (ranged) stream.
    first = _page_order(driver)[0]
    selector = f'article.track[data-track-id="{first}"] audio'
    driver.execute_script("const a = document.querySelector(arguments[0]); a.preload = 'metadata'; a.load();",
                          selector)
    _until(driver, lambda d: d.execute_script(
        "const a = document.querySelector(arguments[0]); return a.error !== null || a.readyState >= 1;", selector),
        "the player's metadata")
    error, duration_s = driver.execute_script(
        "const a = document.querySelector(arguments[0]); return [a.error && a.error.code, a.duration];", selector)
    assert error is None, f"the player could not load /tracks/{first}/audio (MediaError code {error})"
    assert duration_s == pytest.approx(catalog.durations_ms[first] / 1000, abs=0.05)
    _save_screenshot(driver, tmp_path / "review-run-page.png")


def test_an_approval_click_writes_a_reviews_row_and_the_page_then_shows_approved(reviewer, review_server, catalog,
                                                                                 tmp_path):
    from selenium.webdriver.common.by import By

    _run_page(reviewer, review_server, catalog)
    order = _page_order(reviewer)
    approved, held = order[0], order[-1]
    assert not {approved, held} & set(_review_rows(catalog))
    _click_decision(reviewer, approved, "approved", REVIEWER, NOTE)
    rows = _review_rows(catalog)
    assert set(rows) == {approved}  # one row, for the clicked track only
    assert (rows[approved]["DECISION"], rows[approved]["REVIEWER"], rows[approved]["NOTE"]) == (
        "approved", REVIEWER, NOTE)
    assert rows[approved]["RUN_ID"] == catalog.run_id and rows[approved]["DECIDED_AT"] is not None
    _run_page(reviewer, review_server, catalog)  # reloaded from the server, not the page the POST returned
    assert _state(reviewer, approved) == "approved"
    article = reviewer.find_element(By.CSS_SELECTOR, f'article.track[data-track-id="{approved}"]')
    assert REVIEWER in article.text and NOTE in article.text  # who and why, shown on the page
    # Hold another, with markup in the note: stored as typed, shown as text (a raw page would grow an element).
    _click_decision(reviewer, held, "held", REVIEWER, MARKUP_NOTE)
    rows = _review_rows(catalog)
    assert set(rows) == {approved, held} and (rows[held]["DECISION"], rows[held]["NOTE"]) == ("held", MARKUP_NOTE)
    _run_page(reviewer, review_server, catalog)
    assert [_state(reviewer, t) for t in order] == ["approved", *["pending"] * (len(order) - 2), "held"]
    held_article = reviewer.find_element(By.CSS_SELECTOR, f'article.track[data-track-id="{held}"]')
    assert MARKUP_NOTE in held_article.text
    assert not reviewer.find_elements(By.CSS_SELECTOR, ".injected"), "a reviewer's markup reached the page unescaped"
    _save_screenshot(reviewer, tmp_path / "review-run.png", for_readme=True)


def test_a_write_without_the_token_is_refused_and_writes_nothing(open_browser, review_server, catalog):
    stranger = open_browser()  # a fresh session: never logged in, no cookie
    _run_page(stranger, review_server, catalog)
    track_id = _page_order(stranger)[1]  # one the approval test leaves alone
    before = _review_rows(catalog)
    _click_decision(stranger, track_id, "approved", "stranger", "no token")
    status, text = _status(stranger)
    assert status == 401 and "token" in text.lower(), (status, text)  # refused, saying what is missing
    form = {"decision": "approved", "reviewer": "script", "note": "no token", "csrf": "x"}
    path = f"/tracks/{track_id}/review"
    assert _request(review_server.port, "POST", path, form)[0] == 401  # no token presented
    wrong = {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
    assert _request(review_server.port, "POST", path, form, wrong)[0] == 403  # a wrong token
    assert _request(review_server.port, "POST", f"/runs/{catalog.run_id}/review", form)[0] == 401
    assert _review_rows(catalog) == before and track_id not in before  # nothing was written
    _run_page(stranger, review_server, catalog)
    assert _state(stranger, track_id) == "pending"
