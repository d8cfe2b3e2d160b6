"""Pick exactly k entries of a tensor by score: the one primitive every death and growth rule uses.

Ties go to the lower flat (row-major) index, on every device: the sort is stable.
"""

from __future__ import annotations

import torch


def smallest(values: torch.Tensor, eligible: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask (shape of `values`) of the k eligible entries with the smallest values."""
    flat = values.detach().flatten().float().masked_fill(~eligible.flatten(), float("inf"))
    return _first(torch.sort(flat, stable=True).indices, k, values)


def largest(values: torch.Tensor, eligible: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask (shape of `values`) of the k eligible entries with the largest values."""
    flat = values.detach().flatten().float().masked_fill(~eligible.flatten(), float("-inf"))
    return _first(torch.sort(flat, descending=True, stable=True).indices, k, values)


def _first(order: torch.Tensor, k: int, like: torch.Tensor) -> torch.Tensor:
    chosen = torch.zeros(like.numel(), dtype=torch.bool, device=like.device)
    chosen[order[:k]] = True
    return chosen.view(like.shape)
