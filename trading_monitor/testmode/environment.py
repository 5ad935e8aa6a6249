"""Where a job runs: production, or --test-mode (test database and paper exchange).

--test-mode never reaches the production database or a live account: it uses the test
database settings, or an embedded throwaway PostgreSQL; and ALPACA_BASE_URL if it is set
(always as paper), or an in-process paper exchange.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import SecretStr

from trading_monitor.clock import Clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.params import get_postgres_config
from trading_monitor.exceptions import ConfigError
from trading_monitor.settings.config import Settings, has_test_database

# A Friday at 09:45 New York time: the in-process exchange starts in an open market.
DEMO_START = datetime(2026, 11, 20, 14, 45, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Environment:
    db_config: dict[str, Any]
    settings: Settings
    embedded: bool
    clock: Clock | None = None  # the in-process exchange's simulated time, in test mode


@contextmanager
def job_environment(settings: Settings, *, test_mode: bool, seed_examples: bool = False
                    ) -> Iterator[Environment]:
    if not test_mode:
        yield Environment(get_postgres_config(settings=settings), settings, embedded=False)
        return
    with ExitStack() as stack:
        embedded_db = not has_test_database(settings)
        if embedded_db:
            from trading_monitor.db.embedded_pg import EmbeddedPostgres

            server = stack.enter_context(EmbeddedPostgres())
            db_config = server.params
            print("test mode: embedded throwaway PostgreSQL")
        else:
            db_config = get_postgres_config(test_mode=True, settings=settings)
            if _same_database(db_config, get_postgres_config(settings=settings)):
                raise ConfigError(["TEST_DATABASE_URL: is the production database; --test-mode "
                                   "never touches it"])
        with TradingDB(test_mode=True, config=db_config) as db:
            db.create_schema()
            if embedded_db and seed_examples:
                from trading_monitor.testmode.examples import seed_examples as seed

                print(f"test mode: seeded example decisions {seed(db)}")
        broker_settings = settings.model_copy(update={"alpaca_paper": True})
        clock: Clock | None = None
        if not settings.alpaca_base_url:
            from trading_monitor.paper_exchange import PaperExchange

            exchange = stack.enter_context(PaperExchange(seed=1, start=DEMO_START,
                                                         clock_mode="stepped").start())
            from trading_monitor.testmode.examples import DEMO_PRICES

            exchange.control.set_prices(DEMO_PRICES)
            print(f"test mode: in-process paper exchange at {exchange.url}")
            clock = exchange.venue.clock.now
            broker_settings = broker_settings.model_copy(update={
                "alpaca_base_url": exchange.url, "alpaca_data_url": exchange.url,
                "alpaca_stream_url": exchange.stream_url,
                "alpaca_api_key": SecretStr("test-mode-key"),
                "alpaca_secret_key": SecretStr("test-mode-secret")})
        yield Environment(db_config, broker_settings, embedded=embedded_db, clock=clock)


def _same_database(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("host", "port", "dbname")
    return all(str(a.get(k) or "") == str(b.get(k) or "") for k in keys)
