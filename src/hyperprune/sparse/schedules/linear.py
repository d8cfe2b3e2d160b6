"""`linear`: rate_t = f + (rate_0 - f) * (1 - t / T) for t <= T, then f; f = min(floor, rate_0)."""

from __future__ import annotations

from hyperprune.sparse.registry import register_schedule


@register_schedule("linear")
def linear(rate0: float, t: float, horizon: float, floor: float) -> float:
    floor = min(floor, rate0)
    if horizon <= 0 or t >= horizon:
        return floor
    return floor + (rate0 - floor) * (1.0 - max(t, 0.0) / horizon)
