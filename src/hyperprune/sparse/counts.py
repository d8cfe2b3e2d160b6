"""Integer bookkeeping that keeps the global nonzero count exact.

Rounding conventions (everything else follows from these three):

- target: `target_nonzeros(sparsity, total) = floor((1 - sparsity) * total + 1/2)`, the nearest
  integer, halves rounded up; the engine holds the masked tensors at exactly this many kept entries.
- removals: a per-tensor death rule removes `removal_count(rate, n) = ceil(rate * n)` of a tensor's
  n kept entries (the sparse_learning / Selfish-RNN convention: any positive rate removes at least
  one), computed on `rate * n` rounded to 9 decimals so 0.3 * 10 is 3, not 4.
- shares: `apportion` splits an integer total over tensors in proportion to weights, never above a
  tensor's capacity (largest-remainder method with water-filling), so shares add up exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def target_nonzeros(sparsity: float, total: int) -> int:
    """Kept entries for a global `sparsity` over `total` entries: the nearest integer, halves up."""
    return min(total, max(0, math.floor((1.0 - sparsity) * total + 0.5)))


def removal_count(rate: float, kept: int) -> int:
    """Entries a death rule removes from `kept` active ones at death rate `rate`: ceil(rate * kept)."""
    return min(kept, max(0, math.ceil(round(rate * kept, 9))))


def apportion(total: int, weights: Mapping[str, float], caps: Mapping[str, int]) -> dict[str, int]:
    """Integer shares of `total`, proportional to `weights`, each at most its cap, summing to `total`.

    Water-filling: a tensor whose proportional quota reaches its cap gets exactly its cap and leaves
    the pool; the rest is re-split over the others (this is RigL's ERK rule for "dense" layers). The
    final split uses the largest-remainder method; equal remainders go to the earlier name. Weights
    that are NaN or negative count as 0; if every remaining weight is 0 the split follows the
    remaining capacity instead.
    """
    names = list(caps)
    if total < 0 or total > sum(caps.values()):
        raise ValueError(f"cannot place {total} entries in capacity {sum(caps.values())}")
    clean = {n: (float(weights[n]) if weights[n] == weights[n] and weights[n] > 0 else 0.0) for n in names}
    share = {n: 0 for n in names}
    free = [n for n in names if caps[n] > 0]
    remaining = total
    while remaining > 0:
        w = {n: clean[n] for n in free}
        if sum(w.values()) <= 0.0:
            w = {n: float(caps[n]) for n in free}
        scale = remaining / sum(w.values())
        quota = {n: w[n] * scale for n in free}
        full = [n for n in free if quota[n] >= caps[n]]
        if full:
            for n in full:
                share[n] = caps[n]
                remaining -= caps[n]
            free = [n for n in free if n not in full]
            continue
        floors = {n: math.floor(quota[n]) for n in free}
        extra = remaining - sum(floors.values())
        order = sorted(free, key=lambda n: (-(quota[n] - floors[n]), names.index(n)))
        for i, n in enumerate(order):
            share[n] = floors[n] + (1 if i < extra else 0)
        remaining = 0
    return share
