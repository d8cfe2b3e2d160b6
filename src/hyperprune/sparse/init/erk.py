"""`ERK`: Erdos-Renyi-Kernel density, proportional to sum(shape) / prod(shape) (Evci et al. 2020).

It counts every dimension (a convolution's kernel sizes too). Every tensor in a recurrent language
model is a 2-D matrix, for which this equals `ER`; it is here so RigL's configuration reads as
published.
"""

from __future__ import annotations

import math

from hyperprune.sparse.registry import register_init


@register_init("ERK")
def erdos_renyi_kernel(shape: tuple[int, ...]) -> float:
    return sum(shape) / math.prod(shape)
