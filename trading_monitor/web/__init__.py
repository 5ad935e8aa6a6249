"""The operator's cockpit on the daemon: a protection-first web page, /healthz and /metrics
(aiohttp, in its own thread; see docs/operations.md)."""
