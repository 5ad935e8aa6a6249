"""The position monitor: marks every open position to market, reconciles our books with
what the broker holds, trails stops up the staircase, and halts new entries when a risk
limit or a failed reconciliation says so."""
