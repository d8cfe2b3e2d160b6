"""`momentum`: regrowth proportional to a tensor's mean |momentum| over its kept entries
(SNFS, Dettmers & Zettlemoyer 2019; momentum as in `growth/momentum.py`)."""

from __future__ import annotations

from hyperprune.sparse.registry import register_redistribution


@register_redistribution("momentum", needs=("momentum",))
def momentum_redistribution(weights, masks, *, signals, threshold):
    out = {}
    for name, mask in masks.items():
        m = signals.momentum[name]
        out[name] = float(m.abs()[mask].float().mean()) if bool(mask.any()) else 0.0
    return out
