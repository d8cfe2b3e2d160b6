"""`random`: regrow uniformly at random among the candidates (SET, Selfish-RNN).

Exactly `count` entries without replacement, drawn with the engine's generator, so the same seed
gives the same masks on any device.
"""

from __future__ import annotations

import torch

from hyperprune.sparse.registry import register_growth


@register_growth("random")
def random_growth(candidates, count, *, name, signals):
    flat = candidates.flatten()
    where = flat.nonzero().squeeze(1)                                   # (n_candidates,)
    pick = torch.randperm(where.numel(), generator=signals.generator)[:count].to(where.device)
    grown = torch.zeros_like(flat)
    grown[where[pick]] = True
    return grown.view(candidates.shape)
