"""What every connection of ours asks of PostgreSQL: a statement timeout, a lock timeout and
TCP keepalives (safety review R13).

Without them a query on a half-open TCP connection, or one waiting on a row lock, blocks its
job for ever; the job's advisory lock then stops the other jobs too. `get_postgres_config`
adds these parameters, so every job connection built from the settings carries them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# libpq's keepalives: a silent peer is declared dead after about 30 + 3 x 10 = 60 s, and
# data unacknowledged for 60 s closes the connection (tcp_user_timeout, in milliseconds).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3, "tcp_user_timeout": 60_000}


def session_params(params: Mapping[str, Any], statement_timeout_seconds: float,
                   lock_timeout_seconds: float) -> dict[str, Any]:
    """libpq parameters plus keepalives and the two timeouts (0 switches a timeout off).

    Parameters already given (e.g. in DATABASE_URL) win over these defaults."""
    timeouts = (f"-c statement_timeout={round(statement_timeout_seconds * 1000)} "
                f"-c lock_timeout={round(lock_timeout_seconds * 1000)}")
    merged = {**KEEPALIVES, **params}
    merged["options"] = join_options(timeouts, params.get("options"))
    return merged


def join_options(*parts: str | None) -> str:
    """libpq `options` strings joined; a later `-c name=value` wins over an earlier one."""
    return " ".join(p.strip() for p in parts if p and p.strip())
