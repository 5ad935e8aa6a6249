-- What an order had left to fill after each of its executions (Alpaca's FILL activity
-- `leaves_qty`; on the stream, the order's qty less its filled_qty). The trader's own order
-- that has filled part may fill the rest any second, or already has, between our read of the
-- fill feed and our read of the orders: the shares it still works count as possibly gone when
-- an order of ours that closes shares is sized (engine/protect.lag_safe). NULL where the
-- broker did not say (an older row, a stand-in booked from the order itself).
ALTER TABLE fills ADD COLUMN IF NOT EXISTS leaves_qty NUMERIC;
