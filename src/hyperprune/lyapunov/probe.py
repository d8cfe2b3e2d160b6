"""Probes: the fixed token windows every network's spectrum is measured on.

The dense network and every pruned candidate must see the same inputs, so a probe is drawn once
(seeded) from the validation split and saved with each result.

A probe holds `warmup + length` tokens per sequence, laid out so both conventions read it:
    standard   warm up the state on tokens[:warmup], measure on tokens[warmup:]   (fresh inputs)
    reference  warm up on tokens[:warmup], then measure on tokens[:length], re-reading the
               warm-up tokens (the LSH paper's code, whose window is the first `length` tokens)

Modes:
    "first"   the paper's probe: the validation split batchified into n_sequences columns
              (hyperprune.data.batchify, as its evaluation loop does with batch size 2) and the
              first rows taken, so sequence b starts at token b * (N // n_sequences); sequence 0
              is the very first tokens of the split.
    "random"  n_sequences windows at start offsets drawn uniformly with a seeded torch.Generator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch
from torch import Tensor

from hyperprune.config import check_choice, check_range
from hyperprune.data import batchify
from hyperprune.errors import UserError

PROBE_MODES = ("first", "random")


@dataclass
class Probe:
    """tokens (warmup + length, B) long; starts: where each sequence begins in the split."""

    tokens: Tensor
    warmup: int
    length: int
    mode: str = "first"
    seed: int = 0
    starts: list[int] = field(default_factory=list)
    split_tokens: int = 0            # size of the split the windows came from
    split_sha1: str = ""             # fingerprint of that split: probes from different data differ

    @property
    def n_sequences(self) -> int:
        return self.tokens.shape[1]

    def to_dict(self) -> dict:
        return {"tokens": self.tokens.t().tolist(), "warmup": self.warmup, "length": self.length,
                "mode": self.mode, "seed": self.seed, "starts": list(self.starts),
                "split_tokens": self.split_tokens, "split_sha1": self.split_sha1}

    @classmethod
    def from_dict(cls, data: dict) -> Probe:
        tokens = torch.tensor(data["tokens"], dtype=torch.long).t().contiguous()  # (T, B)
        return cls(tokens=tokens, warmup=int(data["warmup"]), length=int(data["length"]),
                   mode=data.get("mode", "first"), seed=int(data.get("seed", 0)),
                   starts=list(data.get("starts", [])), split_tokens=int(data.get("split_tokens", 0)),
                   split_sha1=data.get("split_sha1", ""))


def split_fingerprint(ids: Tensor) -> str:
    return hashlib.sha1(ids.to(torch.int64).cpu().numpy().tobytes()).hexdigest()[:16]


def make_probe(valid_ids: Tensor, n_sequences: int = 2, length: int = 35, seed: int = 0, warmup: int = 10,
               mode: str = "first") -> Probe:
    """`n_sequences` windows of `warmup + length` tokens from the 1-D validation ids.

    Defaults are the paper's: 2 sequences, 35 measured tokens, 10 warm-up steps, first tokens.
    """
    if valid_ids.dim() != 1:
        raise ValueError(f"valid_ids must be 1-D token ids, got shape {tuple(valid_ids.shape)}")
    check_choice("probe mode", mode, PROBE_MODES)
    check_range("probe n_sequences", n_sequences, 1)
    check_range("probe length", length, 1)
    check_range("probe warmup", warmup, 0)
    window = warmup + length
    total = valid_ids.numel()
    ids = valid_ids.cpu().long()
    if mode == "first":
        rows = total // n_sequences
        if rows < window:
            raise UserError(f"probe: {n_sequences} sequences of {window} tokens (warmup {warmup} + length "
                            f"{length}) do not fit {total} validation tokens; use fewer or shorter sequences")
        tokens = batchify(ids, n_sequences)[:window].clone()           # (window, B)
        starts = [b * rows for b in range(n_sequences)]
    else:
        if total < window:
            raise UserError(f"probe: windows of {window} tokens do not fit {total} validation tokens")
        generator = torch.Generator().manual_seed(seed)
        starts = torch.randint(0, total - window + 1, (n_sequences,), generator=generator).tolist()
        tokens = torch.stack([ids[s:s + window] for s in starts], dim=1)  # (window, B)
    return Probe(tokens=tokens, warmup=warmup, length=length, mode=mode, seed=seed, starts=starts,
                 split_tokens=total, split_sha1=split_fingerprint(ids))
