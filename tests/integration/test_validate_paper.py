"""`trading-monitor validate-paper`, run as a user runs it, against the paper exchange."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

from tests.conftest import TEST_KEYS, exchange_env
from trading_monitor.paper_exchange import PaperExchange

CHECKS = ("paper mode", "broker time", "account", "positions", "clock", "calendar", "asset",
          "latest trade", "snapshot", "fill activities", "stream connect", "order placed",
          "order by client id", "open orders list", "order cancelled", "stream events")


def validate(ex: PaperExchange, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "DATABASE"))}
    environ.update(exchange_env(ex, **env))
    return subprocess.run([sys.executable, "-m", "trading_monitor.cli", "validate-paper",
                           "--symbol", "AAPL", *args], env=environ, capture_output=True,
                          text=True, timeout=60, cwd="/tmp")


def lines(out: str) -> dict[str, str]:
    found = {}
    for line in out.splitlines():
        if line.startswith("[PASS] ") or line.startswith("[FAIL] "):
            rest = line[7:]
            name = next(c for c in sorted(CHECKS, key=len, reverse=True) if rest.startswith(c))
            found[name] = line[1:5]
    return found


def our_orders(ex: PaperExchange) -> list[dict[str, Any]]:
    return [o for o in ex.control.orders() if str(o["client_order_id"]).startswith("tmv-")]


def keys_absent(*texts: str) -> None:
    for text in texts:
        for key in TEST_KEYS.values():
            assert key not in text


def test_every_check_passes_and_the_order_ends_cancelled(exchange: PaperExchange) -> None:
    result = validate(exchange)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result.stdout) == {name: "PASS" for name in CHECKS}
    assert result.stdout.rstrip().endswith(f"{len(CHECKS)} passed, 0 failed")
    [order] = our_orders(exchange)
    assert order["status"] == "canceled"
    assert order["symbol"] == "AAPL" and order["qty"] == "1" and order["side"] == "buy"
    assert Decimal(order["limit_price"]) == Decimal("90.00")  # half of 180.00: it could not fill
    assert [p for p in exchange.control.state()["positions"]] == []
    keys_absent(result.stdout, result.stderr)


def test_a_failing_read_fails_the_run_and_the_order_is_cancelled_anyway(
        exchange: PaperExchange) -> None:
    # The open-orders list fails while our order is live: every retry gets a 500.
    exchange.control.set_fault("GET /v2/orders", "http_status", status=500, count=50)
    result = validate(exchange)
    assert result.returncode == 1, result.stdout + result.stderr
    verdicts = lines(result.stdout)
    assert verdicts.pop("open orders list") == "FAIL"
    assert set(verdicts.values()) == {"PASS"}
    assert result.stdout.rstrip().endswith(f"{len(CHECKS) - 1} passed, 1 failed")
    [order] = our_orders(exchange)
    assert order["status"] == "canceled"
    keys_absent(result.stdout, result.stderr)


def test_refused_keys_fail_every_broker_check_without_echoing_them(
        exchange: PaperExchange) -> None:
    exchange.control.set_fault("*", "http_status", status=401, count=1000)
    result = validate(exchange, "--stream-seconds", "2")
    assert result.returncode == 1
    verdicts = lines(result.stdout)
    assert verdicts["paper mode"] == "PASS"
    assert verdicts["account"] == "FAIL" and verdicts["order placed"] == "FAIL"
    assert our_orders(exchange) == []
    keys_absent(result.stdout, result.stderr)


def test_live_trading_is_refused_before_any_request(exchange: PaperExchange) -> None:
    exchange.control.reset_counters()
    result = validate(exchange, ALPACA_PAPER="false", ALPACA_LIVE_TRADING_CONFIRMED="true")
    assert result.returncode == 2
    assert "refuses live trading" in result.stderr
    assert result.stdout == ""
    assert sum(exchange.control.counters().values()) == 0
    keys_absent(result.stdout, result.stderr)


def test_a_lost_submit_answer_is_settled_by_our_client_order_id(exchange: PaperExchange) -> None:
    # The exchange creates the order and drops the connection: found by its id, not resent.
    exchange.control.set_fault("POST /v2/orders", "lost_response", count=1)
    result = validate(exchange)
    assert result.returncode == 0, result.stdout + result.stderr
    [order] = our_orders(exchange)
    assert order["status"] == "canceled"


def test_a_refused_cancel_fails_and_names_the_order_left_live(exchange: PaperExchange) -> None:
    exchange.control.set_cancel_behavior("refuse")
    result = validate(exchange)
    assert result.returncode == 1
    verdicts = lines(result.stdout)
    assert verdicts["order cancelled"] == "FAIL" and verdicts["stream events"] == "FAIL"
    [order] = our_orders(exchange)
    assert order["status"] == "new"
    assert f"{order['client_order_id']} may still be live" in result.stderr
    assert "refused the cancel" in result.stdout
