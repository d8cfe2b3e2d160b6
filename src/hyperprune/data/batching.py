"""Standard LM batching (pytorch/examples word_language_model): columns are contiguous streams.

batchify: ids (N,) -> (N // B, B); column j is the j-th contiguous chunk of the text, so the hidden
state carried from one batch to the next continues the same stream.
get_batch: rows i .. i+T of that matrix as input, shifted by one as target.
"""

from __future__ import annotations

import torch

from hyperprune.errors import UserError


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N,) -> (N // batch_size, batch_size), dropping the N % batch_size tokens that do not fit."""
    if ids.dim() != 1:
        raise ValueError(f"batchify expects a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    if batch_size < 1 or ids.numel() < batch_size:
        raise UserError(
            f"batch size {batch_size} does not fit {ids.numel()} tokens; allowed: 1 to {ids.numel()} "
            "(use a smaller batch size or more tokens)"
        )
    rows = ids.numel() // batch_size
    return ids[: rows * batch_size].view(batch_size, rows).t().contiguous()   # (rows, B)


def get_batch(source: torch.Tensor, i: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x = source[i : i+T], y = source[i+1 : i+1+T], both (T, B); T = min(bptt, len(source) - 1 - i),
    so the last batch of a pass is shorter."""
    seq_len = min(bptt, source.size(0) - 1 - i)
    if bptt < 1 or i < 0 or seq_len < 1:
        raise ValueError(f"get_batch: no targets for i={i}, bptt={bptt} in a source of {source.size(0)} rows")
    x = source[i: i + seq_len]            # (T, B)
    y = source[i + 1: i + 1 + seq_len]    # (T, B)
    return x, y
