"""Death-rate schedules: `rate(rate0, t, horizon, floor) -> float`, t and horizon in epochs of
training progress (fractional for updates every k steps). A decaying rate goes from rate0 down to
min(floor, rate0) at the horizon and stays there (`sparse.death_rate_floor`)."""
