"""`none`: each tensor regrows what it lost, so per-tensor densities never change (SET, RigL,
Selfish-RNN)."""

from __future__ import annotations

from hyperprune.sparse.registry import register_redistribution


@register_redistribution("none")
def no_redistribution(weights, masks, *, signals, threshold):
    return None
