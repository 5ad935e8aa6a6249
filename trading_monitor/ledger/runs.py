"""Job runs: a run id per job execution, recorded in job_run from start to finish."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from trading_monitor.broker import contract
from trading_monitor.clock import system_clock
from trading_monitor.db.clock import for_one_run, job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.db.pg import Json
from trading_monitor.db.queries import Queries
from trading_monitor.exceptions import DatabaseUnavailable
from trading_monitor.ledger.run_context import current_run_id

QUERIES = Queries(__name__)  # queries.sql beside this module


def new_run_id(job_name: str, now: datetime | None = None) -> str:
    """A label for one job run: the job, when it started and a random tail.

    The tail is 12 hex digits: on a still clock (a paper exchange's, a model's) thousands of
    runs share one stamp, and 6 digits collided with job_run's unique run_id (the model's
    60-minute run found it)."""
    stamp = (now or system_clock()).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{job_name}-{stamp}-{secrets.token_hex(6)}"


@dataclass
class JobRun:
    db: TradingDB
    job_name: str
    mode: str = "normal"
    run_id: str = ""
    row_id: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    now: Callable[[], datetime] | None = None  # the job's clock (simulated in the demo)
    _tokens: tuple[Any, Any] | None = field(default=None, repr=False)

    def _time(self) -> datetime | None:
        """The job's clock; None (the database's time) when it cannot be read: a broker
        clock whose broker is away must not stop the failure from being recorded."""
        if self.now is None:
            return None
        try:
            return self.now()
        except Exception:
            return None

    def start(self) -> JobRun:
        """Until `finish`, this context's log lines carry the run id and its rows the job's
        clock (db/clock.py); both are put back then, so nothing leaks into the next job
        run on this thread (the order stream's, the election's)."""
        self.run_id = self.run_id or new_run_id(self.job_name)
        self._tokens = (current_run_id.set(self.run_id),
                        job_clock.set(for_one_run(self.now) if self.now else None))
        row: dict[str, Any] = {"run_id": self.run_id, "job_name": self.job_name,
                               "mode": self.mode, "host": socket.gethostname(),
                               "pid": os.getpid()}
        at = self._time()
        if at is not None:
            row["started_at"] = at
        try:
            self.row_id = self.db.insert("job_run", row)
        except BaseException:
            self._leave()
            raise
        _write_unrecorded(self.db)  # the database is back: finish what it missed
        return self

    def _leave(self) -> None:
        if self._tokens is None:
            return
        run_token, clock_token = self._tokens
        self._tokens = None
        try:
            job_clock.reset(clock_token)
            current_run_id.reset(run_token)
        except ValueError:  # finished in another context than it started: leave it
            pass

    def finish(self, status: str, *, broker_requests: int | None = None,
               error: str | None = None) -> None:
        params = [status, self._time(), Json(self.summary), error, broker_requests, self.row_id]
        try:
            _write_finish(self.db, params)
        except DatabaseUnavailable:
            # The connection died under the run (a PostgreSQL restart, often the very error
            # being recorded). It reopens on the next use: try once more, and if the server
            # is still away, leave the row to the next run that reaches it, rather than
            # RUNNING for the health check to call a hung job.
            try:
                _write_finish(self.db, params)
            except DatabaseUnavailable:
                with _unrecorded_lock:
                    _unrecorded.append((repr(self.db), params))
                raise
        finally:
            self._leave()


# Finishes that could not be written (the database was away), oldest first, with the
# database they belong to (its repr names host, port and database, never a password).
_unrecorded: list[tuple[str, list[Any]]] = []
_unrecorded_lock = threading.Lock()


def _write_finish(db: TradingDB, params: list[Any]) -> None:
    db.execute_update(QUERIES["runs_finish"], params)


def _write_unrecorded(db: TradingDB) -> None:
    with _unrecorded_lock:
        mine = [entry for entry in _unrecorded if entry[0] == repr(db)]
        _unrecorded[:] = [entry for entry in _unrecorded if entry[0] != repr(db)]
    for n, (_, params) in enumerate(mine):
        try:
            _write_finish(db, params)
        except DatabaseUnavailable:
            with _unrecorded_lock:
                _unrecorded[:0] = mine[n:]
            return


R = TypeVar("R")


def recorded_run(db: TradingDB, job_name: str, mode: str | None, now: Callable[[], datetime],
                 requests_sent: Callable[[], int], work: Callable[[str], R],
                 verdict: Callable[[R], tuple[str, dict[str, Any], int]]) -> R:
    """`work(run_id)` as one job_run row: FAILED with the error (and the requests it made)
    if it raises, else the status, summary and broker requests `verdict` reads off its
    result."""
    job = JobRun(db, job_name, mode or "normal", now=now).start()
    start = requests_sent()
    seen = contract.begin()  # broken broker contracts this run meets, kept for `health`
    try:
        result = work(job.run_id)
    except BaseException as exc:
        _record_contract(db, seen, job)
        job.finish("FAILED", error=f"{type(exc).__name__}: {exc}"[:2000],
                   broker_requests=requests_sent() - start)
        raise
    finally:
        contract.end()
    _record_contract(db, seen, job)
    status, summary, broker_requests = verdict(result)
    job.summary = summary | {"run_id": job.run_id}
    job.finish(status, broker_requests=broker_requests)
    return result


def _record_contract(db: TradingDB, seen: contract.ContractLog, job: JobRun) -> None:
    if db.read_only:  # a dry run writes nothing; the ALERT was logged all the same
        return
    try:
        contract.record(db, seen, job._time())
    except DatabaseUnavailable:
        pass  # the run's own row records the outage


def log_event(db: TradingDB, run_id: str, entity: str, entity_id: int | None, event: str,
              message: str, *, from_status: str | None = None, to_status: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
    db.named("log_event", {
        "run_id": run_id, "entity": entity, "entity_id": entity_id, "event": event,
        "from_status": from_status, "to_status": to_status, "message": message,
        "detail": Json(detail) if detail is not None else None,
    })
