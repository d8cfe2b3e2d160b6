"""`global_magnitude`: one magnitude threshold across all masked tensors.

Removes the ceil(rate * kept) kept weights of smallest |w| over the union of the masked tensors
(ties: earlier tensor in the model's `sparsifiable()` order, then lower flat index), so tensors with
small weights lose more than their share. The released LSH code (`sparse_rnn_core.py:531-561`, as
sparse_learning's `global_magnitude_prune`) searches for the threshold tau iteratively and stops
when the count is within 2%; this is its exact form. The threshold it leaves in
`state["threshold"]` is the largest |w| removed, so "|w| > tau" is exactly the surviving set; the
`nonzeros` redistribution of the next update counts against it (sparse_rnn_core.py:409).
"""

from __future__ import annotations

import torch

from hyperprune.sparse.counts import removal_count
from hyperprune.sparse.registry import register_death
from hyperprune.sparse.selection import smallest


@register_death("global_magnitude")
def global_magnitude(weights, masks, rate, *, state, cfg):
    names = list(masks)
    device = masks[names[0]].device
    magnitudes = torch.cat([weights[n].detach().abs().flatten().float().to(device) for n in names])
    kept = torch.cat([masks[n].flatten() for n in names])
    removed = smallest(magnitudes, kept, removal_count(rate, int(kept.sum())))
    if bool(removed.any()):
        state["threshold"] = float(magnitudes[removed].max())
    out, start = {}, 0
    for n in names:
        size = masks[n].numel()
        out[n] = masks[n] & ~removed[start:start + size].view(masks[n].shape)
        start += size
    return out
