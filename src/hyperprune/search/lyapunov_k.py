"""`lyapunov.k`, the number of leading exponents measured, checked against the model before a
search starts: at most the state size its convention measures, and all of them for the reference
convention.
"""

from __future__ import annotations

from hyperprune.errors import UserError
from hyperprune.models import build_model, resolve_model_config


def state_size(cfg) -> int:
    """Dimension of the tangent space a convention measures, from a model built on a tiny vocabulary."""
    model = build_model(resolve_model_config(cfg.model), 4)
    state = model.init_state(1)
    kinds = model.state_kinds()
    return sum(s.shape[1] for s, kind in zip(state, kinds)
               if cfg.lyapunov.convention == "standard" or kind == "h")


def check_k(cfg, strategy) -> None:
    """`lyapunov.k` against the model's state, where `strategy` (the search's) compares spectra: a
    one-line UserError when it cannot be measured on this model or convention."""
    k = cfg.lyapunov.k
    if k is None or not strategy.compared_epochs():
        return                      # no spectrum is measured
    n = state_size(cfg)
    if k > n:
        raise UserError(f"lyapunov.k = {k} is beyond the state size {n} of model "
                        f"'{cfg.model.preset or cfg.model.family}' ({cfg.lyapunov.convention} convention); "
                        f"allowed: 1 to {n}")
    if k < n and cfg.lyapunov.convention == "reference":
        # Its identity frame measures the first k units of layer 0, not the leading k exponents.
        raise UserError(f"lyapunov.k = {k} with the reference convention: the leading k need init=random; "
                        f"the paper's reference uses all exponents (leave lyapunov.k out, or use "
                        f"lyapunov.convention=standard)")
