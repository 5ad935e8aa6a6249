"""The operator's cockpit, apart from its web page (trading_monitor/web): per-event messages
through an outbox (messages.py renders, outbox.py sends), the dead-man's switch
(heartbeat.py), and the daemon's hooks for both (hooks.py). See docs/operations.md."""
