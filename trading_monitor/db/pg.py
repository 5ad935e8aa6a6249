"""The one door to psycopg2 for code outside db/: its names that other layers need (errors to
catch, `Json` to bind, `sql` to compose identifiers). The import contract lets only
trading_monitor.db import psycopg2 itself (.importlinter)."""

from __future__ import annotations

import psycopg2
from psycopg2 import errors, extensions, sql
from psycopg2.extensions import encrypt_password
from psycopg2.extras import Json

Error = psycopg2.Error
connect = psycopg2.connect

__all__ = ["Error", "Json", "connect", "encrypt_password", "errors", "extensions", "sql"]
