"""What a job does first in --test-mode on a fresh embedded set-up, which holds nothing yet:
the order monitor sends the example decisions first; the position monitor sends them and
books their fills. Here, above the jobs, so that no job's entry point imports another job."""

from __future__ import annotations

from trading_monitor.broker.base import Broker
from trading_monitor.order_executor.service import execute_once
from trading_monitor.order_monitor.service import monitor_once
from trading_monitor.testmode.environment import Environment


def trade_the_examples(env: Environment, broker: Broker) -> None:
    """A fresh embedded set-up has nothing to monitor: send the example decisions first."""
    execute_once(env.db_config, broker, env.settings, mode="test", now=env.clock)
    print("test mode: executed the example decisions first")


def trade_and_book(env: Environment, broker: Broker) -> None:
    """A fresh embedded set-up holds nothing: trade the examples and book their fills."""
    trade_the_examples(env, broker)
    monitor_once(env.db_config, broker, env.settings, mode="test", now=env.clock)
