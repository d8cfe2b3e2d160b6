"""`threshold`: per tensor, remove every kept weight with |w| <= tau, where tau is an absolute
threshold raised or lowered until the count is near the expected ceil(rate * kept).

As in Sparse Momentum's `threshold` mode (Dettmers & Zettlemoyer 2019), which trades the exact
count of `magnitude` for a threshold test. Search: tau starts where the tensor's previous update
left it (the rule's state, saved in checkpoints; first update: 1e-3) and is then bisected between
0 and the largest kept |w|: raised while too few would be removed, lowered while too many, until
|removed - expected| <= cfg.threshold_tolerance * expected or after 60 steps (then the tau whose
count came closest, lower on a tie). The realised count may thus differ from the expected one by
the tolerance; the engine regrows exactly the number removed, so the global count stays exact.
"""

from __future__ import annotations

import torch

from hyperprune.sparse.counts import removal_count
from hyperprune.sparse.registry import register_death

INITIAL_THRESHOLD = 1e-3
MAX_STEPS = 60


def search_threshold(magnitude: torch.Tensor, expected: int, start: float, tolerance: float) -> float:
    """tau with #(magnitude <= tau) within tolerance * expected of `expected` (or the closest found)."""
    low, high = 0.0, float(magnitude.max()) if magnitude.numel() else 0.0
    tau = min(max(start, low), high)
    best_tau, best_miss = tau, None
    for _ in range(MAX_STEPS):
        count = int((magnitude <= tau).sum())
        miss = abs(count - expected)
        if best_miss is None or miss < best_miss or (miss == best_miss and tau < best_tau):
            best_tau, best_miss = tau, miss
        if miss <= tolerance * expected:
            return tau
        if count < expected:
            low = tau
        else:
            high = tau
        if high <= low:
            break
        tau = 0.5 * (low + high)
    return best_tau


@register_death("threshold")
def threshold(weights, masks, rate, *, state, cfg):
    taus = state.setdefault("threshold", {})
    out = {}
    for name, mask in masks.items():
        expected = removal_count(rate, int(mask.sum()))
        if expected == 0:
            out[name] = mask.clone()
            continue
        magnitude = weights[name].detach().abs()[mask].float()
        tau = search_threshold(magnitude, expected, taus.get(name, INITIAL_THRESHOLD),
                               cfg.threshold_tolerance)
        taus[name] = tau
        out[name] = mask & ~(weights[name].detach().abs() <= tau)
    return out
