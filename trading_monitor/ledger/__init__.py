"""The lifecycle ledger: the only code that writes trade_journal, order_execution and
position rows. Jobs decide what happened; the ledger records it and checks every trade
transition against `domain.lifecycle`.
"""

from trading_monitor.ledger.books import Ledger
from trading_monitor.ledger.intents import Intent, IntentPlan, load_intent, order_request

__all__ = ["Intent", "IntentPlan", "Ledger", "load_intent", "order_request"]
