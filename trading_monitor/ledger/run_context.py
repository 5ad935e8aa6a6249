"""The run id of the job running in this thread (or task): log lines and alerts carry it.

On its own so that alerts can read it without importing `runs`, which records the broker's
contract log and so imports the broker (whose contract check raises alerts): a cycle.
"""

from __future__ import annotations

import contextvars

current_run_id: contextvars.ContextVar[str] = contextvars.ContextVar("run_id", default="-")
