"""What the engine records: seeded ids, stream events and fill activities."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from trading_monitor.paper_exchange.orders import Order


class Ids:
    """Seeded UUIDs, so the same seed and the same requests give the same ids."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


@dataclass
class Event:
    event: str
    order: Order  # a copy, frozen at the moment of the event
    at: datetime
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None
    execution_id: str | None = None


@dataclass
class Activity:
    id: str
    at: datetime
    kind: str  # fill / partial_fill
    price: Decimal
    qty: Decimal
    order: Order  # copy after the fill
