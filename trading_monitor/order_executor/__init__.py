"""The order executor: carries each unexecuted decision to exactly one terminal state."""
