"""`SET`: the textbook SET rule (Mocanu et al. 2018): remove the fraction zeta of weights closest
to zero.

"Closest to zero" is the smallest |w|, so the choice is exactly `magnitude`'s; the name exists so a
SET configuration reads as published. The sign-aware variant that the Sparse-Momentum and
Selfish-RNN code run under the name "SET" is `SET-signed`.
"""

from __future__ import annotations

from hyperprune.sparse.death.magnitude import remove_smallest_magnitude
from hyperprune.sparse.registry import register_death


@register_death("SET")
def set_textbook(weights, masks, rate, *, state, cfg):
    return {name: remove_smallest_magnitude(weights[name], masks[name], rate) for name in masks}
