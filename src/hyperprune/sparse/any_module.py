"""The sparse engine on any nn.Module: which of its weights are masked, and in which group.

`SparseEngine` reads `model.sparsifiable()` (name -> (group, weight)), which our RecurrentLMs
define. `ModuleWeights(module)` gives any module that method by looking at what its parameters are:

    nn.Embedding weight                                        "embedding"
    weight_ih_l{k} / weight_hh_l{k} of nn.LSTM / nn.GRU / nn.RNN,
    weight_ih / weight_hh of nn.LSTMCell / ... and our layers   "recurrent"
    every other parameter with 2 or more dimensions            "decoder" (the output layer, projections)

Biases and other 1-D parameters (norms) are never masked. A parameter shared by two modules (tied
embedding and decoder) appears once, under its first name. `weights=` picks the names explicitly.
`SparseEngine` wraps a module in `ModuleWeights` itself, so any module can be given to it (or to
`sparse_engine`, its keyword front, `hyperprune.sparse.engine`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import nn

from hyperprune.config import closest
from hyperprune.errors import UserError

GROUPS = ("embedding", "recurrent", "decoder")
RECURRENT_OWNERS = (nn.RNNBase, nn.RNNCellBase)


def weight_group(owner: nn.Module, local_name: str) -> str:
    """The group of parameter `local_name` of module `owner` (see the module docstring)."""
    if isinstance(owner, nn.Embedding):
        return "embedding"
    recurrent = isinstance(owner, RECURRENT_OWNERS) or hasattr(owner, "state_kinds")  # ours: RecurrentLayer
    if recurrent and local_name.startswith(("weight_ih", "weight_hh")):
        return "recurrent"
    return "decoder"


class ModuleWeights:
    """Any nn.Module seen through `sparsifiable()`, the one method SparseEngine asks a model for."""

    def __init__(self, module: nn.Module, weights: Iterable[str] | Mapping[str, str] | None = None):
        if not isinstance(module, nn.Module):
            raise UserError(f"sparse engine: {type(module).__name__} is not a torch.nn.Module")
        self.module = module
        found: dict[str, tuple[str, nn.Parameter]] = {}
        seen: set[int] = set()
        for owner_name, owner in module.named_modules():
            for local, param in owner.named_parameters(recurse=False):
                if id(param) in seen:
                    continue                     # tied: listed once, under its first name
                seen.add(id(param))
                name = f"{owner_name}.{local}" if owner_name else local
                if param.dim() >= 2:
                    found[name] = (weight_group(owner, local), param)
        if weights is None:
            self.groups = found
        else:
            self.groups = {}
            chosen = weights.items() if isinstance(weights, Mapping) else ((n, None) for n in weights)
            for name, group in chosen:
                if name not in found:
                    raise UserError(f"sparse engine: '{name}' is not a weight matrix of {type(module).__name__}"
                                    f"{closest(name, found)}; allowed: {', '.join(found)}")
                if group is not None and group not in GROUPS:
                    raise UserError(f"sparse engine: group '{group}' for '{name}'{closest(group, GROUPS)}; "
                                    f"allowed: {', '.join(GROUPS)}")
                self.groups[name] = (group or found[name][0], found[name][1])
        if not self.groups:
            raise UserError(f"sparse engine: {type(module).__name__} has no weight matrix to mask "
                            "(parameters with 2 or more dimensions)")

    def sparsifiable(self) -> dict[str, tuple[str, nn.Parameter]]:
        return dict(self.groups)

    def named_parameters(self, *args, **kwargs):
        """The module's own: the FLOPs count asks whether the embedding is also used as the decoder."""
        return self.module.named_parameters(*args, **kwargs)

