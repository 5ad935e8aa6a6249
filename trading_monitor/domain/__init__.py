"""Pure domain code: no I/O, no broker, no database. Everything here is unit-testable as is."""
