"""Training signals some strategies read: the dense gradient and its running average ("momentum").

Both are recorded by `SparseEngine.after_backward()` from the gradient as backward left it, before
any pruned entry is zeroed: growth rules must see the gradient where weights are pruned. Only
the signals the chosen strategies declare (`needs=`) are kept, so a `random` / `none` run pays for
neither. Buffers live on the gradient's device.
"""

from __future__ import annotations

import torch


class Signals:
    """What growth and redistribution rules may read: `generator`, `gradient`, `momentum`."""

    def __init__(self, params: dict[str, torch.nn.Parameter], needs: set[str], momentum_decay: float,
                 generator: torch.Generator):
        self.params = params
        self.needs = set(needs)
        self.momentum_decay = momentum_decay
        self.generator = generator    # CPU: the same seed draws the same masks on any device
        self.gradient: dict[str, torch.Tensor] = {}
        self.momentum: dict[str, torch.Tensor] = {}
        for name, param in params.items():
            if "gradient" in self.needs:
                self.gradient[name] = torch.zeros(param.shape, dtype=param.dtype, device=param.device)
            if "momentum" in self.needs:
                self.momentum[name] = torch.zeros(param.shape, dtype=param.dtype, device=param.device)

    @torch.no_grad()
    def record(self, gradient: bool = True) -> None:
        """Read every masked parameter's current `.grad` (call before masking it). `gradient=False`
        skips the copy of the dense gradient when no update can read it before the next backward."""
        if not self.needs:
            return
        for name, param in self.params.items():
            grad = param.grad
            if grad is None:
                continue
            if grad.is_sparse:
                grad = grad.to_dense()
            if gradient and "gradient" in self.needs:
                self.gradient[name] = _on(self.gradient[name], grad)
                self.gradient[name].copy_(grad)
            if "momentum" in self.needs:
                # SNFS eq. 1: M_t = beta * M_{t-1} + (1 - beta) * g_t
                self.momentum[name] = _on(self.momentum[name], grad)
                self.momentum[name].lerp_(grad, 1.0 - self.momentum_decay)

    def state_dict(self) -> dict:
        # The gradient is rewritten by every backward before it is read, so only momentum is state.
        return {"momentum": {n: m.detach().cpu().clone() for n, m in self.momentum.items()}}

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.get("momentum", {}).items():
            if name in self.momentum:
                self.momentum[name] = value.to(self.params[name].device, self.params[name].dtype).clone()


def _on(buffer: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`buffer` on `like`'s device and dtype (the model may move after the engine was built)."""
    if buffer.device == like.device and buffer.dtype == like.dtype:
        return buffer
    return buffer.to(device=like.device, dtype=like.dtype)
