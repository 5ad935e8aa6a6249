-- name: heartbeat_upsert
INSERT INTO daemon_heartbeat (host, pid, role, started_at, beat_at, trading_paused,
notify_listener) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (host, pid) DO
UPDATE SET role = EXCLUDED.role, beat_at = EXCLUDED.beat_at,
trading_paused = EXCLUDED.trading_paused,
notify_listener = EXCLUDED.notify_listener

-- name: heartbeat_stopping
UPDATE daemon_heartbeat SET role = 'stopping'
WHERE host = %s AND pid = %s

-- name: kill_switch
SELECT value, reason FROM system_state
WHERE key = 'kill_switch'

-- name: held_symbols
SELECT DISTINCT symbol FROM trade_journal WHERE status = ANY(%s)

-- name: trades_of_symbol
SELECT id FROM trade_journal WHERE symbol = %s AND
status = ANY(%s) ORDER BY id

-- name: supersede
-- The schema allows leader, standby and stopping: a row superseded by a new leader becomes
-- `stopping`, and its trading_paused says by whom (health and status read it as not alive).
UPDATE daemon_heartbeat SET role = 'stopping', updated_at = now(),
       trading_paused = 'superseded: ' || %(by)s || ' took the leader lock at ' || %(at)s
WHERE role = 'leader' AND NOT (host = %(host)s AND pid = %(pid)s)
RETURNING host, pid, beat_at

-- name: stale_leaders
SELECT host, pid, beat_at,
       EXISTS (SELECT 1 FROM daemon_heartbeat f WHERE f.role = 'leader'
               AND f.beat_at >= %(since)s) AS fresh_leader
FROM daemon_heartbeat WHERE role = 'leader' AND beat_at < %(since)s
  AND NOT (host = %(host)s AND pid = %(pid)s)

-- name: leader_try_lock
SELECT pg_try_advisory_lock(%s) AS ok

-- name: leader_lock_held
SELECT 1 AS held FROM pg_locks WHERE locktype = 'advisory'
AND pid = pg_backend_pid() AND classid = %s AND objid = %s
AND objsubid = 1 AND granted

-- name: leader_unlock
SELECT pg_advisory_unlock(%s) AS ok

-- name: notify_self_test
SELECT pg_notify(%s, %s)

-- name: unexecuted_decisions
SELECT id FROM analysis_decision WHERE id = ANY(%s)
AND executed IS NOT TRUE

-- name: listen_wakeups
-- The channel is wakeups.CHANNEL, the one migration 0012's triggers notify.
LISTEN trading_monitor_wakeup
