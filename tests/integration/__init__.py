"""Integration tier: real PostgreSQL and the in-process paper exchange."""
