"""Today's Alpaca through the real alpaca-py client: bodies without the fields Alpaca removed,
with fields and enum values nobody has seen (the exchange's drift switch), and the contract
errors a missing needed field raises."""

from __future__ import annotations

import ast
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import exchange_env
from tests.helpers import add_decision, entry, outcome
from tests.support.jobs import Jobs
from trading_monitor.broker import convert, known
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.contract import CONTRACT_KEY
from trading_monitor.broker.errors import (
    CODE_FORBIDDEN_ORDER,
    SharesHeldRefused,
    WashTradeRefused,
)
from trading_monitor.broker.models import OrderRequest
from trading_monitor.broker.needed import NEEDED
from trading_monitor.broker.shapes import check_objects, read_shapes
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.cli.health_shapes import check_broker_shapes
from trading_monitor.exceptions import BrokerContractError
from trading_monitor.invariants.model import VIOLATION
from trading_monitor.invariants.run import run_check
from trading_monitor.paper_exchange import drift_decoys
from trading_monitor.report import write_report
from trading_monitor.settings.config import load_settings

D = Decimal
PACKAGE = Path(__file__).resolve().parents[2] / "trading_monitor"


BASE = {"RECONCILE_GRACE_SECONDS": "60", "MAX_DAILY_LOSS": "off", "FLATTEN_UNTRACKED": "false"}


def _settings(exchange, **env):
    return load_settings(exchange_env(exchange, **{**BASE, **env}), need_broker=True)


def _broker(settings) -> AlpacaBroker:
    return AlpacaBroker(settings, budget=RequestBudget(100_000))


def _jobs(jobs: Jobs, **env: str) -> Jobs:
    """The jobs on `_settings`' environment, with a broker built on it."""
    return jobs.with_settings(**{**BASE, **env})


# -- the reproduction: today's asset body -------------------------------------------------

def test_todays_asset_body_executes_new_trades(db, db_params, jobs, exchange):
    """Alpaca removed easy_to_borrow (2026-11-24): alpaca-py 0.44's Asset model refuses the
    body, and every NEW_TRADE used to end DEFERRED, then REJECTED."""
    raw = exchange.control._call("GET", "/v2/assets/AAPL")
    assert "easy_to_borrow" not in raw and raw["borrow_status"] == "easy_to_borrow"
    jobs = _jobs(jobs)
    long_ = add_decision(db, entry("AAPL", quantity=10))
    short = add_decision(db, entry("MSFT", side="SELL", entry_price="419.00",
                                   stop_loss="430.00", take_profit="400.00", quantity=2))
    jobs.executor()
    assert outcome(db, long_)["terminal_state"] == "EXECUTED"
    assert outcome(db, short)["terminal_state"] == "EXECUTED"
    assert sorted(o["symbol"] for o in exchange.control.orders()
                  if o["client_order_id"].endswith("-entry")) == ["AAPL", "MSFT"]


@pytest.mark.parametrize("status, reason", [
    (None, "borrow status unknown"),
    ("hard_to_borrow", "is hard_to_borrow (borrow_status)"),
])
def test_a_short_needs_easy_to_borrow(db, db_params, jobs, exchange, status, reason):
    exchange.control._call("POST", "/control/borrow_status",
                           {"symbol": "MSFT", "borrow_status": status})
    jobs = _jobs(jobs)
    short = add_decision(db, entry("MSFT", side="SELL", entry_price="419.00",
                                   stop_loss="430.00", take_profit="400.00", quantity=2))
    long_ = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                   take_profit="440.00", quantity=2))
    jobs.executor()
    assert outcome(db, short)["terminal_state"] == "REJECTED"
    assert reason in outcome(db, short)["reason"]
    assert outcome(db, long_)["terminal_state"] == "EXECUTED"  # a long needs no borrow
    assert [o["side"] for o in exchange.control.orders()
            if o["client_order_id"].endswith("-entry")] == ["buy"]


# -- drift: unknown fields, omitted optional fields, decoys with unknown values ------------

