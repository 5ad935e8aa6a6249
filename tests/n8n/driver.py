"""The workflow tests/integration/test_n8n_workflows.py runs in a real n8n: every case in one
execution.

It plays the upstream analysis: Code nodes emit decisions as an analysis node would, and
Execute Workflow nodes call the three importable workflows of deployment/n8n/ exactly as
docs/n8n.md wires them. Between steps it polls the outcome workflow until the executor (run
by the test, in the background) has taken the decision. Beside them, "trap" nodes do what
the guide warns against, so the test shows each trap is real on this n8n.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

DRIVER_ID = "tmTestDriver0001"
SUBMIT_ID = "tmSubmitDecision"
LOOKUP_ID = "tmLookupOpenTrad"
OUTCOME_ID = "tmReadOutcome001"
CREDENTIAL = {"postgres": {"id": "tmPostgresCred01", "name": "trading-monitor PostgreSQL"}}

# Text n8n must carry intact: commas (Query Parameters' separator), apostrophes and quotes
# (SQL's and JSON's), unicode, a backslash, what looks like an expression or a parameter.
TRICKY = ("breakout, retest; it's \"clean\" — 上昇 📈 naïve café, O'Neil's \\ "
          "$1 {{ $json.x }} '); DROP TABLE analysis_decision; --")

FIRST: list[dict[str, Any]] = [
    # 0: a swing buy that rests (AAPL trades at 185.00 in the test)
    {"ticker": "AAPL", "primary_action": "NEW_TRADE", "side": "BUY", "trade_style": "SWING",
     "entry_price": "180.00", "stop_loss": "171.00", "take_profit": "198.00", "quantity": 10,
     "time_in_force": "DAY", "reasoning": TRICKY, "analysis": {"score": 0.83, "tags": ["a,b"]}},
    # 1: NO_ACTION for a ticker with no open trade (trap 4): written, and settled
    {"ticker": "MSFT", "primary_action": "NO_ACTION", "reasoning": "nothing open, that's fine"},
    # 2..4: refused by submit_decision, with the field named; nothing is written
    {"ticker": "NVDA", "primary_action": "NEW_TRADE", "side": "BUY", "trade_style": "SWING",
     "entry_price": "125.00", "take_profit": "140.00", "quantity": 5},
    {"ticker": "NVDA", "primary_action": "BUY"},
    {"primary_action": "CANCEL", "existing_order_id": "x"},
]


def _id() -> str:
    return str(uuid.uuid4())


class Builder:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.connections: dict[str, dict[str, list[list[dict[str, Any]]]]] = {}

    def add(self, name: str, type_: str, version: float, parameters: dict[str, Any],
            after: str | None = None, output: int = 0, **extra: Any) -> str:
        self.nodes.append({"id": _id(), "name": name, "type": f"n8n-nodes-base.{type_}",
                           "typeVersion": version, "position": [220 * len(self.nodes), 0],
                           "parameters": parameters, **extra})
        if after is not None:
            self.connect(after, name, output)
        return name

    def connect(self, source: str, target: str, output: int = 0) -> None:
        outputs = self.connections.setdefault(source, {"main": []})["main"]
        while len(outputs) <= output:
            outputs.append([])
        outputs[output].append({"node": target, "type": "main", "index": 0})

    def code(self, name: str, js: str, after: str | None) -> str:
        return self.add(name, "code", 2, {"jsCode": js}, after)

    def call(self, name: str, workflow_id: str, after: str, continue_on_error: bool = False,
             mode: str = "each") -> str:
        extra: dict[str, Any] = (
            {"onError": "continueRegularOutput"} if continue_on_error else {})
        return self.add(name, "executeWorkflow", 1.3, {
            "source": "database",
            "workflowId": {"__rl": True, "value": workflow_id, "mode": "id"},
            "mode": mode, "options": {"waitForSubWorkflow": True}}, after, **extra)

    def postgres(self, name: str, query: str, replacement: str | None, after: str,
                 output: int = 0, **extra: Any) -> str:
        options = {} if replacement is None else {"queryReplacement": replacement}
        return self.add(name, "postgres", 2.6, {"operation": "executeQuery", "query": query,
                                                "options": options}, after, output,
                        credentials=CREDENTIAL, **extra)

    def wait_until_executed(self, step: str, after: str) -> str:
        """Poll 'read an outcome' until the executor has taken the decision; then go on."""
        read = self.call(f"Outcome {step}", OUTCOME_ID, after)
        done = self.add(f"Executed {step}?", "if", 2.2, {
            "conditions": {
                "options": {"caseSensitive": True, "leftValue": "", "typeValidation": "loose",
                            "version": 2},
                "conditions": [{"id": _id(), "leftValue": "={{ $json.executed }}",
                                "rightValue": "",
                                "operator": {"type": "boolean", "operation": "true",
                                             "singleValue": True}}],
                "combinator": "and"},
            "options": {}}, read)
        # A pause in the database: `n8n execute` ends at a Wait node (the execution waits).
        pause = self.postgres(f"Wait {step}", "SELECT $1::integer AS decision_id, "
                              "pg_sleep(0.5) IS NULL AS slept;", "={{ [$json.decision_id] }}",
                              done, output=1)
        self.connect(pause, read)
        return done


def emit(items: list[dict[str, Any]]) -> str:
    return f"return {json.dumps([{'json': i} for i in items], ensure_ascii=False)};"


def decide(action_when_open: str, extra: dict[str, Any]) -> str:
    """A Code node's JS: the next decision from the look-up's answer, as a user's would."""
    return f"""
return $input.all().map(({{ json: found }}) => {{
  if (!found.open_trade) {{
    // the no-trade branch: a new trade for this ticker
    return {{ json: {{ ticker: found.ticker, primary_action: 'NEW_TRADE', side: 'BUY',
      trade_style: 'SWING', entry_price: '240.00', stop_loss: '230.00',
      take_profit: '270.00', quantity: 3, reasoning: "no open trade, so: new, it's new" }} }};
  }}
  return {{ json: {{ ticker: found.ticker, primary_action: '{action_when_open}',
    existing_trade_journal_id: found.existing_trade_journal_id,
    existing_order_id: found.existing_order_id, ...{json.dumps(extra, ensure_ascii=False)} }} }};
}});"""


