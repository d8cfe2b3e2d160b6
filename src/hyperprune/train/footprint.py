"""What one run asks of the device it will train on, computed without that device or any data.

The model is built on PyTorch's `meta` device (shapes only: no memory, no arithmetic), so a laptop
can plan a GPU-sized run in seconds:

- parameters, and forward FLOPs per token in the convention of `sparse.summary` (matrix-vector
  products, 2 per entry). The device multiplies masked weights as dense ones, so this is the dense
  count whatever the sparsity;
- the peak memory of one training step at the configured batch and bptt: weights, gradients and
  optimiser state, the masks, every tensor autograd saves for the backward pass (read from
  `saved_tensors_hooks` during a meta forward, views of one tensor counted once, the weights
  themselves not again), plus the largest of those once more for the backward's transient
  gradient of it. Kernel workspaces (cuDNN), the backward's other transients and the allocator's
  slack are not counted: it is a computed estimate, not a measurement, and runs low (the paper's
  AWD-LSTM-MoS: 7.6 GB computed, 11.0 GB peak resident for its whole CPU dry run);
- the bytes of one checkpoint (`Trainer.state_dict`): the model's state, the optimiser's copies
  (SGD momentum: one; NT-ASGD once averaging: its average and per-entry step count, two), the masks
  (one byte per masked entry), the momentum signal of momentum growth or redistribution, and
  about 24 KB of config, history and random generator states; and the bytes of a kept
  best-validation state (`Trainer.evaluation_payload`, what `search/measurement.py` keeps in
  `best-valid/`): the weights as evaluated, the masks, about 6 KB of config and validation history.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hyperprune.models import build_model
from hyperprune.sparse.summary import sparsity_summary

FLOAT_BYTES = 4
# What a checkpoint holds besides tensors of the model's size: config, history and the random
# generators' states (Python, numpy, torch, the batch lengths'; the sparse engine's one more). Read
# off checkpoints of a tiny model; they do not grow with it.
CHECKPOINT_OVERHEAD_BYTES = 24_000
SPARSE_OVERHEAD_BYTES = 6_000
KEPT_STATE_OVERHEAD_BYTES = 6_000


@dataclass
class Footprint:
    parameters: int
    flops_per_token: int             # forward, dense kernels
    step_memory_bytes: int           # one training step at the configured batch (computed)
    saved_for_backward_bytes: int    # the activations part of it
    checkpoint_bytes: int
    weights_bytes: int

    def training_flops(self, train_tokens: int, valid_tokens: int) -> int:
        """An epoch: forward + backward (about twice the forward) over the training tokens, then a
        forward pass over the validation tokens."""
        return 3 * self.flops_per_token * train_tokens + self.flops_per_token * valid_tokens


def optimizer_copies(train_cfg) -> int:
    """Parameter-sized tensors the optimiser keeps per parameter, at most (see the module docstring)."""
    if train_cfg.optimizer == "nt-asgd":
        return 2
    return 1 if train_cfg.momentum > 0 else 0


def run_footprint(cfg, vocab_size: int) -> Footprint:
    """The footprint of run config `cfg` (resolved: `train.trainer.resolve_run_config`)."""

    with torch.device("meta"):
        model = build_model(cfg.model, vocab_size)
    params = list(model.parameters())
    n_params = sum(p.numel() for p in params)
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    weights_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    sparse = cfg.sparse
    masked = 0
    if sparse.enabled:
        masked = sum(p.numel() for group, p in model.sparsifiable().values() if group in sparse.masked)
    signal = masked * FLOAT_BYTES if "momentum" in (sparse.growth, sparse.redistribution) and sparse.enabled else 0
    saved, largest = _saved_for_backward(model, cfg.train.batch_size, cfg.train.bptt)
    state_bytes = param_bytes * (2 + optimizer_copies(cfg.train)) + masked + signal
    return Footprint(
        parameters=n_params,
        flops_per_token=sparsity_summary(model)["flops_per_token"]["dense"],
        step_memory_bytes=state_bytes + saved + largest,
        saved_for_backward_bytes=saved,
        checkpoint_bytes=(weights_bytes + param_bytes * optimizer_copies(cfg.train) + masked + signal
                          + CHECKPOINT_OVERHEAD_BYTES + (SPARSE_OVERHEAD_BYTES if sparse.enabled else 0)),
        weights_bytes=(weights_bytes + masked + KEPT_STATE_OVERHEAD_BYTES
                       + (SPARSE_OVERHEAD_BYTES if sparse.enabled else 0)),
    )


def _saved_for_backward(model, batch_size: int, bptt: int) -> tuple[int, int]:
    """(total, largest) bytes autograd keeps for the backward of one training step's forward."""
    own = {id(p) for p in model.parameters()}
    roots: dict[int, torch.Tensor] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        root = tensor
        while root._base is not None:         # a view shares its base's memory
            root = root._base
        if id(root) not in own:
            roots[id(root)] = root            # held here, so no id is reused while counting
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        x = torch.zeros(bptt, batch_size, dtype=torch.long, device="meta")          # (T, B)
        logits, _ = model(x, model.init_state(batch_size))                           # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), x.reshape(-1)) + model.penalty()
    del loss
    sizes = [t.untyped_storage().nbytes() for t in roots.values()]
    return sum(sizes), max(sizes, default=0)
