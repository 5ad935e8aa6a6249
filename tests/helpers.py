"""Small helpers the executor tests share: writing decisions as n8n would, reading results."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from trading_monitor.clock import Clock, system_clock
from trading_monitor.db.connection import Row, TradingDB
from trading_monitor.domain.decision import parse_decision
from trading_monitor.ledger import Intent, Ledger
from trading_monitor.ledger.installation import installation_id
from trading_monitor.ledger.intents import plan_for
from trading_monitor.paper_exchange import PaperExchange


def entry(ticker: str = "AAPL", **overrides: Any) -> dict[str, Any]:
    """A resting (below market) SWING buy with stop and take profit."""
    body = {"ticker": ticker, "primary_action": "NEW_TRADE", "side": "BUY",
            "trade_style": "SWING", "entry_price": "175.00", "stop_loss": "170.00",
            "take_profit": "190.00", "quantity": 10}
    body.update(overrides)
    return body


def add_decision(db: TradingDB, body: dict[str, Any] | str | None, **columns: Any) -> int:
    """Insert a row the way the n8n workflow does (JSON in `decision`, a few plain columns)."""
    row: dict[str, Any] = {"decision": body}
    if isinstance(body, dict):
        row["ticker"] = body.get("ticker")
        row["primary_action"] = body.get("primary_action")
    row.update(columns)
    return db.insert("analysis_decision", row)


_clock: list[Clock] = []


def use_clock(clock: Clock | None) -> None:
    """The exchange fixture's simulated time becomes `exchange_now()`'s clock."""
    _clock[:] = [clock] if clock is not None else []


def exchange_now() -> datetime:
    return (_clock[0] if _clock else system_clock)()


def outcome(db: TradingDB, decision_id: int) -> Row:
    rows = db.query("decision_outcome", {"analysis_decision_id": decision_id})
    assert len(rows) == 1, f"decision {decision_id} has {len(rows)} outcomes"
    return rows[0]


def decision(db: TradingDB, decision_id: int) -> Row:
    row = db.get_by_id("analysis_decision", decision_id)
    assert row is not None
    return row


def orders_at_broker(exchange: PaperExchange, client_order_id: str | None = None
                     ) -> list[dict[str, Any]]:
    """Every top-level order the exchange holds (optionally with one client order id)."""
    found = exchange.control.orders()
    if client_order_id is not None:
        found = [o for o in found if o["client_order_id"] == client_order_id]
    return found


def our_orders(db: TradingDB, decision_id: int) -> list[Row]:
    return db.query("order_execution", {"analysis_decision_id": decision_id})


def ledger(db: TradingDB, run_id: str = "test-run") -> Ledger:
    return Ledger(db, run_id, system_clock)


def write_test_intent(db: TradingDB, decision_id: int, protection_mode: str = "bracket",
                      run_id: str = "crashed-run") -> Intent:
    """The intent an executor would have committed for this decision before crashing."""
    row = db.get_by_id("analysis_decision", decision_id)
    d = parse_decision(row or {})
    return ledger(db, run_id).write_intent(installation_id(db), d,
                                           plan_for(d, protection_mode, None))


class JsonEndpoint:
    """A local json:// target: apprise POSTs each notification here."""

    def __init__(self) -> None:
        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
