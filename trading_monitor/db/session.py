"""What every connection of ours asks of PostgreSQL: a statement timeout, a lock timeout and
TCP keepalives (safety review R13), and no GSSAPI encryption unless asked for.

Without them a query on a half-open TCP connection, or one waiting on a row lock, blocks its
job for ever; the job's advisory lock then stops the other jobs too. `get_postgres_config`
adds these parameters, so every job connection built from the settings carries them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# libpq's keepalives: a silent peer is declared dead after about 30 + 3 x 10 = 60 s, and
# data unacknowledged for 60 s closes the connection (tcp_user_timeout, in milliseconds).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3, "tcp_user_timeout": 60_000}


def connection_defaults() -> dict[str, Any]:
    """KEEPALIVES, and GSSAPI encryption off unless PGGSSENCMODE (or the settings) ask for it.

    libpq's default (`gssencmode=prefer`) looks for Kerberos credentials on every TCP
    connect, through the Kerberos library the psycopg2-binary wheel bundles; that path has
    crashed processes with a segmentation fault inside connect (psycopg issue 1213, and once
    in our CI). A trading-monitor database needs no Kerberos."""
    gss = {} if os.environ.get("PGGSSENCMODE") else {"gssencmode": "disable"}
    return {**KEEPALIVES, **gss}


def session_params(params: Mapping[str, Any], statement_timeout_seconds: float,
                   lock_timeout_seconds: float) -> dict[str, Any]:
    """libpq parameters plus keepalives and the two timeouts (0 switches a timeout off).

    Parameters already given (e.g. in DATABASE_URL) win over these defaults."""
    timeouts = (f"-c statement_timeout={round(statement_timeout_seconds * 1000)} "
                f"-c lock_timeout={round(lock_timeout_seconds * 1000)}")
    merged = {**connection_defaults(), **params}
    merged["options"] = join_options(timeouts, params.get("options"))
    return merged


def join_options(*parts: str | None) -> str:
    """libpq `options` strings joined; a later `-c name=value` wins over an earlier one."""
    return " ".join(p.strip() for p in parts if p and p.strip())
