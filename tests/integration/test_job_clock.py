"""One clock on the rows (db/clock.py, migration 0014): a job's statements are stamped with
its clock, an edit from outside the jobs (NocoDB, psql) with the database's now(), and an
updated_at the statement sets itself is kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from trading_monitor.clock import fixed_clock
from trading_monitor.db.clock import job_clock
from trading_monitor.db.connection import TradingDB
from trading_monitor.ledger.runs import JobRun

SIMULATED = datetime(2026, 11, 23, 14, 45, tzinfo=timezone.utc)


def _trade(db: TradingDB) -> int:
    return db.insert("trade_journal", {"symbol": "AAPL", "side": "buy", "trade_style": "SWING",
                                       "protection_mode": "staged"})


def _times(db: TradingDB, row_id: int) -> tuple[datetime, datetime]:
    row = db.get_by_id("trade_journal", row_id)
    assert row is not None
    return row["created_at"], row["updated_at"]


def test_a_jobs_rows_carry_its_clock_and_an_outside_edit_the_databases(db, db_params):
    job = JobRun(db, "order_monitor", now=fixed_clock(SIMULATED)).start()
    row_id = _trade(db)
    db.update("trade_journal", row_id, {"notes": "from the job"})
    job.finish("SUCCEEDED")
    assert _times(db, row_id) == (SIMULATED, SIMULATED)
    [run] = db.query("job_run")
    assert (run["created_at"], run["started_at"], run["updated_at"]) == (SIMULATED,) * 3
    assert job_clock.get() is None  # put back with the run

    with TradingDB(config=db_params, application_name="NocoDB") as nocodb:
        nocodb.execute_update("UPDATE trade_journal SET notes = 'by hand' WHERE id = %s",
                              [row_id])
        [now] = nocodb.execute_query("SELECT now() AS now")
    created, updated = _times(db, row_id)
    assert created == SIMULATED and abs(updated - now["now"]) < timedelta(minutes=5)


def test_an_updated_at_the_statement_sets_is_kept(db, db_params):
    later = SIMULATED + timedelta(hours=1)
    with TradingDB(config=db_params, clock=fixed_clock(SIMULATED)) as stamped:
        row_id = _trade(stamped)
        db.execute_update("UPDATE trade_journal SET updated_at = %s WHERE id = %s",
                          [later, row_id])
        assert _times(db, row_id) == (SIMULATED, later)
        stamped.update("trade_journal", row_id, {"notes": "again"})  # a job's edit: its clock
    assert _times(db, row_id)[1] == SIMULATED
