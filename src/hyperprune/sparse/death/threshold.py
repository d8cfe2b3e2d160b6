"""`threshold`: remove every kept weight with |w| <= tau, one tau for all masked tensors; then move
tau towards the requested count for the NEXT update.

The rule of the released LSH code (FATE4869/hyperpruning `sources/sparse_rnn_core.py`: death at
505-506, tau's update at 317-322, its start `Masking(threshold=0.001)`), which is Selfish-RNN's and
Sparse Momentum's. The death rate does not set this update's count: it sets the expected count
E = sum over tensors of ceil(rate * kept), and after removing R entries

    R < (1 - tol) * E:  tau <- 2 * tau        (too few removed: a larger tau next time)
    R > (1 + tol) * E:  tau <- tau / 2        (too many)
    otherwise:          tau unchanged

with tol = cfg.threshold_tolerance (0.02 there) and tau starting at cfg.threshold_init (1e-3). tau
lives in the engine's death state (`state["threshold"]`, saved in checkpoints), where the
`nonzeros` redistribution reads it too. The paper's E is the sum of the per-tensor regrowth plan,
each share rounded up; ours is the plain sum, smaller by at most one entry per tensor.

Because R is not planned per tensor, the engine shares the regrowth out by the redistribution
scores even under `none`, which then counts every tensor alike (the released code tests
`death_mode == 'threshold'` before `redistribution_mode == 'none'`, sparse_rnn_core.py:329-331).
"""

from __future__ import annotations

from hyperprune.sparse.counts import removal_count
from hyperprune.sparse.registry import register_death


def next_threshold(tau: float, removed: int, expected: int, tolerance: float) -> float:
    """tau for the next update: doubled when too few were removed, halved when too many."""
    if removed < (1.0 - tolerance) * expected:
        return 2.0 * tau
    if removed > (1.0 + tolerance) * expected:
        return 0.5 * tau
    return tau


@register_death("threshold", shares_regrowth=True)
def threshold(weights, masks, rate, *, state, cfg):
    tau = state["threshold"]
    out = {name: mask & ~(weights[name].detach().abs() <= tau) for name, mask in masks.items()}
    removed = sum(int(masks[n].sum()) - int(out[n].sum()) for n in masks)
    expected = sum(removal_count(rate, int(mask.sum())) for mask in masks.values())
    state["threshold"] = next_threshold(tau, removed, expected, cfg.threshold_tolerance)
    return out
