"""The search's probe: the validation windows every spectrum of a search is measured on, and how
many of them a score at a given epoch uses.
"""

from __future__ import annotations

import torch

from hyperprune.lyapunov import Probe, make_probe


def probe_sequences(cfg, epoch: int) -> int:
    """Probe windows for a score at `epoch`: `lyapunov.sequences` at e0 and before, then
    `later_sequences` (the released code's 2 in its first round and 5 in the later ones)."""
    lyap = cfg.lyapunov
    if lyap.later_sequences is not None and epoch > cfg.search.first_epoch:
        return lyap.later_sequences
    return lyap.sequences


def build_probe(cfg, valid_ids: torch.Tensor, sequences: int | None = None) -> Probe:
    """The search's probe on the validation ids, with `sequences` windows (default: the first round's)."""
    lyap = cfg.lyapunov
    return make_probe(valid_ids, n_sequences=sequences or lyap.sequences, length=lyap.length, seed=lyap.seed,
                      warmup=lyap.warmup, mode=lyap.probe)