def test_the_whole_lifecycle_with_drift_on(db, db_params, jobs, exchange, tmp_path):
    exchange.control.set_drift(True)
    jobs = _jobs(jobs)
    settings = jobs.settings
    broker = jobs.broker
    aapl = add_decision(db, entry("AAPL", entry_price="181.00", stop_loss="175.00",
                                  take_profit="230.00", quantity=10))
    msft = add_decision(db, entry("MSFT", entry_price="421.00", stop_loss="410.00",
                                  take_profit="440.00", quantity=5))
    jobs.executor()
    assert {outcome(db, d)["terminal_state"] for d in (aapl, msft)} == {"EXECUTED"}
    exchange.control.advance(1)
    jobs.order_monitor()
    aapl_trade = int(outcome(db, aapl)["trade_journal_id"])
    msft_trade = int(outcome(db, msft)["trade_journal_id"])
    assert {db.get_by_id("trade_journal", t)["status"] for t in (aapl_trade, msft_trade)} \
        == {"POSITION"}
    # A trail step: AAPL +8.3 % moves its stop to break-even (the entry fill, 180).
    exchange.control.set_price("AAPL", "195.00")
    jobs.position_monitor()
    stops = [o for o in exchange.control.orders() if o["symbol"] == "AAPL"
             and o["type"] == "stop" and o["status"] in ("new", "held")]
    assert [D(o["stop_price"]) for o in stops] == [D("180.00")]
    # MSFT reaches its take profit: the exit fills, the trade closes with its P&L.
    exchange.control.set_price("MSFT", "441.00")
    for _ in range(2):
        exchange.control.advance(30)
        jobs.order_monitor()
        jobs.position_monitor()
    assert db.get_by_id("trade_journal", msft_trade)["status"] == "CLOSED"
    # Reconciliation met the decoy position of an unknown asset class: never adopted.
    assert not db.query("trade_journal", {"symbol": drift_decoys.POSITION_SYMBOL})
    assert all(o["symbol"] != drift_decoys.POSITION_SYMBOL for o in exchange.control.orders())
    assert ("order", "status", drift_decoys.ORDER_STATUS) in known.unknown_values_seen()
    assert not db.query("system_state", {"key": CONTRACT_KEY})
    files = write_report(db, exchange.venue.clock.now().date(), tmp_path)
    closed = {t["trade_id"]: t for t in json.loads(files.json.read_text())["trades_closed"]}
    cash = db.execute_query("SELECT sum(CASE WHEN side = 'sell' THEN qty * price ELSE "
                            "-qty * price END) AS cash FROM fills WHERE trade_journal_id = %s",
                            [msft_trade])[0]["cash"]
    assert D(closed[msft_trade]["realised_pnl"]) == cash > 0
    check = run_check(db_params, broker, settings, now=exchange.venue.clock.now)
    assert [f.message for f in check.findings if f.severity == VIOLATION] == []


def test_a_position_of_an_unknown_asset_class_leaves_the_monitors_working(db, db_params,
                                                                          jobs, exchange):
    exchange.control.set_drift(True)
    jobs = _jobs(jobs)
    broker = jobs.broker
    assert [p.symbol for p in broker.get_positions(include_unmanaged=True)] \
        == [drift_decoys.POSITION_SYMBOL]
    assert broker.get_positions() == []  # never traded, adopted, protected or flattened
    exchange.control.advance(120)
    assert jobs.order_monitor().problems == []
    report = jobs.position_monitor()
    assert [a for a in report.actions if a.startswith("left alone")] == [
        f"left alone: 1000 {drift_decoys.POSITION_SYMBOL} of asset class "
        f"'{drift_decoys.ASSET_CLASS}', which trading-monitor does not trade"]
    assert report.status == "PASS"
    assert not db.query("trade_journal", {"symbol": drift_decoys.POSITION_SYMBOL})


# -- contract errors: loud, named, recorded ------------------------------------------------

def test_a_missing_needed_field_names_the_endpoint_and_the_field():
    body = {"symbol": "AAPL", "status": "active", "tradable": True, "shortable": True}
    with pytest.raises(BrokerContractError) as caught:
        convert.asset(body, "GET /v2/assets/{symbol}")
    assert (caught.value.endpoint, caught.value.field) == ("GET /v2/assets/{symbol}",
                                                           "asset.class")
    assert "asset.class" in str(caught.value) and "GET /v2/assets" in str(caught.value)


def test_optional_fields_may_be_missing_and_unknown_ones_are_ignored():
    body = {name: None for name in NEEDED["order"]} | {
        "id": "o1", "client_order_id": "c1", "symbol": "AAPL", "side": "buy", "qty": "3",
        "type": "limit", "order_class": "brand_new_class", "time_in_force": "day",
        "status": "brand_new_status", "filled_qty": "0", "limit_price": "10.5",
        "x_something": {"nested": True}}
    order = convert.order(body, "GET /v2/orders")
    assert (order.status, order.order_class, order.qty) == ("brand_new_status",
                                                          "brand_new_class", D(3))
    assert order.updated_at is None and order.legs == ()


