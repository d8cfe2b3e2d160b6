"""`cosine`: rate_t = f + (rate_0 - f) * (1 + cos(pi * t / T)) / 2 for t <= T, then f;
f = min(floor, rate_0).

Selfish-RNN and the released LSH code (`sparse_rnn_core.py:27-36`, `CosineDecay`) step PyTorch's
`CosineAnnealingLR` once per batch with eta_min = 0.005, whose closed form this is; their T is 100
epochs of batches (train.py:36-37), set `sparse.decay_epochs: 100` to match it in a shorter run.
Past T the scheduler would climb back up the cosine; the released runs never get there, and
this schedule holds the floor. RigL (Evci et al. 2020) decays to 0: its preset sets the floor to 0.
A rate_0 below the floor is never raised to it, so a zero death rate stays zero.
"""

from __future__ import annotations

import math

from hyperprune.sparse.registry import register_schedule


@register_schedule("cosine")
def cosine(rate0: float, t: float, horizon: float, floor: float) -> float:
    floor = min(floor, rate0)
    if horizon <= 0 or t >= horizon:
        return floor
    return floor + (rate0 - floor) * 0.5 * (1.0 + math.cos(math.pi * max(t, 0.0) / horizon))