def build() -> dict[str, Any]:
    b = Builder()
    start = b.add("Start", "manualTrigger", 1, {})

    # The traps, done the way the guide warns against (each continues on error).
    trap = b.code("Trap input", emit([{"ticker": "ZZZZ", "reasoning": "breakout, retest",
                                       "note": "it's"}]), start)
    b.postgres("Trap 1 comma split", "SELECT $1::text AS got;", "={{ $json.reasoning }}", trap,
               onError="continueRegularOutput")
    b.postgres("Trap 2 spliced JSON", "SELECT '{{ JSON.stringify($json) }}'::jsonb AS got;",
               None, trap, onError="continueRegularOutput")
    b.postgres("Trap 3 no row", "SELECT 1 AS found FROM trade_journal WHERE symbol = $1;",
               "={{ [$json.ticker] }}", trap)
    b.postgres("Trap 4 NO_ACTION without a trade",
               "INSERT INTO analysis_decision (ticker, primary_action, existing_trade_journal_id, "
               "decision) VALUES ('ZZZZ', 'NO_ACTION', $1, '{\"ticker\": \"ZZZZ\", "
               "\"primary_action\": \"NO_ACTION\"}'::jsonb) RETURNING id;",
               "={{ $json.existing_trade_journal_id }}", trap, onError="continueRegularOutput")

    # Step 1: decisions straight from an analysis node, submitted one by one.
    first = b.code("Decisions 1", emit(FIRST), start)
    submitted = b.call("Submit 1", SUBMIT_ID, first, continue_on_error=True)
    new_trade = b.code("The NEW_TRADE", "return [{ json: $input.first().json }];", submitted)
    done = b.wait_until_executed("1", new_trade)

    # Step 2: look up AAPL (open: NO_ACTION) and TSLA (none: the no-trade branch, NEW_TRADE).
    tickers = b.code("Tickers 2", emit([{"ticker": "aapl"}, {"ticker": "TSLA"}]), None)
    b.connect(done, tickers)
    found = b.call("Look up 2", LOOKUP_ID, tickers)
    decided = b.code("Decide 2", decide("NO_ACTION", {"reasoning": "thesis intact, still"}),
                     found)
    submitted = b.call("Submit 2", SUBMIT_ID, decided)
    last = b.code("Last of 2", "return [{ json: $input.last().json }];", submitted)
    done = b.wait_until_executed("2", last)

    # Step 3: AMEND the resting AAPL entry from the look-up's ids.
    step3 = b.code("Tickers 3", emit([{"ticker": "AAPL"}]), None)
    b.connect(done, step3)
    found = b.call("Look up 3", LOOKUP_ID, step3)
    decided = b.code("Decide 3", decide("AMEND", {
        "side": "BUY", "trade_style": "SWING", "entry_price": "178.50", "stop_loss": "170.00",
        "take_profit": "196.00", "quantity": 10, "time_in_force": "DAY",
        "reasoning": "lower the entry, \"a bit\""}), found)
    submitted = b.call("Submit 3", SUBMIT_ID, decided)
    done = b.wait_until_executed("3", submitted)

    # Step 4: CANCEL the replacement, then read its outcome.
    step4 = b.code("Tickers 4", emit([{"ticker": "AAPL"}]), None)
    b.connect(done, step4)
    found = b.call("Look up 4", LOOKUP_ID, step4)
    decided = b.code("Decide 4", decide("CANCEL", {"reasoning": "earnings moved up, sadly"}),
                     found)
    submitted = b.call("Submit 4", SUBMIT_ID, decided)
    done = b.wait_until_executed("4", submitted)
    last = b.code("Tickers 5", emit([{"ticker": "AAPL"}, {"ticker": "tsla"}, {"ticker": "MSFT"}]),
                  done)
    b.call("Look up 5", LOOKUP_ID, last)
    b.call("Look up 5 at once", LOOKUP_ID, last, mode="once")  # many tickers in one call

    return {"id": DRIVER_ID, "name": "trading-monitor test driver", "active": False,
            "settings": {"executionOrder": "v1"}, "nodes": b.nodes,
            "connections": b.connections, "pinData": {}}
