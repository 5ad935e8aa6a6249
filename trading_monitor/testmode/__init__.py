"""--test-mode and the bundled examples: an embedded PostgreSQL and a paper exchange
in place of the real ones, and the demo decisions."""
