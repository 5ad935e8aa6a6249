"""The bodies follow today's Alpaca (December 2026): its spec and its changelog.

Read raw (alpaca-py with raw_data=True, or plain HTTP), so no test leans on alpaca-py's strict
models — which cannot read today's assets at all (the last test).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

import pytest
from alpaca.trading.client import TradingClient
from pydantic import ValidationError

from tests.paper_exchange.conftest import KEY, SECRET
from tests.paper_exchange.raw import post

# The properties of the schemas in trading-api.json of alpaca-mcp-server 2.4.0 (sha256 in
# docs/paper-exchange.md), less what the changelog removed since (easy_to_borrow,
# maintenance_margin_requirement). Orders also carry `subtag` and `source`: the spec's own
# order examples show them.
SPEC = {
    "account": {
        "account_blocked", "account_number", "accrued_fees", "balance_asof", "buying_power",
        "cash", "created_at", "crypto_status", "currency", "equity", "id", "initial_margin",
        "intraday_adjustments", "last_equity", "last_maintenance_margin", "long_market_value",
        "maintenance_margin", "multiplier", "non_marginable_buying_power",
        "options_approved_level", "options_buying_power", "options_trading_level",
        "pending_reg_taf_fees", "pending_transfer_in", "pending_transfer_out",
        "portfolio_value", "regt_buying_power", "short_market_value", "shorting_enabled", "sma",
        "status", "trade_suspended_by_user", "trading_blocked", "transfers_blocked"},
    "asset": {
        "attributes", "borrow_status", "class", "cusip", "exchange", "fractionable", "id",
        "margin_requirement_long", "margin_requirement_short", "marginable", "min_order_size",
        "min_trade_increment", "name", "price_increment", "shortable", "status", "symbol",
        "tradable"},
    "order": {
        "asset_class", "asset_id", "canceled_at", "client_order_id", "created_at",
        "expired_at", "expires_at", "extended_hours", "failed_at", "filled_at",
        "filled_avg_price", "filled_qty", "group_id", "group_role", "hwm", "id", "legs",
        "limit_price", "notional", "order_class", "order_type", "position_intent", "qty",
        "ratio_qty", "replaced_at", "replaced_by", "replaces", "side", "status", "stop_price",
        "submitted_at", "symbol", "time_in_force", "trail_percent", "trail_price", "type",
        "updated_at", "subtag", "source"},
    "position": {
        "asset_class", "asset_id", "asset_marginable", "avg_entry_price", "avg_entry_swap_rate",
        "change_today", "cost_basis", "current_price", "exchange", "lastday_price",
        "market_value", "prev_swap_rate", "qty", "qty_available", "side", "swap_rate",
        "symbol", "unrealized_intraday_pl", "unrealized_intraday_plpc", "unrealized_pl",
        "unrealized_plpc", "usd"},
    "fill_activity": {
        "activity_type", "cum_qty", "id", "leaves_qty", "order_id", "order_status", "price",
        "qty", "side", "symbol", "transaction_time", "type"},
    "clock": {"is_open", "next_close", "next_open", "timestamp"},
    "calendar": {"close", "date", "open", "session_close", "session_open", "settlement_date"},
}
REQUIRED = {
    "asset": {"id", "class", "exchange", "symbol", "name", "status", "tradable", "marginable",
              "shortable", "fractionable"},
    "position": {"asset_id", "symbol", "exchange", "asset_class", "avg_entry_price", "qty",
                 "side", "market_value", "cost_basis", "unrealized_pl", "unrealized_plpc",
                 "unrealized_intraday_pl", "unrealized_intraday_plpc", "current_price",
                 "lastday_price", "change_today", "asset_marginable"},
    "clock": SPEC["clock"],
    "calendar": SPEC["calendar"],
}
PDT_FIELDS = {"pattern_day_trader", "daytrade_count", "daytrading_buying_power", "bod_dtbp",
              "last_daytrade_count", "last_daytrading_buying_power"}


def http(exchange: Any, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        exchange.url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET,
                 "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        return json.loads(resp.read())


def within_spec(kind: str, body: dict[str, Any]) -> None:
    assert set(body) <= SPEC[kind], set(body) - SPEC[kind]
    assert REQUIRED.get(kind, set()) <= set(body), REQUIRED[kind] - set(body)


def test_assets_carry_borrow_status_not_easy_to_borrow(exchange):
    assets = http(exchange, "GET", "/v2/assets")
    for asset in assets:
        within_spec("asset", asset)
        assert "easy_to_borrow" not in asset
        assert "maintenance_margin_requirement" not in asset
        assert isinstance(asset["margin_requirement_long"], str)
        assert isinstance(asset["margin_requirement_short"], str)
    status = {a["symbol"]: a["borrow_status"] for a in assets}
    assert status["AAPL"] == "easy_to_borrow" and status["HALT"] == "hard_to_borrow"
    assert sum(s == "easy_to_borrow" for s in status.values()) == len(status) - 1


def test_borrow_status_is_settable_per_symbol_including_absent(exchange):
    answer = http(exchange, "POST", "/control/borrow_status",
                  {"symbol": "tsla", "borrow_status": "hard_to_borrow"})
    assert answer["borrow_status"] == "hard_to_borrow"
    assert http(exchange, "GET", "/v2/assets/TSLA")["borrow_status"] == "hard_to_borrow"
    http(exchange, "POST", "/control/borrow_status", {"symbol": "TSLA", "borrow_status": None})
    assert "borrow_status" not in http(exchange, "GET", "/v2/assets/TSLA")
    # A value Alpaca may add later can be served too; other symbols are untouched.
    http(exchange, "POST", "/control/borrow_status",
         {"symbol": "TSLA", "borrow_status": "not_borrowable"})
    assert http(exchange, "GET", "/v2/assets/TSLA")["borrow_status"] == "not_borrowable"
    assert http(exchange, "GET", "/v2/assets/AAPL")["borrow_status"] == "easy_to_borrow"
    http(exchange, "POST", "/control/reset")
    assert http(exchange, "GET", "/v2/assets/TSLA")["borrow_status"] == "easy_to_borrow"


@pytest.mark.parametrize("body", [{"symbol": "NOPE", "borrow_status": "easy_to_borrow"},
                                  {"symbol": "AAPL", "borrow_status": ""},
                                  {"symbol": "AAPL", "borrow_status": True}])
def test_borrow_status_control_refuses_nonsense(exchange, body):
    with pytest.raises(urllib.error.HTTPError) as err:
        http(exchange, "POST", "/control/borrow_status", body)
    assert err.value.code == 422


def test_account_has_no_pattern_day_trader_fields(exchange, raw_client):
    account: dict[str, Any] = raw_client.get_account()  # type: ignore[assignment]
    within_spec("account", account)
    assert not PDT_FIELDS & set(account)
    assert account["pending_transfer_out"] == "0"


def test_orders_positions_activities_clock_calendar_within_spec(exchange, ctl, raw_client):
    ctl.set_price("AAPL", Decimal("100"))
    entry = post(raw_client, "AAPL", 2, type="market", tif="gtc", order_class="bracket",
                 take_profit={"limit_price": "110"}, stop_loss={"stop_price": "95"})
    simple = post(raw_client, "MSFT", 1, type="limit", limit_price="1")
    ctl.advance(1)
    within_spec("order", entry)
    for leg in entry["legs"]:
        within_spec("order", leg)
    within_spec("order", simple)
    for position in http(exchange, "GET", "/v2/positions"):
        within_spec("position", position)
    fills = http(exchange, "GET", "/v2/account/activities/FILL")
    assert fills
    for fill in fills:
        within_spec("fill_activity", fill)
        assert "account_id" not in fill
    within_spec("clock", http(exchange, "GET", "/v2/clock"))
    for day in http(exchange, "GET", "/v2/calendar?start=2026-11-20&end=2026-11-30"):
        within_spec("calendar", day)


def test_group_id_and_role_on_bracket_orders_only(ctl, raw_client):
    ctl.set_price("AAPL", Decimal("100"))
    entry = post(raw_client, "AAPL", 2, type="limit", limit_price="90", tif="gtc",
                 order_class="bracket", take_profit={"limit_price": "110"},
                 stop_loss={"stop_price": "85"})
    roles = {leg["group_role"] for leg in entry["legs"]}
    assert entry["group_role"] == "entry" and roles == {"take_profit", "stop_loss"}
    assert {leg["group_id"] for leg in entry["legs"]} == {entry["group_id"]}
    listed: list[dict[str, Any]] = raw_client.get("/orders", {"status": "all"})  # type: ignore[assignment]
    assert {o["group_id"] for o in listed} == {entry["group_id"]}
    simple = post(raw_client, "MSFT", 1, type="limit", limit_price="1")
    assert "group_id" not in simple and "group_role" not in simple


def test_alpaca_py_strict_get_asset_cannot_read_todays_asset(exchange):
    """alpaca-py 0.44 still requires easy_to_borrow: why the adapter parses raw JSON."""
    strict = TradingClient(KEY, SECRET, url_override=exchange.url)
    with pytest.raises(ValidationError, match="easy_to_borrow"):
        strict.get_asset("AAPL")
    raw = TradingClient(KEY, SECRET, url_override=exchange.url, raw_data=True)
    assert raw.get_asset("AAPL")["borrow_status"] == "easy_to_borrow"  # type: ignore[index]
