"""The order monitor: every fill booked once, every position protected, every exit closed.

One cycle: `sync` brings the broker's orders and fills into our rows (a few requests,
whatever the size of the book), `settle` turns each trade's state into actions
(`domain.trade_state.decide`) and applies them through the lifecycle ledger, and
`housekeeping` flattens day trades before the close, renews aging GTC orders and cancels
orphaned protection. The stream listener runs the same settle for one trade on a fill.
"""
