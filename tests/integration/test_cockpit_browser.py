"""The cockpit page in a real browser: Debian's chromium, headless, driven by selenium through
Debian's chromedriver (nothing downloaded), against a running daemon holding positions on
the paper exchange. It sees each stop and the dollars at risk, is refused without the token,
and with it flattens one trade: that trade closes and nothing else does. It saves the page's
screenshot for docs/operations.md.

Without chromium these tests skip, except under CI=true, where they fail (.ci/run installs it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.cockpit_fixtures import TOKEN, free_port, hold, wait_for
from tests.conftest import exchange_env
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.daemon.app import Daemon
from trading_monitor.settings.config import load_settings
from trading_monitor.web.server import serve

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "images" / "cockpit.png"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    message = (f"{', '.join(missing)} not installed (Debian: apt-get install chromium "
               "chromium-driver); .ci/run installs them")
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": under CI=true a missing browser fails the run")
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument("--window-size=430,1900")  # a phone's width
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def daemon(db_params: dict[str, Any], exchange: Any) -> Iterator[tuple[Daemon, Any]]:
    """A running daemon (leader) with its cockpit, token set, on a free loopback port."""
    settings = load_settings(exchange_env(exchange, COCKPIT_TOKEN=TOKEN,
                                          COCKPIT_PORT=str(free_port())), need_broker=True)
    broker = AlpacaBroker(settings, budget=RequestBudget(100_000))
    running = Daemon(settings, db_params, broker, now=exchange.venue.clock.now,
                     election_seconds=0.5, heartbeat_seconds=0.5)
    cockpit = serve(running)
    assert cockpit is not None
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        wait_for("the daemon leads", lambda: running.leadership.is_leader)
        yield running, cockpit
    finally:
        cockpit.stop()
        running.stop()
        thread.join(timeout=60)


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def test_the_page_in_chromium_flattens_one_trade_with_the_token(db, jobs, broker, exchange, daemon,
                                                                browser):
    from selenium.webdriver.common.by import By

    trades = hold(db, jobs)
    aapl, msft = trades["AAPL"], trades["MSFT"]
    for aapl_price, msft_price in (("181.40", "422.10"), ("182.90", "419.80"),
                                   ("183.60", "423.50")):  # a morning: marks and snapshots
        exchange.control.advance(600)
        exchange.control.set_prices({"AAPL": aapl_price, "MSFT": msft_price})
        jobs.position_monitor()
    url = daemon[1].url
    browser.get(url + "/")
    card = f"#trade-{aapl}"
    assert _text(browser, f"{card} .stop-price") == "175"
    mark = Decimal(db.query("position_tracking", {"trade_journal_id": aapl})[0]["current_price"])
    assert _text(browser, f"{card} .at-risk") == f"${(mark - Decimal('175')) * 10:,.2f}"
    assert "All 2 position(s) protected" in _text(browser, "#protection")
    assert not browser.find_elements(By.CSS_SELECTOR, f"#flatten-{aapl}")  # no token yet
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))

    # Without the token: the confirmation is refused, and a forged POST changes nothing.
    browser.get(url + f"/confirm/flatten/{aapl}")
    assert "Log in to act" in _text(browser, "#refused")
    browser.execute_script(
        "const f = document.createElement('form'); f.method = 'post';"
        f"f.action = '/action/flatten/{aapl}';"
        "for (const [k, v] of [['reason', 'forged'], ['confirmed', 'sell 10 AAPL']]) {"
        " const i = document.createElement('input'); i.name = k; i.value = v; f.append(i); }"
        "document.body.append(f); f.submit();")
    wait_for("the refusal", lambda: "Not logged in" in browser.page_source)
    assert db.get_by_id("trade_journal", aapl)["status"] == "POSITION"

    # With the token: log in, flatten AAPL, confirm naming 10 AAPL.
    browser.get(url + "/login")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "login-submit").click()
    wait_for("logged in", lambda: browser.find_elements(By.ID, f"flatten-{aapl}"))
    assert "token" not in browser.current_url and TOKEN not in browser.page_source
    browser.find_element(By.ID, f"flatten-{aapl}").click()
    wait_for("the confirmation", lambda: browser.find_elements(By.ID, "confirm-what"))
    assert "sell 10 AAPL" in _text(browser, "#confirm-what")
    browser.find_element(By.ID, "reason").send_keys("browser test")
    browser.find_element(By.ID, "confirm").click()
    wait_for("the result", lambda: browser.find_elements(By.ID, "result"), 120)
    assert _text(browser, "#result") == "Done", _text(browser, "#result-lines")

    wait_for("AAPL closed", lambda: db.get_by_id("trade_journal", aapl)["status"] == "CLOSED",
             60)
    assert db.get_by_id("trade_journal", msft)["status"] == "POSITION"
    held = {p.symbol: p.qty for p in broker.get_positions()}
    assert "AAPL" not in held and held["MSFT"] == 20
    [audit] = db.query("event_log", {"event": "cockpit_action"})
    assert audit["entity_id"] == aapl and audit["detail"]["confirmed"] == "sell 10 AAPL"
