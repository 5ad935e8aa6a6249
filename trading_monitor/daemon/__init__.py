"""The daemon: one APScheduler process owning the executor, the order monitor, the position
monitor and (on the leader) the order stream; a leader lock, a heartbeat, alerts, and a
clean shutdown."""
