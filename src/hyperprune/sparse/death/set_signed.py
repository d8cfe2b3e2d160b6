"""`SET-signed`: the rule that the Sparse-Momentum and Selfish-RNN code run under the name "SET".

Of the k = ceil(rate * kept) removals in a tensor, ceil(k/2) are the smallest positive weights and
floor(k/2) the MOST NEGATIVE weights, i.e. the negative weights FARTHEST from zero (sorted by signed
value, ascending). This is what `magnitude_and_negativity_prune` (TimDettmers/sparse_learning) and
`magnitude_and_negativity_death` (Shiweiliuiiiiiii/Selfish-RNN) do: both sort the negative weights
ascending and remove the first ones; large negative weights die, negative weights near zero live.

Two details those codes leave loose are fixed here so the count is exact: a kept weight that is
exactly 0 (regrown, not yet trained) counts on the positive side (it is the smallest non-negative
weight), and when one side has too few weights the other side makes up the difference.
"""

from __future__ import annotations

import torch

from hyperprune.sparse.counts import removal_count
from hyperprune.sparse.registry import register_death
from hyperprune.sparse.selection import smallest


def remove_signed(weight: torch.Tensor, mask: torch.Tensor, rate: float) -> torch.Tensor:
    k = removal_count(rate, int(mask.sum()))
    non_negative = mask & (weight >= 0)
    negative = mask & (weight < 0)
    n_pos_available, n_neg_available = int(non_negative.sum()), int(negative.sum())
    n_pos = min((k + 1) // 2, n_pos_available)
    n_neg = min(k - n_pos, n_neg_available)
    n_pos = min(k - n_neg, n_pos_available)
    removed = smallest(weight, non_negative, n_pos) | smallest(weight, negative, n_neg)
    return mask & ~removed


@register_death("SET-signed")
def set_signed(weights, masks, rate, *, state, cfg):
    return {name: remove_signed(weights[name], masks[name], rate) for name in masks}
