"""`momentum`: regrow the candidates with the largest |momentum| (SNFS, Dettmers & Zettlemoyer 2019).

Momentum is the engine's exponentially smoothed dense gradient, M <- beta * M + (1 - beta) * g
(SNFS eq. 1, beta = cfg.momentum_decay), recorded before the gradient is masked, so it is defined
at pruned entries whatever the optimiser (NT-ASGD has no momentum of its own). Ties: lower index.
"""

from __future__ import annotations

from hyperprune.sparse.registry import register_growth
from hyperprune.sparse.selection import largest


@register_growth("momentum", needs=("momentum",))
def momentum_growth(candidates, count, *, name, signals):
    return largest(signals.momentum[name].abs(), candidates, count)
