"""Bad input, end to end: hypothesis writes hostile analysis_decision rows into a real database
and the real executor runs a cycle against the paper exchange.

What n8n/NocoDB can put in each column is bounded by its type (migrations 0001/0002):
`decision` is jsonb (any JSON value; text in some production tables: then any text),
`ticker`, `primary_action`, `reasoning`, `existing_order_id` are text (anything but NUL),
`confidence` numeric (NaN too), `existing_trade_journal_id` integer, `created_at`
timestamptz ('-infinity' and 'infinity' too), `executed` boolean (NULL too).

Every bad row must end REJECTED with a readable reason, reach the broker with no order, and
leave the cycle running: the good rows of the same batch still go out. The broken settings
half of the file feeds garbage to every variable of settings/config.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import exchange_env
from tests.helpers import orders_at_broker
from tests.support.jobs import Jobs
from trading_monitor.broker.alpaca import AlpacaBroker
from trading_monitor.broker.transport import RequestBudget
from trading_monitor.db.connection import TradingDB
from trading_monitor.domain.decision import Action, Decision
from trading_monitor.exceptions import ConfigError
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.paper_exchange.assets import DEFAULT_ASSETS
from trading_monitor.settings.config import Settings, load_settings

# Limits that would reject good rows after a few batches are off; every other check is on.
FUZZ_ENV = {"BLOCK_DUPLICATE_ENTRY": "false", "BLOCK_SAME_DAY_REENTRY": "false",
            "MAX_OPEN_POSITIONS": "off", "MAX_TOTAL_EXPOSURE": "off"}
KNOWN_SYMBOLS = {s for s, _, _ in DEFAULT_ASSETS}
TICKER_RE = re.compile(r"^[A-Z][A-Z0-9.\-/]{0,11}$")
SQL_STRINGS = ["'; DROP TABLE analysis_decision; --", "1 OR 1=1", "\" OR \"\"=\"",
               "175); DELETE FROM trade_journal; --", "AAPL'--", "$$; TRUNCATE order_execution; $$",
               "%(now)s", "%s%s%s", "{}", "\\x00", "../../v2/positions"]
NUMBER_WORDS = ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "+inf", "",
                " ", "abc", "1,000", "$175", "175 USD", "0x10", "1/2", "\u00bd", "1e", "--5"]
RESTING = {  # good entries that rest at the broker (no fill, so no monitor work is needed)
    "AAPL": {"entry_price": "175.00", "stop_loss": "170.00", "take_profit": "190.00"},
    "MSFT": {"entry_price": "415.00", "stop_loss": "400.00", "take_profit": "440.00"},
    "NVDA": {"entry_price": "125.00", "stop_loss": "120.00", "take_profit": "140.00"},
}
# Text a text column (or a JSON string) can hold: anything but NUL and lone surrogates.
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
any_text = st.text(CHARS, max_size=40)
RAW = "\x01raw\x01"  # placeholder for JSON text json.dumps cannot write (5,000-digit numbers)


@dataclass
class Row:
    """One analysis_decision row: the decision JSON (or raw text) and the plain columns."""

    body: Any
    columns: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    raw: str | None = None  # replaces RAW in the JSON text
    why: str = ""

    def decision_text(self) -> str | None:
        if self.body is None and self.raw is None:
            return None
        text = json.dumps(self.body)
        return text.replace(json.dumps(RAW), self.raw) if self.raw is not None else text


def swing(symbol: str = "AAPL", **overrides: Any) -> dict[str, Any]:
    body = {"ticker": symbol, "primary_action": "NEW_TRADE", "side": "BUY",
            "trade_style": "SWING", **RESTING[symbol], "quantity": 1}
    body.update(overrides)
    return body


def with_columns(body: dict[str, Any], why: str, **columns: Any) -> Row:
    """The row n8n writes: the JSON plus ticker and primary_action copied into their columns."""
    cols = {k: body.get(k) for k in ("ticker", "primary_action") if isinstance(body.get(k), str)}
    cols.update(columns)
    return Row(body, cols, why=why)


def _not_a_number(text: str) -> bool:
    try:
        Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return True
    return False


# -- the bad rows --------------------------------------------------------------------------

NUMERIC = ["entry_price", "stop_loss", "take_profit", "quantity", "risk_amount", "risk_pct"]
not_numbers = st.one_of(st.sampled_from(NUMBER_WORDS + SQL_STRINGS),
                        any_text.filter(_not_a_number), st.booleans(),
                        st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
negative = st.one_of(st.integers(max_value=0), st.decimals(max_value=0, places=2).map(str),
                     st.floats(max_value=0, allow_nan=False, allow_infinity=False))
too_big = st.one_of(st.integers(min_value=10**10, max_value=10**80),
                    st.floats(min_value=1e10, allow_nan=False, allow_infinity=False),
                    st.sampled_from(["1e400", "1E+1000", "99999999999999999999.99"]))


@st.composite
def bad_number(draw: st.DrawFn) -> Row:
    name = draw(st.sampled_from(NUMERIC))
    body = swing(draw(st.sampled_from(sorted(RESTING))))
    if name in ("risk_amount", "risk_pct"):
        del body["quantity"]
    kind = draw(st.sampled_from(["type", "negative", "too big", "giant", "off tick"]))
    if kind == "giant":  # beyond Python's 4,300-digit int limit (and float range)
        body[name] = RAW
        digits = draw(st.integers(min_value=4301, max_value=6000))
        return Row(body, {"ticker": body["ticker"], "primary_action": "NEW_TRADE"},
                   raw="9" * digits, why=f"{name} has {digits} digits")
    if kind == "off tick":  # prices: more places than the tick; sizes: fractions or dust
        value: Any = draw(st.sampled_from(["175.005", "0.00001", "1.999", "0.123456"]))
        if name == "quantity":
            value = draw(st.sampled_from(["1.5", "0.1", "2.0000001"]))
        elif name in ("risk_amount", "risk_pct"):
            value = draw(st.sampled_from(["0.00009", "0.0001", "1E-30"]))
    else:
        value = draw({"type": not_numbers, "negative": negative, "too big": too_big}[kind])
    body[name] = value
    return with_columns(body, f"{name}={value!r} ({kind})")


@st.composite
def missing_field(draw: st.DrawFn) -> Row:
    body = swing()
    name = draw(st.sampled_from(["side", "trade_style", "entry_price", "stop_loss",
                                 "take_profit", "quantity", "ticker"]))
    body.pop(name)
    if name == "ticker" and draw(st.booleans()):
        return Row(body, {"primary_action": "NEW_TRADE"}, why="no ticker anywhere")
    row = with_columns(body, f"without {name}")
    if name == "ticker":
        row.columns.pop("ticker", None)
    return row


ENUM_OK = {"side": {"BUY", "SELL", "LONG", "SHORT"}, "trade_style": {"DAYTRADE", "SWING"},
           "time_in_force": {"DAY", "GTC"}, "primary_action": {a.value for a in Action}}


@st.composite
def bad_enum(draw: st.DrawFn) -> Row:
    name = draw(st.sampled_from(sorted(ENUM_OK)))
    value = draw(st.one_of(
        st.one_of(any_text, st.sampled_from(SQL_STRINGS + ["NEW TRADE", "buy!", "CANCELL"]))
        .filter(lambda s: s.strip().upper() not in ENUM_OK[name] and s.strip() != ""),
        st.integers(), st.booleans(), st.lists(st.text(max_size=2), max_size=2)))
    body = swing()
    body[name] = value
    return with_columns(body, f"{name}={value!r}")


@st.composite
def bad_ticker(draw: st.DrawFn) -> Row:
    kind = draw(st.sampled_from(["garbage", "unknown", "column disagrees", "halted"]))
    body = swing()
    if kind == "garbage":
        value: Any = draw(st.one_of(
            st.one_of(any_text, st.sampled_from(SQL_STRINGS),
                      st.text(CHARS, min_size=13, max_size=60))
            .filter(lambda s: not TICKER_RE.match(s.strip().upper())),
            st.integers(), st.lists(st.just("AAPL"), max_size=1)))
        body["ticker"] = value
        row = with_columns(body, f"ticker={value!r}")
        if draw(st.booleans()) and isinstance(value, str):  # only the column holds it
            body.pop("ticker")
            row.columns["ticker"] = value
        return row
    if kind == "unknown":
        symbol = draw(st.from_regex(r"\A[A-Z]{1,5}\Z").filter(lambda s: s not in KNOWN_SYMBOLS))
        return with_columns({**body, "ticker": symbol}, f"unknown symbol {symbol}")
    if kind == "halted":
        return with_columns({**body, "ticker": "HALT"}, "listed but not tradable")
    other = draw(any_text.filter(lambda s: s.strip() and s.strip().upper() != "AAPL"))
    return with_columns(body, f"ticker column {other!r}", ticker=other)


@st.composite
def not_an_object(draw: st.DrawFn) -> Row:
    cols = {"ticker": "AAPL", "primary_action": "NEW_TRADE"}
    kind = draw(st.sampled_from(["scalar", "array", "deep", "giant", "json in a string"]))
    if kind == "deep":
        depth = draw(st.integers(min_value=2000, max_value=6000))
        return Row(RAW, cols, raw="[" * depth + "]" * depth, why=f"nested {depth} deep")
    if kind == "giant":
        return Row(RAW, cols, raw="9" * draw(st.integers(4301, 6000)), why="a giant number")
    if kind == "array":
        return Row([swing()], cols, why="an array holding a decision")
    if kind == "json in a string":
        text = draw(any_text.filter(lambda s: not isinstance(_loads(s), dict)))
        return Row(text, cols, why=f"the JSON string {text!r}")
    value = draw(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(
        allow_nan=False, allow_infinity=False)))
    return Row(value, cols, why=f"decision is {value!r}")


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


@st.composite
def bad_reference(draw: st.DrawFn) -> Row:
    """CANCEL/AMEND/NO_ACTION naming a trade or order that is not ours (or nothing)."""
    action = draw(st.sampled_from(["CANCEL", "AMEND", "NO_ACTION"]))
    body = swing(primary_action=action) if action == "AMEND" else {
        "ticker": "AAPL", "primary_action": action}
    kind = draw(st.sampled_from(["journal", "journal column", "order", "none"]))
    if kind == "none" or (kind == "order" and action == "NO_ACTION"):
        if action == "NO_ACTION":  # NO_ACTION needs no id; a journal that is not there is bad
            body["existing_trade_journal_id"] = draw(st.integers(10**6, 2**31 - 1))
        return with_columns(body, f"{action} without a usable id")
    if kind == "order":
        order_id = draw(st.one_of(any_text, st.sampled_from(SQL_STRINGS),
                                  st.text(CHARS, min_size=129, max_size=200)))
        return with_columns(body, f"{action} of order {order_id!r}", existing_order_id=order_id)
    journal = draw(st.one_of(st.integers(10**6, 2**31 - 1), st.integers(-(2**31), 0)))
    if kind == "journal column":
        return with_columns(body, f"{action} of journal column {journal}",
                            existing_trade_journal_id=journal)
    value = draw(st.one_of(st.just(journal), st.integers(min_value=2**31, max_value=10**30),
                           st.sampled_from(["1; DROP TABLE trade_journal", "one", 1.5])))
    return with_columns({**body, "existing_trade_journal_id": value},
                        f"{action} of journal {value!r}")


@st.composite
def bad_plan(draw: st.DrawFn) -> Row:
    """Well-formed numbers that a pre-trade check must refuse."""
    kind = draw(st.sampled_from(["stop side", "target side", "fat finger", "notional",
                                 "stale"]))
    body = swing()
    if kind == "stop side":
        body["stop_loss"] = str(draw(st.decimals("175.01", "10000", places=2)))
    elif kind == "target side":
        body["take_profit"] = str(draw(st.decimals("1.00", "174.99", places=2)))
    elif kind == "fat finger":  # far from the 180.00 market; stop and target kept around it
        entry = draw(st.decimals("250.00", "100000", places=2))
        body.update(entry_price=str(entry), stop_loss=str(entry - 5),
                    take_profit=str(entry + 10))
    elif kind == "notional":
        body["quantity"] = draw(st.integers(1000, 10**8))
    else:
        row = with_columns(body, "stale")
        row.created_at = draw(st.sampled_from(["-infinity", "0001-01-01 00:00+00",
                                               "1999-12-31 23:59+00"]))
        return row
    return with_columns(body, kind)


bad_rows = st.one_of(bad_number(), missing_field(), bad_enum(), bad_ticker(), not_an_object(),
                     bad_reference(), bad_plan())


@st.composite
def good_row(draw: st.DrawFn) -> Row:
    """A valid decision with garbage only where the executor must not look."""
    symbol = draw(st.sampled_from(sorted(RESTING)))
    extra = draw(st.dictionaries(st.text(CHARS, max_size=8).filter(
        lambda k: k not in Decision.model_fields),
        st.one_of(any_text, st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
        max_size=3))
    body = {**extra, **swing(symbol), "reasoning": draw(any_text)}
    if draw(st.booleans()):
        body.update(side=draw(st.sampled_from(["buy", " Long ", "BUY"])),
                    trade_style=draw(st.sampled_from(["swing", "SWING "])))
    row = with_columns(body, "good")
    row.columns.update(
        confidence=draw(st.sampled_from([None, "NaN", "-1", "1e300", "0.5"])),
        reasoning=draw(st.one_of(any_text, st.sampled_from(SQL_STRINGS))))
    row.created_at = draw(st.sampled_from([None, "infinity"]))
    return row


# -- the harness: insert a batch, run one real cycle, check every row and the broker -----------


def insert(db: TradingDB, row: Row) -> int:
    columns = {"decision": row.decision_text(), **row.columns}
    decision_id = db.insert("analysis_decision", columns)
    if row.created_at is not None:
        db.execute_update("UPDATE analysis_decision SET created_at = %s WHERE id = %s",
                          [row.created_at, decision_id])
    return decision_id


def check_batch(db: TradingDB, db_params: dict[str, Any], broker: AlpacaBroker,
                settings: Settings, exchange: PaperExchange, bad: list[Row],
                good: list[Row]) -> None:
    before = top_level_orders(exchange)
    half = len(bad) // 2  # good rows between bad ones: a bad row before must not stop them
    rows = ([(r, True) for r in bad[:half]] + [(r, False) for r in good]
            + [(r, True) for r in bad[half:]])
    ids = {insert(db, r): (r, is_bad) for r, is_bad in rows}
    # the real cycle: no crash allowed
    report = Jobs(db_params, broker, settings, exchange).executor()
    seen = {o[0]: (o[2], o[3]) for o in report.outcomes}
    sent = set()
    for decision_id, (r, is_bad) in ids.items():
        label, reason = seen[decision_id]
        stored = db.query("decision_outcome", {"analysis_decision_id": decision_id})
        assert len(stored) == 1, r.why
        assert db.get_by_id("analysis_decision", decision_id)["executed"] is True
        if is_bad:
            assert label == "REJECTED", f"{r.why}: {label} {reason}"
            assert_readable(reason, r.why)
        else:
            assert label == "EXECUTED", f"good row {r.body!r}: {label} {reason}"
            sent.add(stored[0]["client_order_id"])
    new = top_level_orders(exchange) - before
    assert new == sent  # one order per good row, none for any bad one


def top_level_orders(exchange: PaperExchange) -> set[str]:
    """Client order ids of the orders placed (a bracket's legs come with their parent)."""
    return {o["client_order_id"] for o in orders_at_broker(exchange) if not o["parent_id"]}


def assert_readable(reason: str, why: str) -> None:
    assert reason and reason.strip(), why
    assert len(reason) < 2000, why
    # Neither a crash nor the database's refusal: the decision's own fault, said in words.
    for sign in ("Traceback", "internal error", "database refused", "Error:", "<"):
        assert sign not in reason or sign in why, (why, reason)


@pytest.fixture
def fuzz_settings(exchange: PaperExchange) -> Settings:
    return load_settings(exchange_env(exchange, **FUZZ_ENV), need_broker=True)


@pytest.fixture
def fuzz_broker(fuzz_settings: Settings) -> AlpacaBroker:
    return AlpacaBroker(fuzz_settings, budget=RequestBudget(100_000))


FUZZ = hsettings(max_examples=250, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(bad=st.lists(bad_rows, min_size=1, max_size=6), good=st.lists(good_row(), max_size=2))
def test_bad_rows_are_rejected_and_good_ones_still_go_out(db, db_params, fuzz_broker,
                                                          fuzz_settings, exchange, bad, good):
    check_batch(db, db_params, fuzz_broker, fuzz_settings, exchange, bad, good)


@pytest.fixture
def text_decision_db(db: TradingDB) -> Iterator[TradingDB]:
    """A production table whose decision column is text: then any text at all can arrive."""
    db.execute_update("ALTER TABLE analysis_decision ALTER COLUMN decision TYPE text")
    yield db


raw_text = st.one_of(
    any_text, st.sampled_from(['{"ticker": "AAPL", "quantity": NaN}', '{"ticker": Infinity}',
                               "{not json", '{"ticker": "AAPL",', "null", "[]", '"AAPL"',
                               "\ufeff{}", "{" * 3000, '{"a":' * 3000]),
    st.builds(lambda body, cut: json.dumps(body)[:cut], st.just(swing()), st.integers(1, 60)),
    st.builds(lambda n: '{"ticker": "AAPL", "quantity": %s}' % ("9" * n), st.integers(4301, 5000)),
).filter(lambda s: not isinstance(_loads(s), dict) or "primary_action" not in _loads(s))


@FUZZ
@given(texts=st.lists(raw_text, min_size=1, max_size=6), good=st.lists(good_row(), max_size=1))
def test_any_text_in_a_text_decision_column_is_rejected(text_decision_db, db_params, fuzz_broker,
                                                        fuzz_settings, exchange, texts, good):
    bad = [Row(RAW, {"ticker": "AAPL", "primary_action": "NEW_TRADE"}, raw=t, why=repr(t[:60]))
           for t in texts]
    check_batch(text_decision_db, db_params, fuzz_broker, fuzz_settings, exchange, bad, good)


# -- failing examples the fuzzing found, kept as plain tests ---------------------------------


@pytest.mark.parametrize("created_at", ["infinity", "-infinity"])
def test_an_infinite_created_at_does_not_stop_the_cycle(db, db_params, fuzz_broker,
                                                        fuzz_settings, exchange, created_at):
    """Found: the claim's age arithmetic failed on it ('cannot subtract infinite
    timestamps'), so every cycle crashed on that one row and no decision went out again."""
    good = Row(swing("MSFT"), {"ticker": "MSFT", "primary_action": "NEW_TRADE"})
    odd = Row(swing(), {"ticker": "AAPL", "primary_action": "NEW_TRADE"}, created_at=created_at,
              why="stale")
    if created_at == "-infinity":  # infinitely old: stale
        check_batch(db, db_params, fuzz_broker, fuzz_settings, exchange, [odd], [good])
    else:  # written "in the future": read as now, so the decision goes out like any other
        check_batch(db, db_params, fuzz_broker, fuzz_settings, exchange, [], [good, odd])


@pytest.mark.parametrize("raw", ['{"ticker": "AAPL", "quantity": %s}' % ("9" * 4301),
                                 "[" * 3000 + "]" * 3000], ids=["4301-digit number", "deep"])
def test_jsonb_python_cannot_read_is_rejected_not_a_crash(db, db_params, fuzz_broker,
                                                         fuzz_settings, exchange, raw):
    """Found: psycopg2's json.loads raised inside the claim's fetch (int digit limit,
    RecursionError), crashing every cycle on that row."""
    bad = Row(RAW, {"ticker": "AAPL", "primary_action": "NEW_TRADE"}, raw=raw, why="giant")
    check_batch(db, db_params, fuzz_broker, fuzz_settings, exchange, [bad],
                [Row(swing("NVDA"), {"ticker": "NVDA", "primary_action": "NEW_TRADE"})])
    reason = db.query("decision_outcome", {"terminal_state": "REJECTED"})[0]["reason"]
    assert reason.startswith("malformed decision: decision JSON is not usable: "), reason


# -- broken settings: garbage in every variable of settings/config.py
# ---------------------------------

SECRET_ENV = {"ALPACA_API_KEY": "PKFUZZKEY4242", "ALPACA_SECRET_KEY": "fuzz-secret-7f7f",
              "POSTGRES_PASSWORD": "pgpass-fuzz-3131",
              "DATABASE_URL": "postgresql://tm:dburl-pass-5858@127.0.0.1:1/tm",
              "TEST_POSTGRES_PASSWORD": "testpass-fuzz-6464",
              "ALERT_URLS": "ntfy://alert-token-9393@ntfy.sh/tm",
              "REPORT_URLS": "mailto://me:report-pass-2727@example.com"}
SECRET_VARS = {f.alias for f in Settings.model_fields.values()
               if "SecretStr" in str(f.annotation)}
ALL_VARS = sorted(str(f.alias) for f in Settings.model_fields.values())
# Cross-field rules name the variable that must change, which may be another one.
LINKED = {"ALPACA_PAPER": {"ALPACA_LIVE_TRADING_CONFIRMED"}}
ENV_CHARS = st.characters(blacklist_characters="\x00")  # lone surrogates: undecodable bytes
HOSTILE = NUMBER_WORDS + SQL_STRINGS + [
    "-1", "0", "1e400", "9" * 5000, "99999999999999999999", "25:61", "9:45pm", "12:00:00.5",
    "true false", "\n", "off", "none", "null", "yes please", "http://[::1", "ftp://x",
    "8:0,15", "8:0,8:0", "-5:0", "a:b", "1" * 400 + ":0", "DEBUG; rm -rf /", "json\n",
    "\udcff\udcfe", "\u0661\u0662", "\U0001f4b8", "\t", "0.0000001", "-0", "1_000"]


def _names(exc: ConfigError) -> set[str]:
    return {p.split(":", 1)[0] for p in exc.problems}


@pytest.mark.parametrize("var", ALL_VARS)
def test_every_hostile_value_in_every_setting_is_refused_by_name_or_harmless(var):
    for value in HOSTILE:
        check_setting(var, value)


@hsettings(max_examples=400, deadline=None, derandomize=True)
@given(var=st.sampled_from(ALL_VARS), value=st.text(ENV_CHARS, max_size=30))
def test_any_text_in_any_setting_is_refused_by_name_or_harmless(var, value):
    check_setting(var, value)


def check_setting(var: str, value: str) -> None:
    """A named ConfigError (nothing else, never a secret in it), or a usable value."""
    env = {**SECRET_ENV, var: value}
    secrets = [v for k, v in SECRET_ENV.items() if k != var]
    try:
        loaded = load_settings(env, need_broker=True)
    except ConfigError as exc:  # any other exception is a crash: the test fails
        assert _names(exc) & ({var} | LINKED.get(var, set())), (var, value, exc.problems)
        assert _names(exc) <= {var} | LINKED.get(var, set()), (var, value, exc.problems)
        assert not any(s in str(exc) for s in secrets)
        return
    for name in Settings.model_fields:  # accepted: then a usable value, no inf/NaN
        value_now = getattr(loaded, name)
        if isinstance(value_now, (float, Decimal)):
            assert Decimal(value_now).is_finite(), (var, value)
    text = repr(loaded) + str(loaded)
    assert not any(s in text for s in secrets if len(s) >= 8)
    # The fuzzed secret's own value: not shown, unless the settings show that text anyway
    # (random text like 'localhos' is also a piece of the visible POSTGRES_HOST default).
    if var in SECRET_VARS and len(value) >= 8:
        assert value not in text or value in _shown_normally(), (var, value)


def _shown_normally() -> str:
    loaded = load_settings(SECRET_ENV, need_broker=True)
    return repr(loaded) + str(loaded)


@hsettings(max_examples=150, deadline=None, derandomize=True)
@given(var=st.sampled_from(sorted(SECRET_VARS)), junk=st.text(ENV_CHARS, max_size=6))
def test_a_broken_secret_is_never_echoed(var, junk):
    secret = f"S3cretV4lue{junk}"
    try:
        loaded = load_settings({**SECRET_ENV, var: secret}, need_broker=True)
    except ConfigError as exc:
        assert var in _names(exc)
        assert "S3cretV4lue" not in str(exc)
    else:
        assert "S3cretV4lue" not in repr(loaded) + str(loaded)


BROKEN = [("POSTGRES_PORT", "abc"), ("POSTGRES_PORT", "70000"), ("BROKER_TIMEOUT_SECONDS", "inf"),
          ("ALERT_MIN_INTERVAL_MINUTES", "1e400"), ("EXECUTOR_TIME", "25:00"),
          ("PROTECTION_MODE", "yolo"), ("TRAILING_STEPS", "8:0,15"), ("ALPACA_PAPER", "maybe"),
          ("MAX_NOTIONAL_PER_ORDER", "NaN"), ("LOG_FORMAT", "xml"),
          ("ALPACA_BASE_URL", "http://[::1"), ("ALPACA_STREAM_URL", "http://127.0.0.1:8765"),
          ("ALPACA_API_KEY", "PKFUZZKEY4242 pasted"), ("ALPACA_SECRET_KEY", "fuzz-secret-7f7f\nx"),
          ("ALPACA_PAPER", "false")]  # live without ALPACA_LIVE_TRADING_CONFIRMED


@pytest.mark.parametrize("command", ["execute", "monitor-orders", "monitor-positions", "run",
                                     "status", "check"])
@pytest.mark.parametrize(("var", "value"), BROKEN)
def test_the_cli_exits_2_naming_the_variable(command, var, value, monkeypatch, tmp_path, capsys):
    from trading_monitor.cli.dispatch import main

    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, secret in {**SECRET_ENV, var: value}.items():
        monkeypatch.setenv(name, secret)
    assert main([command]) == 2
    out = capsys.readouterr()
    named = LINKED.get(var, set()) if value == "false" else {var}
    assert any(f"{n}:" in out.err for n in named), out.err
    assert "Traceback" not in out.err
    for secret in [*SECRET_ENV.values(), value.strip()]:
        if var in SECRET_VARS or secret in SECRET_ENV.values():
            assert secret not in out.err + out.out


def test_the_console_script_exits_2_naming_the_variable(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **SECRET_ENV,
           "EXECUTOR_TIME": "25:00", "ALPACA_SECRET_KEY": "fuzz-secret-7f7f with space"}
    done = subprocess.run([sys.executable, "-m", "trading_monitor.cli", "execute"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "EXECUTOR_TIME:" in done.stderr and "ALPACA_SECRET_KEY:" in done.stderr
    assert "fuzz-secret-7f7f" not in done.stderr + done.stdout
