"""Non-monotonically triggered averaged SGD (NT-ASGD; Merity et al. 2018, used by Selfish-RNN).

Plain SGD runs until the validation loss has not improved on the best of all but the last
`nonmono` epochs; from then on `torch.optim.ASGD` (t0=0, lambd=0) keeps a running average `ax`
of the weights, and evaluation uses that average.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import torch


def should_switch(val_losses: list[float], nonmono: int) -> bool:
    """AWD-LSTM's trigger: the newest loss is worse than the best one before the last `nonmono`."""
    return len(val_losses) > nonmono and val_losses[-1] > min(val_losses[:-nonmono])


def make_asgd(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float) -> torch.optim.ASGD:
    return torch.optim.ASGD(params, lr=lr, t0=0, lambd=0.0, weight_decay=weight_decay)


@contextlib.contextmanager
def averaged_weights(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Inside the block the parameters hold ASGD's averages; outside, the raw weights."""
    if not isinstance(optimizer, torch.optim.ASGD):
        yield
        return
    saved = []
    with torch.no_grad():
        for group in optimizer.param_groups:
            for param in group["params"]:
                state = optimizer.state.get(param, {})
                if "ax" in state:
                    saved.append((param, param.detach().clone()))
                    param.copy_(state["ax"])
    try:
        yield
    finally:
        with torch.no_grad():
            for param, raw in saved:
                param.copy_(raw)
