"""Fixtures of the lifecycle model: one paper exchange per module (reset per example) and a
factory of worlds, each on a fresh database from the session's pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import MARKET_OPEN, DatabasePool, drop_database
from tests.model.harness import World
from trading_monitor.paper_exchange import PaperExchange

WorldFactory = Callable[[], Any]


@pytest.fixture(scope="module")
def model_exchange() -> Iterator[PaperExchange]:
    with PaperExchange(seed=1, start=MARKET_OPEN, clock_mode="stepped",
                       rate_limit_per_min=None).start() as ex:
        yield ex


@pytest.fixture(scope="module")
def new_world(pg_server: dict[str, Any], database_pool: DatabasePool,
              model_exchange: PaperExchange) -> Callable[[], Any]:
    """`with new_world() as w:` a world on a fresh database and a reset exchange."""

    @contextmanager
    def make() -> Iterator[World]:
        params = database_pool.take()
        world = World(params, model_exchange)
        try:
            yield world
        finally:
            world.close()
            drop_database(pg_server, params["dbname"])

    return make