def test_the_contract_error_is_alerted_deferred_and_kept_for_health(db, db_params, jobs, exchange,
                                                                    caplog):
    """A broken answer (here: an asset body without `class`) is a loud, named error: an
    ALERT at once, the decision deferred (not counted as a plain deferral), the key kept in
    system_state until the endpoint reads fine again."""
    exchange.control._call("POST", "/control/drift", {"on": True, "omit": {"asset": ["class"]}})
    jobs = _jobs(jobs)
    d = add_decision(db, entry("AAPL"))
    report = jobs.executor()
    ((_, _, label, reason),) = report.outcomes
    assert label == "DEFERRED" and "asset.class" in reason
    assert not db.query("decision_outcome", {"analysis_decision_id": d})
    assert any(r.getMessage().startswith("ALERT broker contract broken")
               for r in caplog.records)
    (state,) = db.query("system_state", {"key": CONTRACT_KEY})
    assert json.loads(state["value"])["field"] == "asset.class"
    assert exchange.control.orders() == []
    exchange.control._call("POST", "/control/drift", {"on": False})
    jobs.executor()
    assert outcome(db, d)["terminal_state"] == "EXECUTED"
    assert not db.query("system_state", {"key": CONTRACT_KEY})


def test_shapes_reports_missing_fields_and_unknown_values(exchange):
    settings = _settings(exchange)
    assert read_shapes(settings, "AAPL", exchange.venue.clock.now().date()).ok
    exchange.control.set_drift(True)
    report = read_shapes(settings, "AAPL", exchange.venue.clock.now().date())
    assert report.missing == [] and report.unreadable == {}
    unknown = {(f.kind, f.field) for f in report.unknown}
    assert {("order", "status"), ("order", "order_class"), ("position", "asset_class"),
            ("activity", "activity_type")} <= unknown
    missing = check_objects("GET /v2/account", "account", [{"id": "a"}])
    assert {f.field for f in missing} == NEEDED["account"] - {"id"}


# -- never a strict alpaca-py response model --------------------------------------------

def test_the_adapter_never_builds_an_alpaca_py_response_model(settings):
    broker = AlpacaBroker(settings)
    assert broker._trading._use_raw_data and broker._data._use_raw_data
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.endswith(".models") or \
                    not node.module.startswith("alpaca."), f"{path} imports {node.module}"


# -- one code, two refusals: told apart by the message ------------------------------------

def test_a_wash_trade_refusal_and_a_held_shares_refusal_are_told_apart(broker, exchange):
    """Alpaca answers both with 403 and code 40310000."""
    broker.submit_order(OrderRequest("wt-buy", "AAPL", "buy", D(5), "limit", "day",
                                     limit_price=D("170.00")))
    with pytest.raises(WashTradeRefused, match="potential wash trade") as wash:
        broker.submit_order(OrderRequest("wt-stop", "AAPL", "sell", D(5), "stop", "gtc",
                                         stop_price=D("160.00")))
    broker.submit_order(OrderRequest("wt-long", "MSFT", "buy", D(3), "market", "day"))
    exchange.control.advance(1)
    broker.submit_order(OrderRequest("wt-exit", "MSFT", "sell", D(3), "limit", "gtc",
                                     limit_price=D("500.00")))
    with pytest.raises(SharesHeldRefused, match="insufficient qty") as held:
        broker.submit_order(OrderRequest("wt-exit-2", "MSFT", "sell", D(3), "limit", "gtc",
                                         limit_price=D("510.00")))
    assert wash.value.code == held.value.code == CODE_FORBIDDEN_ORDER
    assert {o["client_order_id"] for o in exchange.control.orders()} == {
        "wt-buy", "wt-long", "wt-exit"}


def test_health_warns_of_unknown_values_and_names_missing_fields(exchange):
    settings = _settings(exchange)
    today = exchange.venue.clock.now().date()
    assert check_broker_shapes(settings, today).state == "OK"
    exchange.control.set_drift(True)
    check = check_broker_shapes(settings, today)
    assert check.state == "WARNING" and "quantum" in check.message


def test_a_contract_error_that_lasts_past_the_session_ends_the_decision_skipped(
        db, db_params, jobs, exchange):
    """Not counted against MAX_DEFERRALS; once its entry's session has closed, SKIPPED with
    the endpoint and the field in the reason, and no order ever sent."""
    exchange.control.set_drift(True, omit={"asset": ["class"]})
    jobs = _jobs(jobs, MAX_DEFERRALS="2")
    d = add_decision(db, entry("AAPL"))
    for _ in range(3):  # more cycles than MAX_DEFERRALS allows plain deferrals
        exchange.control.advance(120)
        ((_, _, label, _),) = jobs.executor().outcomes
        assert label == "DEFERRED"
    exchange.control.set_clock(datetime(2026, 11, 23, 14, 45, tzinfo=timezone.utc))  # Monday
    jobs.executor()
    result = outcome(db, d)
    assert result["terminal_state"] == "SKIPPED"
    assert "GET /v2/assets/{symbol}" in result["reason"] and "asset.class" in result["reason"]
    assert exchange.control.orders() == []
