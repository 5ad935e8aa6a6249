"""Drills: crash points (SIGKILL), fault storms, PostgreSQL restarts, daemon processes."""
