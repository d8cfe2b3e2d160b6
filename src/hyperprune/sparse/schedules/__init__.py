"""Death-rate schedules: `rate(rate0, t, horizon) -> float`, t and horizon in epochs of training
progress (fractional for updates every k steps). Past the horizon every decaying rate is 0."""
