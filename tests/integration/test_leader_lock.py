"""The leader lock's connection under the daemon's threads: the election and every job's
check share it. A check that began on the dropped connection must never close the one the
election has just retaken the lock on (seen as a leadership flap and a second listener)."""

from __future__ import annotations

import threading
import time

from trading_monitor.daemon.leader import LEADER_LOCK_KEY, Leadership


def _holders(db) -> list[int]:
    return [r["pid"] for r in db.execute_query(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = %s AND objid = %s AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
        [LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF])]


def test_checks_on_other_threads_never_drop_a_retaken_lock(db, db_params):
    leadership = Leadership(db_params)
    retaken = 0
    try:
        assert leadership.try_acquire()
        for _ in range(15):
            [old] = _holders(db)
            db.execute_query("SELECT pg_terminate_backend(%s) AS ok", [old])
            start = threading.Barrier(5)

            def check(start: threading.Barrier = start) -> None:
                start.wait()
                for _ in range(30):
                    leadership.still_leader()

            def elect(start: threading.Barrier = start) -> None:
                nonlocal retaken
                start.wait()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # as the election job asked at once
                    if not leadership.is_leader and leadership.try_acquire():
                        retaken += 1
                        return
                    time.sleep(0.001)

            threads = [threading.Thread(target=check) for _ in range(4)]
            threads.append(threading.Thread(target=elect))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            # Once retaken, no check loses it again: one holder, a new connection, ours.
            assert leadership.is_leader and leadership.still_leader()
            assert _holders(db) not in ([], [old]) and len(_holders(db)) == 1
        assert retaken == 15  # exactly one retake per dropped connection: no flap
    finally:
        leadership.release()
    assert _holders(db) == []
