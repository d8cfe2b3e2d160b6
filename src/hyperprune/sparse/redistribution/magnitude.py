"""`magnitude`: regrowth proportional to a tensor's mean |w| over its kept entries
(sparse_learning's `magnitude_redistribution`)."""

from __future__ import annotations

from hyperprune.sparse.registry import register_redistribution


@register_redistribution("magnitude")
def magnitude_redistribution(weights, masks, *, signals, threshold):
    return {name: _mean_abs(weights[name], mask) for name, mask in masks.items()}


def _mean_abs(values, mask) -> float:
    return float(values.detach().abs()[mask].float().mean()) if bool(mask.any()) else 0.0
