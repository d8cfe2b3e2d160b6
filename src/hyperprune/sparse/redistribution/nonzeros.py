"""`nonzeros`: regrowth proportional to a tensor's number of kept weights with |w| > tau.

tau is the shared magnitude threshold (the death state's "threshold"): the released LSH code
counts `(|w| > Masking.threshold).sum()` (sparse_rnn_core.py:408-409), a threshold that starts at
1e-3 and that `threshold` death and `global_magnitude` retune; with any other death rule it stays
at its start. Kept weights at or below tau (regrown ones that have barely moved, weights about to
die) do not count.
"""

from __future__ import annotations

from hyperprune.sparse.registry import register_redistribution


@register_redistribution("nonzeros")
def nonzero_redistribution(weights, masks, *, signals, threshold):
    return {name: float((mask & (weights[name].detach().abs() > threshold)).sum())
            for name, mask in masks.items()}
