"""`magnitude`: remove the ceil(rate * kept) kept weights of smallest |w| in each tensor.

Han et al. 2015; the death rule of SNFS (Dettmers & Zettlemoyer 2019) and Selfish-RNN (Liu et al.
2021). Ties go to the lower flat index.
"""

from __future__ import annotations

import torch

from hyperprune.sparse.counts import removal_count
from hyperprune.sparse.registry import register_death
from hyperprune.sparse.selection import smallest


def remove_smallest_magnitude(weight: torch.Tensor, mask: torch.Tensor, rate: float) -> torch.Tensor:
    """The mask after removing the ceil(rate * kept) kept entries closest to zero."""
    k = removal_count(rate, int(mask.sum()))
    return mask & ~smallest(weight.abs(), mask, k)


@register_death("magnitude")
def magnitude(weights, masks, rate, *, state, cfg):
    return {name: remove_smallest_magnitude(weights[name], masks[name], rate) for name in masks}
