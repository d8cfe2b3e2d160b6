"""`cosine`: rate_t = 0.5 * rate_0 * (1 + cos(pi * t / T)) for t <= T, then 0.

Selfish-RNN (Liu et al. 2021) and RigL (Evci et al. 2020). Selfish-RNN's code steps a
`CosineAnnealingLR` once per batch with a floor of 0.005; this schedule has no floor.
"""

from __future__ import annotations

import math

from hyperprune.sparse.registry import register_schedule


@register_schedule("cosine")
def cosine(rate0: float, t: float, horizon: float) -> float:
    if horizon <= 0 or t >= horizon:
        return 0.0
    return 0.5 * rate0 * (1.0 + math.cos(math.pi * max(t, 0.0) / horizon))
