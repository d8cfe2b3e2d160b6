"""Dropout variants for language models that keep one mask across time.

Gal & Ghahramani 2016 (variational / locked dropout) and Merity et al. 2018 (embedding dropout):
one mask per sequence and batch row, so the same units (or words) are dropped at every time step.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def locked_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """x (T, B, N): drop the same units of each batch row at every time step."""
    if not training or p == 0.0:
        return x
    mask = x.new_empty(1, x.size(1), x.size(2)).bernoulli_(1.0 - p) / (1.0 - p)  # (1, B, N)
    return x * mask


def embedding_dropout(weight: Tensor, tokens: Tensor, p: float, training: bool) -> Tensor:
    """Look up tokens (T, B) in weight (V, E), dropping whole words: every occurrence of a word at once."""
    if training and p > 0.0:
        mask = weight.new_empty(weight.size(0), 1).bernoulli_(1.0 - p) / (1.0 - p)  # (V, 1)
        weight = weight * mask
    return F.embedding(tokens, weight)  # (T, B, E)
