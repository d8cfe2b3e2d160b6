"""`ER`: Erdos-Renyi density, proportional to (rows + cols) / (rows * cols).

Mocanu et al. 2018 (SET), "epsilon * (n_in + n_out)" connections per layer; tensors whose density
would exceed 1 are kept dense and the others rescaled (Evci et al. 2020, RigL's ERK code). A tensor
of more than two dimensions counts as (shape[0], prod(shape[1:])).
"""

from __future__ import annotations

import math

from hyperprune.sparse.registry import register_init


@register_init("ER")
def erdos_renyi(shape: tuple[int, ...]) -> float:
    rows, cols = shape[0], math.prod(shape[1:])
    return (rows + cols) / (rows * cols)
