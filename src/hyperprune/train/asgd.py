"""Non-monotonically triggered averaged SGD (NT-ASGD; Merity et al. 2018), with sparse averaging.

Trigger. Plain SGD runs until an epoch's validation loss is worse than the best loss of the epochs
before it, leaving out the last `nonmono` of those (AWD-LSTM, Selfish-RNN and the released LSH
code, train.py:185-195: the test runs before the epoch's loss joins the list).

Averaging. `SparseASGD` is SGD with a constant learning rate and weight decay (torch's ASGD with
t0 = 0 and lambd = 0, as every NT-ASGD recipe builds it) that keeps, per entry, a running average
`ax` of the iterates and the number `step` of steps the entry has been averaged over. With n the
entry's count after a step and p_n its value then:

    n <= 2:  ax = p_n                            (so ax = mean(p_2, ..., p_n): the first iterate
    n >  2:  ax = ax + (p_n - ax) / (n - 1)       after a (re)start is left out, as torch's ASGD does)

A count of 0 restarts the entry's average at its next step. The sparse engine zeroes every
parameter-shaped optimiser state tensor at pruned entries after each step, and at removed and
regrown entries at each mask update, so a regrown weight averages only its own values since it
was regrown. This is the `Sparse_ASGD.py` of Selfish-RNN and the released LSH code (lines 58-79:
per-entry `step`, reset where the mask is 0, `ax` cleared there). torch.optim.ASGD has one count
per tensor, so a zeroed `ax` there averages a regrown weight with the zeros it held while pruned.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator

import torch


def should_switch(val_losses: list[float], nonmono: int) -> bool:
    """Switch to averaging? `val_losses` ends with this epoch's loss; it is compared with the best
    of the earlier ones, less their last `nonmono`, once there are more than `nonmono` earlier ones."""
    earlier = val_losses[:-1]
    return len(earlier) > nonmono and val_losses[-1] > min(earlier[:-nonmono])


class SparseASGD(torch.optim.Optimizer):
    """Averaged SGD whose running average restarts, entry by entry, wherever `state["step"]` is 0.

    State per parameter: `ax` (the average) and `step` (float32, the parameter's shape: steps
    averaged since the entry last restarted; float so the sparse engine zeroes it with the rest
    of the parameter-shaped state; exact up to 2**24 steps).
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0):
        if lr < 0.0 or weight_decay < 0.0:
            raise ValueError(f"SparseASGD needs lr >= 0 and weight_decay >= 0, got {lr}, {weight_decay}")
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError("SparseASGD does not support sparse gradients")
                grad = param.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(param, alpha=group["weight_decay"])
                param.add_(grad, alpha=-group["lr"])
                state = self.state[param]
                count = _entry_counts(state, param)
                count.add_(1.0)
                weight = (count - 1.0).clamp_(min=1.0).reciprocal_()   # 1 for n <= 2, else 1/(n-1)
                # lerp with weight 1 returns the end point exactly: a (re)started average is p_n.
                state["ax"].lerp_(param, weight.to(param.dtype))
        return loss


def _entry_counts(state: dict, param: torch.Tensor) -> torch.Tensor:
    """The per-entry step counts, created on first use. A state written by torch.optim.ASGD (one
    scalar step, checkpoints from before SparseASGD) becomes that count at every entry, which
    continues its average exactly: torch's next weight 1/step is ours, 1/(step + 1 - 1)."""
    if "ax" not in state:
        state["ax"] = torch.zeros_like(param)
        state["step"] = torch.zeros(param.shape, dtype=torch.float32, device=param.device)
    count = state["step"]
    if count.shape != param.shape:
        count = torch.full(param.shape, float(count), dtype=torch.float32, device=param.device)
        state.pop("eta", None)
        state.pop("mu", None)
    elif count.device != param.device:
        count = count.to(param.device)
    state["step"] = count
    return count


def make_asgd(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float) -> SparseASGD:
    return SparseASGD(params, lr=lr, weight_decay=weight_decay)


def use_averages(optimizer: torch.optim.Optimizer) -> list[tuple[torch.nn.Parameter, torch.Tensor]]:
    """Copy each parameter's average `ax` into it; returns (parameter, raw weights) to undo it."""
    saved = []
    with torch.no_grad():
        for group in optimizer.param_groups:
            for param in group["params"]:
                average = optimizer.state.get(param, {}).get("ax")
                if average is not None:
                    saved.append((param, param.detach().clone()))
                    param.copy_(average)
    return saved


@contextlib.contextmanager
def averaged_weights(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Inside the block the parameters hold the averages (when the optimiser keeps any); outside,
    the raw weights."""
    saved = use_averages(optimizer)
    try:
        yield
    finally:
        with torch.no_grad():
            for param, raw in saved:
                param.copy_(raw)
