"""`nonzeros`: regrowth proportional to a tensor's number of kept entries."""

from __future__ import annotations

from hyperprune.sparse.registry import register_redistribution


@register_redistribution("nonzeros")
def nonzero_redistribution(weights, masks, *, signals):
    return {name: float(mask.sum()) for name, mask in masks.items()}
