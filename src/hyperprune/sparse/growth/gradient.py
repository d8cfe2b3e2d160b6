"""`gradient`: regrow the candidates with the largest |dense gradient| (RigL, Evci et al. 2020).

The gradient is that of the latest backward pass before the update, recorded by
`SparseEngine.after_backward()` before clipping (which scales a tensor's entries alike, so the
ranking is the same as on the clipped gradient the released code reads) and before any masking.
Ties: lower flat index.
"""

from __future__ import annotations

from hyperprune.sparse.registry import register_growth
from hyperprune.sparse.selection import largest


@register_growth("gradient", needs=("gradient",))
def gradient_growth(candidates, count, *, name, signals):
    return largest(signals.gradient[name].abs(), candidates, count)
