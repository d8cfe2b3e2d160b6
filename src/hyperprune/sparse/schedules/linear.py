"""`linear`: rate_t = rate_0 * (1 - t / T) for t <= T, then 0."""

from __future__ import annotations

from hyperprune.sparse.registry import register_schedule


@register_schedule("linear")
def linear(rate0: float, t: float, horizon: float) -> float:
    if horizon <= 0 or t >= horizon:
        return 0.0
    return rate0 * (1.0 - max(t, 0.0) / horizon)
